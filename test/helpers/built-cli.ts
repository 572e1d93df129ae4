/**
 * Vitest global setup: the source, transpiled once per test run, for the tests that run the real
 * command line as a child process (helpers/cli.ts).
 *
 * Started through tsx, each tsproxy process (and each of its worker processes) transpiled and
 * loaded ~200 modules through loader hooks: ~1.6 s of CPU per start against ~0.15 s for plain
 * JavaScript, and the suite starts hundreds. esbuild (the same transpiler tsx uses, so the same
 * semantics) writes src/ as JavaScript into `.test-build-<pid>/dist/` at the project root, with a
 * copy of package.json beside it: the published package's layout, so `../package.json`, the
 * node_modules lookup and the "src/ or dist/" test of script-errors.ts work as they do for a real
 * install; cli.js is then replaced by the bundle `npm run build` makes (build/bundle.mjs), so the
 * tests run the command line as it ships. The run removes it at the end. In watch mode a change
 * under src/ reaches the child processes at the next start of vitest, not at the next rerun.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { bundleCli } from '../../build/bundle.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');

export default async function setup(): Promise<() => void> {
  const top = path.join(ROOT, `.test-build-${process.pid}`);
  const out = path.join(top, 'dist');
  const src = path.join(ROOT, 'src');
  const entryPoints = (fs.readdirSync(src, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(src, f));
  await build({
    entryPoints,
    outdir: out,
    outbase: src,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: path.join(ROOT, 'tsconfig.json'),
    logLevel: 'error',
  });
  // cli.js as `npm run build` ships it: bundled, its chunks beside it (build/bundle.mjs).
  await bundleCli(out, { sourcemap: false });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(top, 'package.json'));
  process.env.TSPROXY_TEST_CLI = path.join(out, 'cli.js');
  return () => fs.rmSync(top, { recursive: true, force: true });
}
