/**
 * The README's "Scaling out with Redis" config is real: `tsproxy -t` accepts it without a Redis to
 * talk to (-t checks the syntax and never connects), and `-T` shows it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, onTestFinished, test } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';

test('the README example passes -t with no Redis reachable, and -T shows it', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Scaling out with Redis'));
  const config = /```nginx\n([\s\S]*?)```/.exec(section)![1]!;
  expect(config).toContain('redis_peers main key=frontend:$host;');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-redis-readme-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'scale.conf');
  fs.writeFileSync(file, config);
  const t = await runCli(['-t', '-c', file]);
  expect(t.stderr).toContain('test is successful');
  expect(t.code).toBe(0);
  const T = await runCli(['-T', '-c', file]);
  expect(T.code).toBe(0);
  expect(T.stdout).toContain('server 10.0.0.5:6379;');
}, 60_000);
