/**
 * HTTP/2 over TLS (ALPN h2) next to HTTP/1.1 and WebSocket on the same `listen ... ssl http2`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { flushLogs } from '../../src/log.js';
import { startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';
import { testCerts, writeCert } from '../helpers/tls-certs.js';
import { h2connect, h2request, toolMissing } from './h2-helpers.js';

function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2tls-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { timeout: 30_000 }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

async function tlsProxy(extraA = '', extraB = ''): Promise<{ port: number; dir: string; backend: Awaited<ReturnType<typeof startHttpBackend>>; wsPort: number }> {
  const dir = tmpDir();
  const { a, b } = testCerts();
  const fa = writeCert(dir, 'a', a);
  const fb = writeCert(dir, 'b', b);
  const backend = await startHttpBackend('A');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo:${m.toString()}`)));
  onTestFinished(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const wsPort = (wss.address() as { port: number }).port;
  const proxy = await startProxy(`http { log_format p "$server_protocol $scheme $https $host $status";
    server { listen 127.0.0.1:0 ssl http2; server_name a.test; ssl_certificate ${fa.cert}; ssl_certificate_key ${fa.key};
      access_log ${dir}/access.log p; ${extraA}
      location / { add_header X-Server a; proxy_pass http://127.0.0.1:${backend.port}; }
      location /ws { proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";
        proxy_pass http://127.0.0.1:${wsPort}; } }
    server { listen 127.0.0.1:0 ssl http2; server_name b.test; ssl_certificate ${fb.cert}; ssl_certificate_key ${fb.key}; ${extraB}
      location / { return 200 "b:$scheme"; } } }`);
  return { port: proxy.port(), dir, backend, wsPort };
}

describe('HTTP/2 over TLS', () => {
  it('node:http2 over ALPN h2: routing by SNI/:authority, https variables, the access log', async () => {
    const t = await tlsProxy();
    const s = await h2connect(`https://127.0.0.1:${t.port}`, { servername: 'a.test', rejectUnauthorized: false });
    expect(s.alpnProtocol).toBe('h2');
    const ra = await h2request(s, { ':path': '/x', ':authority': 'a.test' });
    expect(ra.status).toBe(200);
    expect(ra.text).toBe('A');
    expect(ra.headers['x-server']).toBe('a');
    expect(t.backend.seen[0]!.headers['x-forwarded-proto']).toBe('https');
    const rb = await h2request(s, { ':path': '/', ':authority': 'b.test' });
    expect(rb.text).toBe('b:https');
    const log = path.join(t.dir, 'access.log');
    await expect.poll(() => (flushLogs(), existsSync(log) ? readFileSync(log, 'utf8') : '')).toBe('HTTP/2.0 https on a.test 200\n');
  });

  it.skipIf(toolMissing('curl'))('Debian curl --http2 negotiates h2; an http/1.1 client gets HTTP/1.1 on the same port', async () => {
    const t = await tlsProxy();
    const url = `https://a.test:${t.port}/c`;
    const resolve = `a.test:${t.port}:127.0.0.1`;
    const h2 = await curl(['-sS', '-k', '--http2', '--resolve', resolve, '-o', '/dev/null', '-w', '%{http_code} %{http_version}', url]);
    expect(h2.stderr).toBe('');
    expect(h2.stdout).toBe('200 2');
    const post = await curl(['-sS', '-k', '--http2', '--resolve', resolve, '--data-binary', 'x'.repeat(100_000), '-w', ' %{http_version}', url]);
    expect(post.stdout).toBe('A 2');
    const h1 = await curl(['-sS', '-k', '--http1.1', '--resolve', resolve, '-o', '/dev/null', '-w', '%{http_code} %{http_version}', url]);
    expect(h1.stdout).toBe('200 1.1');
  });

  it('WebSocket over HTTP/1.1 works on the h2 port', async () => {
    const t = await tlsProxy();
    const ws = new WebSocket(`wss://127.0.0.1:${t.port}/ws`, { rejectUnauthorized: false, headers: { host: 'a.test' } });
    ws.on('error', () => {});
    onTestFinished(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('hi');
    expect(await reply).toBe('echo:hi');
    // and h2 on a second connection at the same time
    const s = await h2connect(`https://127.0.0.1:${t.port}`, { servername: 'a.test', rejectUnauthorized: false });
    expect((await h2request(s, { ':path': '/', ':authority': 'a.test' })).text).toBe('A');
  });
});
