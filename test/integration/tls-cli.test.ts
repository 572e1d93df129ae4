/**
 * TLS through the real command line: `-t` names a key that does not match its certificate, and
 * with worker_processes 2 both workers terminate TLS (the PEMs travel in the config over IPC)
 * and a changed certificate file is picked up by the file watcher's reload.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, test } from 'vitest';
import { logRecords, runCli, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { makeCert, writeCert } from '../helpers/tls-certs.js';

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

/** One TLS request on a new connection: "<CN> <body>" or "error ...". */
function tlsGet(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false });
    let cn = '';
    let data = '';
    s.on('secureConnect', () => {
      cn = (s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN ?? '';
      s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n');
    });
    s.setEncoding('utf8');
    s.on('data', (d) => (data += d));
    s.on('error', (e) => resolve(`error ${e.message}`));
    s.on('close', () => resolve(`${cn} ${data.slice(data.indexOf('\r\n\r\n') + 4)}`));
  });
}

describe('TLS on the command line', () => {
  test('-t fails on a key that does not match its certificate and names both files', async () => {
    const dir = tempDir();
    const a = writeCert(dir, 'a', makeCert('a.test'));
    const b = writeCert(dir, 'b', makeCert('b.test'));
    fs.writeFileSync(path.join(dir, 'main.conf'),
      `http { server { listen 127.0.0.1:0 ssl; ssl_certificate ${a.cert}; ssl_certificate_key ${b.key}; } }\n`);
    const r = await runCli(['-t', '-c', path.join(dir, 'main.conf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the key "${b.key}" does not match the certificate "${a.cert}"`);
    expect(r.stderr).toContain('main.conf:1');
  });

  test('worker_processes 2 terminate TLS; a changed certificate file reloads every worker', async () => {
    const dir = tempDir();
    const f = writeCert(dir, 'site', makeCert('a.test'));
    fs.writeFileSync(path.join(dir, 'main.conf'),
      `error_log stderr info;\npid off;\nworker_processes 2;\n` +
      `http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};\n` +
      `  location / { return 200 "$pid $https"; } } }\n`);
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 30_000 }).toBe(1);
    const port = Number(String(withMsg(run, 'listening')[0]!.address).split(':')[1]);
    const pids = new Set<string>();
    await expect.poll(async () => {
      for (const r of await Promise.all(Array.from({ length: 10 }, () => tlsGet(port)))) {
        const m = /^a\.test (\d+) on$/.exec(r);
        if (m) pids.add(m[1]!);
      }
      return pids.size;
    }, { timeout: 20_000, interval: 10 }).toBe(2);

    // rewrite cert and key (write the key last: the watcher may fire between the two writes,
    // a reload that sees a mismatched pair fails and the next change reloads again)
    const next = makeCert('new.a.test');
    fs.writeFileSync(f.cert, next.cert);
    fs.writeFileSync(f.key, next.key);
    await expect.poll(async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, () => tlsGet(port)));
      return answers.every((r) => r.startsWith('new.a.test '));
    }, { timeout: 20_000, interval: 50 }).toBe(true);

    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  });
});
