/**
 * The compiled CLI (what `npm start` and users run) loads Chevrotain only when a config has an
 * error, by require() of an ES module (src/config/parse.ts). Tests otherwise run the TypeScript
 * sources, where it is imported up front, so this compiles src/ and runs the result.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { ROOT, tempDir } from '../helpers/cli.js';

const run = promisify(execFile);

test('the compiled CLI loads Chevrotain only for a config with an error', async () => {
  // Compiled into a directory whose node_modules links every installed package but Chevrotain:
  // a good config must load without it; then, with it linked, a broken one must be reported.
  const out = tempDir('tsproxy-compiled-');
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(out, 'package.json'));
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(out, 'dist'), '--sourceMap', 'false'], { cwd: ROOT });
  const modules = path.join(out, 'node_modules');
  fs.mkdirSync(modules);
  const isChevrotain = (name: string) => name === 'chevrotain' || name === '@chevrotain';
  for (const name of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (!isChevrotain(name) && !name.startsWith('.')) fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  const cli = path.join(out, 'dist/cli.js');
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'bad.conf'), 'http { server { listen 127.0.0.1:8080; location / { return 200; } }\n');
  fs.writeFileSync(path.join(dir, 'good.conf'), 'http { server { listen 127.0.0.1:8080; location / { return 200; } } }\n');

  const good = await run(process.execPath, [cli, '-t', '-c', path.join(dir, 'good.conf')]);
  expect(good.stderr).toContain('test is successful');

  for (const name of ['chevrotain', '@chevrotain']) fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  const bad = await run(process.execPath, [cli, '-t', '-c', path.join(dir, 'bad.conf')]).then(() => null, (e: { code: number; stderr: string }) => e);
  expect(bad?.code).toBe(1);
  expect(bad?.stderr).toContain(`tsproxy: [emerg] unexpected end of file, expecting "}" in ${path.join(dir, 'bad.conf')}:1:68`);
  expect(bad?.stderr).not.toMatch(/ExperimentalWarning/);
}, 120_000);
