import { expect, test, onTestFinished } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, ROOT } from '../helpers/cli.js';

/** The README's `-t` example is real output: run its config and compare. */
test('the README broken-config example prints what the README shows', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('A broken config is reported all at once'));
  const config = /```nginx\n([\s\S]*?)```/.exec(section)![1]!;
  const shown = /```\n\$ tsproxy -t -c \/srv\/broken\.conf\n([\s\S]*?)```/.exec(section)![1]!;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-readme-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'broken.conf');
  fs.writeFileSync(file, config);
  const r = await runCli(['-t', '-c', file]);
  expect(r.code).toBe(1);
  expect(r.stderr.replaceAll(file, '/srv/broken.conf')).toBe(shown);
}, 60_000);
