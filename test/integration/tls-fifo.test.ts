/**
 * A FIFO as ssl_password_file (the passphrase written into it once, by whoever starts tsproxy):
 * read at start, never opened again. A reload (file change or HUP) reuses the passphrase; a
 * reload that names a FIFO not read at start is refused instead of blocking the event loop.
 * Before, the reload opened the FIFO again and the whole process froze.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, onTestFinished, test } from 'vitest';
import { logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { makeCert } from '../helpers/tls-certs.js';

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

function tlsGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false });
    let data = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
    s.setEncoding('utf8');
    s.on('data', (d) => (data += d));
    s.on('error', (e) => resolve(`error ${e.message}`));
    s.on('close', () => resolve(data.slice(data.indexOf('\r\n\r\n') + 4)));
  });
}

/** A FIFO with one writer that writes `text` once (a shell, as an operator would), killed after the test. */
function fifoWrittenOnce(file: string, text: string): void {
  execFileSync('mkfifo', [file]);
  const writer = spawn('sh', ['-c', 'printf "%s\\n" "$1" > "$2"', 'sh', text, file], { stdio: 'ignore' });
  onTestFinished(() => {
    if (writer.exitCode === null) writer.kill('SIGKILL');
  });
}

describe('a FIFO as ssl_password_file', () => {
  test('is read once at start; reloads keep serving and reuse the passphrase', async () => {
    const dir = tempDir();
    const a = makeCert('a.test');
    fs.writeFileSync(path.join(dir, 'a.crt'), a.cert);
    execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:right', '-out', path.join(dir, 'enc.key')], { input: a.key });
    fifoWrittenOnce(path.join(dir, 'pw'), 'right');
    const conf = path.join(dir, 'main.conf');
    const write = (body: string, pw = 'pw') => fs.writeFileSync(conf,
      `error_log stderr info;\npid off;\nhttp { server { listen 127.0.0.1:0 ssl; server_name a.test;\n` +
      `  ssl_certificate a.crt; ssl_certificate_key enc.key; ssl_password_file ${pw};\n` +
      `  location / { return 200 "${body}"; } } }\n`);
    write('one');
    const run = startCli(['-p', dir, '-c', conf]);
    await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 20_000 }).toBe(1);
    const port = Number(String(withMsg(run, 'listening')[0]!.address).split(':')[1]);
    expect(await tlsGet(port)).toBe('one');

    // A changed config reloads (the watcher) with the passphrase read at start.
    write('two');
    await expect.poll(() => tlsGet(port), { timeout: 20_000, interval: 100 }).toBe('two');
    expect(withMsg(run, 'configuration reloaded')).toHaveLength(1);

    // HUP: loads again (the FIFO is not opened), nothing changed, still answering.
    run.child.kill('SIGHUP');
    await expect.poll(() => withMsg(run, 'configuration unchanged, nothing to reload').length, { timeout: 20_000 }).toBe(1);
    expect(await tlsGet(port)).toBe('two');

    // A FIFO first named by a reload is refused (opening it would block the event loop).
    execFileSync('mkfifo', [path.join(dir, 'pw2')]);
    write('three', 'pw2');
    await expect.poll(() => withMsg(run, 'reload failed, keeping the running configuration').length, { timeout: 20_000 }).toBe(1);
    expect(run.output()).toContain(`"${path.join(dir, 'pw2')}" is not a regular file and was not read at start`);
    expect(await tlsGet(port)).toBe('two');

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  });
});
