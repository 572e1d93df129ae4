/**
 * The README's "HTTPS and HTTP/2" section is real: its openssl command makes the certificate,
 * examples/https.conf runs (ports moved to free ones), and each shown curl prints what the README
 * shows (Debian curl; .ci/run installs it).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { ROOT, freePort, logRecords, startCli, tempDir } from '../helpers/cli.js';

const run = promisify(execFile);

test('the README HTTPS example works as shown', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## HTTPS and HTTP/2'));
  const [setup, session] = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const dir = tempDir();
  // The openssl command as written (continuation lines joined), writing into the temp copy.
  const opensslLine = setup!.split('\nnpm run build')[0]!.replace(/\\\n\s*/g, '').replaceAll('examples/', `${dir}/`);
  execFileSync('bash', ['-c', opensslLine], { stdio: 'ignore' });

  const ports = { 8088: await freePort(), 8443: await freePort(), 8089: await freePort() };
  let conf = fs.readFileSync(path.join(ROOT, 'examples/https.conf'), 'utf8');
  for (const [from, to] of Object.entries(ports)) conf = conf.replaceAll(`:${from}`, `:${to}`);
  fs.writeFileSync(path.join(dir, 'https.conf'), conf);
  const proxy = startCli(['-c', path.join(dir, 'https.conf')]);
  await expect.poll(() => logRecords(proxy).some((r) => r['msg'] === 'tsproxy started'), { timeout: 20_000 }).toBe(true);

  // Each "$ curl ..." line of the README and the output under it.
  const shown = [...session!.matchAll(/^\$ (curl .*)\n([\s\S]*?)(?=^\$ |$(?![\s\S]))/gm)];
  expect(shown).toHaveLength(3);
  for (const [, command, expected] of shown) {
    let cmd = command!.replaceAll('examples/', `${dir}/`);
    for (const [from, to] of Object.entries(ports)) cmd = cmd.replaceAll(`:${from}`, `:${to}`);
    const { stdout } = await run('bash', ['-c', cmd], { timeout: 10_000 });
    let want = expected!;
    for (const [from, to] of Object.entries(ports)) want = want.replaceAll(`:${from}`, `:${to}`);
    expect(stdout.replace(/\r\n/g, '\n'), cmd).toBe(want);
  }
}, 60_000);
