import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend, startRawBackend } from '../helpers/backend.js';
import { VERSION } from '../../src/version.js';

/** Connect, write, shut down our write side (FIN) and collect everything until the proxy closes. */
function halfClose(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(data));
    let out = '';
    s.on('error', () => {});
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => resolve(out));
    onTestFinished(() => void s.destroy());
  });
}

describe('proxy options', () => {
  it('proxy_intercept_errors serves error_page for upstream errors and discards their body', async () => {
    const b = await startHttpBackend('B', (req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : req.url === '/moved' ? 301 : 500;
      if (res.statusCode === 301) res.setHeader('location', 'http://elsewhere/');
      res.end('backend body');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_pass http://127.0.0.1:${b.port}; proxy_intercept_errors on; error_page 404 /oops; error_page 301 =200 /oops; }
      location /plain { proxy_pass http://127.0.0.1:${b.port}; error_page 500 /oops; }
      location = /oops { return 200 "our page"; } } }`);
    const missing = await request(proxy.url('/missing'));
    expect([missing.status, missing.body]).toEqual([404, 'our page']);
    const moved = await request(proxy.url('/moved'));
    expect([moved.status, moved.body]).toEqual([200, 'our page']);
    // 500 has no error_page here: relayed as is.
    expect((await request(proxy.url('/other'))).body).toBe('backend body');
    // Without proxy_intercept_errors the upstream's answer goes through.
    expect((await request(proxy.url('/plain'))).body).toBe('backend body');
  });

  it('proxy_pass_request_body off sends no body; proxy_pass_request_headers off sends only ours', async () => {
    const b = await startHttpBackend('B', (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(`${n}`));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /nobody { proxy_pass http://127.0.0.1:${b.port}; proxy_pass_request_body off; }
      location /nohdr { proxy_pass http://127.0.0.1:${b.port}; proxy_pass_request_headers off; proxy_set_header X-Ours 1; } } }`);
    const res = await request(proxy.url('/nobody'), { method: 'POST', body: 'x'.repeat(5000), headers: { 'x-client': 'c' } });
    expect(res.body).toBe('0');
    expect(b.seen[0]!.headers['content-length']).toBeUndefined();
    expect(b.seen[0]!.headers['x-client']).toBe('c');
    await request(proxy.url('/nohdr'), { headers: { 'x-client': 'c' } });
    expect(b.seen[1]!.headers['x-client']).toBeUndefined();
    expect(b.seen[1]!.headers['x-ours']).toBe('1');
    expect(b.seen[1]!.headers.host).toBe(`127.0.0.1:${b.port}`);
  });

  it('proxy_hide_header, proxy_pass_header, proxy_method, proxy_redirect, add_header always', async () => {
    const b = await startHttpBackend('B', (req, res) => {
      res.setHeader('x-secret', 's');
      res.setHeader('x-accel-expires', '10');
      res.setHeader('location', `http://127.0.0.1:${(req.socket.localPort)}/app/next`);
      res.statusCode = req.url!.includes('fail') ? 500 : 200;
      res.end(req.method);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /app/ { proxy_pass http://127.0.0.1:${b.port}; proxy_hide_header X-Secret; proxy_pass_header X-Accel-Expires;
        proxy_method PUT; proxy_redirect http://127.0.0.1:${b.port}/app/ /front/;
        add_header X-Ok yes; add_header X-Always yes always; }
      location /def/ { proxy_pass http://127.0.0.1:${b.port}/app/; }
      location /off/ { proxy_pass http://127.0.0.1:${b.port}/app/; proxy_redirect off; } } }`);
    const ok = await request(proxy.url('/app/x'));
    expect(ok.body).toBe('PUT');
    expect(ok.headers['x-secret']).toBeUndefined();
    expect(ok.headers['x-accel-expires']).toBe('10');
    expect(ok.headers.location).toBe('/front/next');
    expect([ok.headers['x-ok'], ok.headers['x-always']]).toEqual(['yes', 'yes']);
    const fail = await request(proxy.url('/app/fail'));
    expect([fail.status, fail.headers['x-ok'], fail.headers['x-always']]).toEqual([500, undefined, 'yes']);
    expect((await request(proxy.url('/def/'))).headers.location).toBe('/def/next');
    expect((await request(proxy.url('/off/'))).headers.location).toBe(`http://127.0.0.1:${b.port}/app/next`);
  });

  it('closes a client connection after keepalive_requests', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; keepalive_requests 2; location / { return 200 ok; } } }`);
    const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const out = await rawExchange(proxy.port(), req + req + req, 1000);
    expect(out.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
    expect(out).toMatch(/Connection: keep-alive[\s\S]*Connection: close/);
  });

  it('upstream keepalive_time: a pooled connection older than it is closed after its request (nginx 1.19.10+)', async () => {
    const ports: number[] = [];
    const b = await startHttpBackend('B', (req, res) => {
      ports.push(req.socket.remotePort!);
      res.end('ok');
    });
    const proxy = await startProxy(`http {
      upstream u { server 127.0.0.1:${b.port}; keepalive 4; keepalive_time 300ms; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://u; } } }`);
    await request(proxy.url('/1'));
    await request(proxy.url('/2'));
    // keepalive_time is a span of real time: let it pass. The pooled connection still takes the
    // next request (nginx checks the age when the connection is released), then it is closed.
    await new Promise((r) => setTimeout(r, 350));
    await request(proxy.url('/3'));
    await request(proxy.url('/4'));
    expect(ports[1]).toBe(ports[0]);
    expect(ports[2]).toBe(ports[0]);
    expect(ports[3]).not.toBe(ports[0]);
  });

  it('relays chunked response trailers unchanged', async () => {
    const b = await startHttpBackend('B', (_req, res) => {
      res.setHeader('trailer', 'x-checksum');
      res.write('abc');
      res.addTrailers({ 'x-checksum': '42' });
      res.end();
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n');
    expect(out).toMatch(/Transfer-Encoding: chunked/);
    expect(out).toMatch(/\r\n0\r\nx-checksum: 42\r\n\r\n$/i);
  });

  // nginx 1.22: the absolute-form authority wins over a disagreeing Host ($host), and the
  // upstream gets the origin-form target.
  it('lets an absolute-form authority win over Host and forwards origin-form', async () => {
    const b = await startHttpBackend('B');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_set_header Host $host; proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'GET http://A.test/x HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(b.seen.map((s) => [s.url, s.headers.host])).toEqual([['/x', 'a.test']]);
  });

  it('sends Server: tsproxy/version (server_tokens on) or tsproxy (off) and a Date on local answers', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { return 200 ok; } location /q { server_tokens off; return 200 q; } } }`);
    const on = await request(proxy.url('/'));
    expect(on.headers.server).toBe(`tsproxy/${VERSION}`);
    expect(Math.abs(Date.parse(on.headers.date!) - Date.now())).toBeLessThan(2000);
    expect((await request(proxy.url('/q'))).headers.server).toBe('tsproxy');
  });

  it('retries a small request body on the next peer after the first one failed after receiving it', async () => {
    const dead = await startRawBackend((socket, all) => {
      if (all.includes('\r\n\r\n') && all.length > 6000) socket.destroy();
    });
    const b = await startHttpBackend('B', (req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => (n += d.length));
      req.on('end', () => res.end(`${n}`));
    });
    const proxy = await startProxy(`http { upstream two { server 127.0.0.1:${dead.port}; server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://two; proxy_next_upstream error; } } }`);
    for (let i = 0; i < 2; i++) {
      const res = await request(proxy.url('/'), { method: 'PUT', body: 'y'.repeat(10_000) });
      expect([res.status, res.body]).toEqual([200, '10000']);
    }
  });
});

describe('half-close', () => {
  // nginx 1.22 on a raw socket: a local answer still reaches a half-closed client; a proxied
  // request is aborted (499) unless proxy_ignore_client_abort is on (see http-requests.test.ts).
  it('answers a client that shut down its write side: locally, or proxied with proxy_ignore_client_abort', async () => {
    const b = await startHttpBackend('B', (_req, res) => setTimeout(() => res.end('late'), 100));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_pass http://127.0.0.1:${b.port}; proxy_ignore_client_abort on; } location /local { return 200 local; } } }`);
    const proxied = await halfClose(proxy.port(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(proxied).toMatch(/^HTTP\/1\.1 200 [\s\S]*late$/);
    const local = await halfClose(proxy.port(), 'GET /local HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(local).toMatch(/^HTTP\/1\.1 200 [\s\S]*local$/);
  });

  it('passes half-close through an upgraded tunnel both ways', async () => {
    // A raw upgrade backend: answers 101, echoes, and on our FIN writes "bye" and ends.
    const backend = await startRawBackend((socket, all) => {
      if (!all.includes('\r\n\r\n') || (socket as net.Socket & { upgraded?: boolean }).upgraded) return;
      (socket as net.Socket & { upgraded?: boolean }).upgraded = true;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
    });
    backend.server.on('connection', (s: net.Socket) => {
      s.allowHalfOpen = true;
      s.on('end', () => s.end('bye'));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const s = net.connect({ host: '127.0.0.1', port: proxy.port(), allowHalfOpen: true });
    onTestFinished(() => void s.destroy());
    let out = '';
    let closed = false;
    s.on('error', () => {});
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => (closed = true));
    s.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n');
    await expect.poll(() => out).toMatch(/101 Switching Protocols/);
    s.end();
    await expect.poll(() => out).toMatch(/bye$/);
    await expect.poll(() => closed).toBe(true);
  });
});

describe('proxy_socket_keepalive (nginx: SO_KEEPALIVE on upstream sockets, the system timers)', () => {
  /** The `ss` timer column of established connections to `port` (from the kernel's socket table). */
  function timers(port: number): string {
    return execFileSync('ss', ['-tnoH', 'state', 'established', 'dst', `127.0.0.1:${port}`], { encoding: 'utf8' });
  }
  // iproute2's ss; CI installs it (.ci/run), elsewhere the test runs where it exists
  const hasSs = (() => { try { execFileSync('ss', ['-V']); return true; } catch { return !!process.env.CI; } })();

  it.runIf(hasSs)('on: the upstream connection has a keepalive timer; off (default): none', async () => {
    let release: (() => void) | null = null;
    const b = await startHttpBackend('held', (_req, res) => { release = () => res.end('done'); });
    // Two groups: two pools, so /on opens its own connection (off's stays pooled, without a timer).
    const proxy = await startProxy(`http { upstream b1 { server 127.0.0.1:${b.port}; } upstream b2 { server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; location /on { proxy_pass http://b1; proxy_socket_keepalive on; } location /off { proxy_pass http://b2; } } }`);
    for (const [path, expected] of [['/off', false], ['/on', true]] as const) {
      const pending = request(proxy.url(path));
      await expect.poll(() => release !== null).toBe(true);
      const table = timers(b.port);
      expect([path, table.includes('keepalive')]).toEqual([path, expected]);
      release!();
      release = null;
      expect((await pending).body).toBe('done');
    }
  });
});
