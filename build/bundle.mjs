/**
 * `npm run build`, second step: the command line as a few bundled files instead of ~250 ES modules.
 * Node resolves, reads, compiles and links every module of the import graph one by one; `tsproxy -t`
 * imports ~65 of them, and that was ~60 ms of its CPU time (HACKING.md, config, "-t speed").
 *
 * esbuild bundles the sources (the transpiler the test suite's build uses too) with code
 * splitting: what a dynamic import (the serving runtime, log.js) brings in stays in chunks loaded
 * when used, so `-t` still loads only the config code. Every output file is in dist/ itself,
 * because three modules find a file next to their own URL and must find it from a chunk too:
 * runtime/threaded-load.ts starts ./load-thread.js, config/parse.ts require()s
 * ./chevrotain-parse.js, version.ts reads ../package.json. Those two are entry points here, so
 * they share the chunks (one copy of each module per thread, as unbundled).
 *
 * tsc's per-module output stays beside the bundle (dist/config/load.js and the like: the benches
 * import it); the command line (dist/cli.js, what `npm start`, `bin` and workers run) is the
 * bundle. test/helpers/built-cli.ts bundles the test build the same way.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Bundle src/cli.ts (and the two entries found by path) into `outdir`, replacing an earlier bundle's chunks. */
export async function bundleCli(outdir, { sourcemap = true } = {}) {
  fs.mkdirSync(outdir, { recursive: true });
  for (const f of fs.readdirSync(outdir)) if (/^chunk-\w+\.js(\.map)?$/.test(f)) fs.rmSync(path.join(outdir, f));
  await build({
    entryPoints: {
      cli: path.join(ROOT, 'src/cli.ts'),
      'load-thread': path.join(ROOT, 'src/runtime/load-thread.ts'),
      'chevrotain-parse': path.join(ROOT, 'src/config/chevrotain-parse.ts'),
    },
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap,
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleCli(path.join(ROOT, 'dist'));
