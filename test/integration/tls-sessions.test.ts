/**
 * TLS session resumption as nginx 1.22 does it (each case checked against nginx with openssl
 * s_client -sess_out/-sess_in and `$ssl_session_reused`, worker_processes 2):
 * - ssl_session_tickets off + ssl_session_cache shared:NAME:SIZE: resumed (TLS 1.2 by session id,
 *   TLS 1.3 by stateful ticket), also by another worker; `none` (the default): never resumed;
 * - ssl_session_ticket_key: the first key encrypts, every listed key decrypts, a reload rotates;
 * - ssl_reject_handshake on: a fatal unrecognized_name alert (15 03 03 00 02 02 70), then close.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { logRecords, runCli, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { configFrom, startProxy } from '../helpers/proxy.js';
import { makeCert, writeCert } from '../helpers/tls-certs.js';

interface Answer {
  readonly body: string;
  readonly session: Buffer | null;
  readonly error: string | null;
}

/** One TLS connection (optionally resuming `session`), one GET; the body and the session it got. */
function get(port: number, o: { version?: tls.SecureVersion; session?: Buffer | null; servername?: string } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    let session: Buffer | null = null;
    let body = '';
    const s = tls.connect({
      host: '127.0.0.1', port, servername: o.servername ?? 'a.test', rejectUnauthorized: false,
      ...(o.version ? { minVersion: o.version, maxVersion: o.version } : {}), ...(o.session ? { session: o.session } : {}),
    });
    s.on('session', (b) => (session = b));
    s.on('error', (e) => resolve({ body: '', session: null, error: e.message }));
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n'));
    s.on('data', (d) => (body += d.toString('latin1')));
    s.on('end', () => resolve({ body: body.slice(body.indexOf('\r\n\r\n') + 4), session, error: null }));
  });
}

function server(dir: string, extra: string, body = '$ssl_session_reused'): string {
  const f = writeCert(dir, 'a', makeCert('a.test'));
  return `http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
    ssl_protocols TLSv1.2 TLSv1.3; ${extra} location / { return 200 "${body}"; } } }`;
}

describe('ssl_session_cache', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`resumes ${version} sessions without tickets from a shared cache, not with "none"`, async () => {
      const dir = tempDir();
      const cached = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache shared:SSL:1m;'));
      const first = await get(cached.port(), { version });
      expect(first.body).toBe('.');
      expect(first.session).not.toBeNull();
      expect((await get(cached.port(), { version, session: first.session })).body).toBe('r');
      expect((await get(cached.port(), { version, session: first.session })).body).toBe('r');

      const none = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache none;'));
      const n1 = await get(none.port(), { version });
      expect((await get(none.port(), { version, session: n1.session })).body).toBe('.');
      const unset = await startProxy(server(dir, 'ssl_session_tickets off;'));
      const u1 = await get(unset.port(), { version });
      expect((await get(unset.port(), { version, session: u1.session })).body).toBe('.');
    });
  }

  it('builtin caches in this process; off stores nothing', async () => {
    const dir = tempDir();
    const builtin = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache builtin:1000;'));
    const b1 = await get(builtin.port(), { version: 'TLSv1.2' });
    expect((await get(builtin.port(), { version: 'TLSv1.2', session: b1.session })).body).toBe('r');
    const off = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache off;'));
    const o1 = await get(off.port(), { version: 'TLSv1.2' });
    expect((await get(off.port(), { version: 'TLSv1.2', session: o1.session })).body).toBe('.');
  });

  it('a session expires after ssl_session_timeout', async () => {
    const dir = tempDir();
    const proxy = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache shared:T:1m; ssl_session_timeout 1s;'));
    const first = await get(proxy.port(), { version: 'TLSv1.2' });
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: first.session })).body).toBe('r');
    await expect.poll(async () => (await get(proxy.port(), { version: 'TLSv1.2', session: first.session })).body, { timeout: 5000, interval: 200 }).toBe('.');
  });

  it('a full cache drops its oldest sessions (its size is respected)', async () => {
    const dir = tempDir();
    // 32k is nginx's smallest zone: a few hundred sessions of ~200 bytes each.
    const proxy = await startProxy(server(dir, 'ssl_session_tickets off; ssl_session_cache shared:SMALL:32k;'));
    const oldest = await get(proxy.port(), { version: 'TLSv1.2' });
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: oldest.session })).body).toBe('r');
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 10 }, () => get(proxy.port(), { version: 'TLSv1.2' })));
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: oldest.session })).body).toBe('.');
  });

  it('-t: nginx\'s messages for a bad cache', async () => {
    const dir = tempDir();
    for (const [value, message] of [
      ['shared:S:1k', 'session cache "shared:S:1k" is too small'],
      ['shared:S', 'invalid session cache "shared:S"'],
      ['builtin:abc', 'invalid session cache "builtin:abc"'],
      ['foo', 'invalid session cache "foo"'],
    ]) {
      fs.writeFileSync(path.join(dir, 'bad.conf'), server(dir, `ssl_session_cache ${value};`));
      const r = await runCli(['-t', '-c', path.join(dir, 'bad.conf')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
    }
  });
});

const withMsg = (run: RunningCli, msg: string) => logRecords(run).filter((r) => r.msg === msg);

/** tsproxy with worker_processes 2 on `extra`; its port. */
async function twoWorkers(extra: string): Promise<{ run: RunningCli; port: number }> {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'main.conf'), `error_log stderr info;\npid off;\nworker_processes 2;\n` + server(dir, extra, '$ssl_session_reused $pid'));
  const run = startCli(['-c', path.join(dir, 'main.conf')]);
  await expect.poll(() => withMsg(run, 'tsproxy started').length, { timeout: 30_000 }).toBe(1);
  return { run, port: Number(String(withMsg(run, 'listening')[0]!.address).split(':')[1]) };
}

/** Resumes the first session of `version` until both workers answered; each answer must say resumed. */
async function resumedByBothWorkers(port: number, version: tls.SecureVersion): Promise<void> {
  const first = await get(port, { version });
  const pids = new Set<string>();
  await expect.poll(async () => {
    const r = await get(port, { version, session: first.session });
    expect(r.body).toMatch(/^r \d+$/);
    pids.add(r.body.split(' ')[1]!);
    return pids.size;
  }, { timeout: 20_000, interval: 10 }).toBe(2);
}

describe('ssl_session_cache shared across worker processes', () => {
  it('a session made by one worker resumes on the other (TLS 1.2 and 1.3, tickets off)', async () => {
    const { run, port } = await twoWorkers('ssl_session_tickets off; ssl_session_cache shared:SSL:1m;');
    await resumedByBothWorkers(port, 'TLSv1.2');
    await resumedByBothWorkers(port, 'TLSv1.3');
    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  });

  it('tickets without ssl_session_ticket_key resume on every worker', async () => {
    const { run, port } = await twoWorkers('');
    await resumedByBothWorkers(port, 'TLSv1.2');
    await resumedByBothWorkers(port, 'TLSv1.3');
    run.child.kill('SIGQUIT');
    expect(await run.exited).toBe(0);
  });
});

describe('ssl_session_ticket_key', () => {
  it('the first key encrypts, every key decrypts; a reload rotates them', async () => {
    const dir = tempDir();
    const keyA = path.join(dir, 'ticket48.key');
    const keyB = path.join(dir, 'ticket80.key');
    fs.writeFileSync(keyA, randomBytes(48));
    fs.writeFileSync(keyB, randomBytes(80));
    const conf = (keys: string[]) => server(dir, keys.map((k) => `ssl_session_ticket_key ${k};`).join(' '));
    const proxy = await startProxy(conf([keyA]));
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      const ticketA = (await get(proxy.port(), { version })).session;
      expect((await get(proxy.port(), { version, session: ticketA })).body).toBe('r');
      // Tickets made by another key (another process with its own file) do not resume.
      const other = await startProxy(conf([keyB]));
      expect((await get(other.port(), { version, session: ticketA })).body).toBe('.');
    }

    await proxy.runtime.reload(configFrom(conf([keyB, keyA])));
    const ticketA = (await startProxy(conf([keyA])).then((p) => get(p.port(), { version: 'TLSv1.2' }))).session;
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: ticketA })).body).toBe('r');
    expect((await get(proxy.port(), { version: 'TLSv1.3', session: (await startProxy(conf([keyA])).then((p) => get(p.port(), { version: 'TLSv1.3' }))).session })).body).toBe('r');
    const ticketB = (await get(proxy.port(), { version: 'TLSv1.2' })).session;
    const onlyB = await startProxy(conf([keyB]));
    expect((await get(onlyB.port(), { version: 'TLSv1.2', session: ticketB })).body).toBe('r');

    await proxy.runtime.reload(configFrom(conf([keyB])));
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: ticketA })).body).toBe('.');
    expect((await get(proxy.port(), { version: 'TLSv1.2', session: ticketB })).body).toBe('r');
  });

  it('-t: a key file must be 48 or 80 bytes (nginx\'s message)', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'short.key'), randomBytes(50));
    fs.writeFileSync(path.join(dir, 'bad.conf'), server(dir, `ssl_session_ticket_key ${dir}/short.key;`));
    const r = await runCli(['-t', '-c', path.join(dir, 'bad.conf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`"${dir}/short.key" must be 48 or 80 bytes`);
  });
});

/** The ClientHello a Node client sends for `servername` (caught by a listener that then closes). */
function clientHello(servername: string | undefined): Promise<Buffer> {
  return new Promise((resolve) => {
    const catcher = net.createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        s.destroy();
        catcher.close();
        resolve(d);
      });
    });
    catcher.listen(0, '127.0.0.1', () => {
      const t = tls.connect({ host: '127.0.0.1', port: (catcher.address() as net.AddressInfo).port, servername, rejectUnauthorized: false });
      t.on('error', () => {});
    });
  });
}

describe('ssl_reject_handshake', () => {
  it('a default server without certificate refuses with unrecognized_name; a named server still answers', async () => {
    const dir = tempDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`http {
      server { listen 127.0.0.1:0 ssl default_server; ssl_reject_handshake on; }
      server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key}; location / { return 200 "a"; } } }`);
    const answerOf = async (name: string | undefined): Promise<string> => {
      const hello = await clientHello(name);
      return new Promise((resolve) => {
        let out = Buffer.alloc(0);
        const raw = net.connect(proxy.port(), '127.0.0.1', () => raw.write(hello));
        raw.on('error', () => {});
        raw.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
        raw.on('close', () => resolve(out.toString('hex')));
      });
    };
    expect(await answerOf('nope.test')).toBe('15030300020270');
    expect(await answerOf(undefined)).toBe('15030300020270');
    expect((await get(proxy.port())).body).toBe('a');
    expect((await get(proxy.port(), { servername: 'nope.test' })).error).toMatch(/unrecognized name/i);
  });
});
