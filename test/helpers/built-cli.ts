/**
 * Vitest global setup: the source, transpiled once per test run, for the tests that run the real
 * command line as a child process (helpers/cli.ts).
 *
 * Started through tsx, each tsproxy process (and each of its worker processes) transpiled and
 * loaded ~200 modules through loader hooks: ~1.6 s of CPU per start against ~0.15 s for plain
 * JavaScript, and the suite starts hundreds. esbuild (the same transpiler tsx uses, so the same
 * semantics) writes src/ as JavaScript into `.test-dist-<pid>/` at the project root. That depth
 * is dist/'s, so `../package.json` and the node_modules lookup work as they do for the published
 * build. The run removes it at the end. In watch mode a change under src/ reaches the child
 * processes at the next start of vitest, not at the next rerun.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '../..');

export default async function setup(): Promise<() => void> {
  const out = path.join(ROOT, `.test-dist-${process.pid}`);
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
  process.env.TSPROXY_TEST_CLI = path.join(out, 'cli.js');
  return () => fs.rmSync(out, { recursive: true, force: true });
}
