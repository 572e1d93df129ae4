import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend, statuses } from '../helpers/backend.js';

describe('http proxy', () => {
  it('round-robins over two backends and forwards X-Forwarded-* and Host', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const proxy = await startProxy(`http {
      upstream app { server 127.0.0.1:${a.port}; server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
    }`);
    const seen: Record<string, number> = {};
    for (let i = 0; i < 10; i++) {
      const res = await request(proxy.url('/x?y=1'));
      expect(res.status).toBe(200);
      const name = res.headers['x-backend'] as string;
      expect(res.body).toBe(name);
      seen[name] = (seen[name] ?? 0) + 1;
    }
    expect(seen).toEqual({ A: 5, B: 5 });
    const h = a.seen[0]!;
    expect(h.url).toBe('/x?y=1');
    expect(h.headers.host).toBe('app');
    expect(h.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(h.headers['x-real-ip']).toBe('127.0.0.1');
    expect(h.headers['x-forwarded-proto']).toBe('http');
  });

  it('rewrites the URI when proxy_pass has one and sets Host as asked', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /one/ { proxy_set_header Host $host; proxy_pass http://127.0.0.1:${a.port}/two/; } } }`);
    const res = await request(proxy.url('/one/a%20b?q=1'), { headers: { host: 'front.test' } });
    expect(res.status).toBe(200);
    expect(a.seen[0]!.url).toBe('/two/a%20b?q=1');
    expect(a.seen[0]!.headers.host).toBe('front.test');
  });

  it('answers 502 when the backend port is closed', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const res = await request(proxy.url('/'));
    expect(res.status).toBe(502);
    expect(res.body).toContain('<center><h1>502 Bad Gateway</h1></center>');
  });

  it('fails over to the live backend when one is down', async () => {
    const a = await startHttpBackend('A');
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = await startProxy(`http {
      upstream app { server 127.0.0.1:${deadPort}; server 127.0.0.1:${a.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    for (let i = 0; i < 4; i++) {
      const res = await request(proxy.url('/'));
      expect(res.status).toBe(200);
      expect(res.headers['x-backend']).toBe('A');
    }
  });

  it('answers 504 when the backend never answers within proxy_read_timeout', async () => {
    const a = await startHttpBackend('A', () => {
      // never answer
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_read_timeout 200ms; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const started = Date.now();
    const res = await request(proxy.url('/'));
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reuses upstream connections (keep-alive pool)', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http {
      upstream app { server 127.0.0.1:${a.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    for (let i = 0; i < 20; i++) expect((await request(proxy.url('/'))).status).toBe(200);
    expect(a.requests).toBe(20);
    expect(a.sockets).toBe(1);
  });

  it('serves pipelined requests in order on one connection', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      // answer the first request last, to prove the order is kept
      const delay = req.url === '/1' ? 50 : 0;
      setTimeout(() => res.end(req.url), delay);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const out = await rawExchange(proxy.port(), req('/1') + req('/2') + req('/3').replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    expect(statuses(out)).toEqual([200, 200, 200]);
    const bodies = out.split('\r\n\r\n').slice(1).map((s) => s.slice(0, 2));
    expect(bodies).toEqual(['/1', '/2', '/3']);
  });

  it('answers return directives and redirects locally', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location = /r { return 301 /elsewhere; }
      location = /t { return 200 "hello $host"; }
      location = /e { return 403; } } }`);
    const r = await request(proxy.url('/r'), { headers: { host: 'h.test' } });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe(`http://h.test:${proxy.port()}/elsewhere`);
    const t = await request(proxy.url('/t'), { headers: { host: 'h.test' } });
    expect(t).toMatchObject({ status: 200, body: 'hello h.test' });
    const e = await request(proxy.url('/e'));
    expect(e.status).toBe(403);
    expect(e.body).toContain('<title>403 Forbidden</title>');
    expect((await request(proxy.url('/nothing-here'))).status).toBe(404);
  });

  it('answers local errors through error_page (internal URI, =code, URL)', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      error_page 502 /oops;
      error_page 404 =200 /fallback;
      location / { proxy_pass http://127.0.0.1:${port}; }
      location = /missing { return 404; }
      location = /gone { error_page 410 https://elsewhere.test/; return 410; }
      location = /oops { return 200 "sorry"; }
      location = /fallback { return 200 "fallback"; } } }`);
    expect(await request(proxy.url('/x'))).toMatchObject({ status: 502, body: 'sorry' });
    expect(await request(proxy.url('/missing'))).toMatchObject({ status: 200, body: 'fallback' });
    const gone = await request(proxy.url('/gone'));
    expect(gone.status).toBe(302);
    expect(gone.headers.location).toBe('https://elsewhere.test/');
  });

  // nginx 1.22 (proxy_http_version 1.1, keepalive): an HTTP/1.0 client's request goes upstream
  // in HTTP/1.1 over the pooled connection; a chunked answer reaches it de-chunked, without a
  // length, and the connection closes after it (Connection: keep-alive asked or not).
  it('speaks proxy_http_version to HTTP/1.0 clients over pooled connections and de-chunks for them', async () => {
    const versions: string[] = [];
    const a = await startHttpBackend('A', (req, res) => {
      versions.push(req.httpVersion);
      if (req.url !== '/chunked') return res.end('A');
      res.write('hel');
      setTimeout(() => res.end('lo'), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const plain = await rawExchange(proxy.port(), 'GET / HTTP/1.0\r\n\r\n', 3000);
    expect(plain).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(plain).toMatch(/\r\nConnection: close\r\n/i);
    expect(plain).toMatch(/\r\nContent-Length: 1\r\n[\s\S]*\r\n\r\nA$/);
    for (const extra of ['', 'Connection: keep-alive\r\n']) {
      const started = Date.now();
      const out = await rawExchange(proxy.port(), `GET /chunked HTTP/1.0\r\n${extra}\r\n`, 3000);
      // Closed by the proxy right after the body, not by the 3 s idle timer.
      expect(Date.now() - started).toBeLessThan(2500);
      expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(out).not.toMatch(/\r\n(Transfer-Encoding|Content-Length):/i);
      expect(out).toMatch(/\r\nConnection: close\r\n/i);
      expect(out).toMatch(/\r\n\r\nhello$/);
    }
    // node:http answers an HTTP/1.1 request's streamed body chunked: the proxy de-chunked it.
    expect(versions).toEqual(['1.1', '1.1', '1.1']);
    expect(a.seen.map((s) => s.headers.connection)).toEqual(['keep-alive', 'keep-alive', 'keep-alive']);
    expect(a.requests).toBe(3);
    expect(a.sockets).toBe(1);
  });

  it('relays HEAD, 204 and 304 without bodies', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url === '/204') {
        res.statusCode = 204;
        return res.end();
      }
      if (req.url === '/304') {
        res.statusCode = 304;
        return res.end();
      }
      res.setHeader('content-length', '5');
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const req = (m: string, p: string) => `${m} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    const out = await rawExchange(proxy.port(), req('HEAD', '/h') + req('GET', '/204') + req('GET', '/304') + req('GET', '/last'));
    expect(statuses(out)).toEqual([200, 204, 304, 200]);
    expect(out.match(/hello/g)).toHaveLength(1);
  });

  it('streams a chunked request body and a chunked response', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.write('got:');
        res.end(Buffer.concat(chunks));
      });
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const body = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n';
    const out = await rawExchange(proxy.port(), body, 3000);
    expect(out).toMatch(/Transfer-Encoding: chunked/i);
    expect(out).toContain('got:');
    expect(out).toContain('hello world');
    expect(a.seen[0]!.headers['transfer-encoding']).toBe('chunked');
  });

  it('relays Expect: 100-continue through the upstream', async () => {
    const a = await startHttpBackend('A');
    a.server.on('checkContinue', (req, res) => {
      res.writeContinue();
      a.server.emit('request', req, res);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const res = await new Promise<{ continued: boolean; status: number; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request(proxy.url('/'), { method: 'POST', agent: false, headers: { expect: '100-continue', 'content-length': '4' } });
      req.on('continue', () => {
        continued = true;
        req.end('body');
      });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (c) => (body += c));
        r.on('end', () => resolve({ continued, status: r.statusCode!, body }));
      });
      req.on('error', reject);
    });
    expect(res).toEqual({ continued: true, status: 200, body: 'A' });
  });

  it('refuses a too-large Content-Length with 413 without contacting the upstream', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { client_max_body_size 10; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n', 3000);
    expect(statuses(out)).toEqual([413]);
    const chunked = await rawExchange(proxy.port(), `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n${'x'.repeat(32)}\r\n0\r\n\r\n`, 3000);
    expect(statuses(chunked)).toEqual([413]);
    expect(a.requests).toBe(0);
  });

  it('aborts the client connection when the backend resets mid-body', async () => {
    const a = await startHttpBackend('A', (_req, res) => {
      res.setHeader('content-length', '1000');
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const err = await request(proxy.url('/')).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
  });

  it('closes idle keep-alive clients after keepalive_timeout', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; keepalive_timeout 200ms; location / { return 200 ok; } } }`);
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port() });
    onTestFinished(() => void socket.destroy());
    let closed = false;
    let data = '';
    socket.on('data', (d) => (data += d));
    socket.on('close', () => (closed = true));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => data).toContain('ok');
    await expect.poll(() => closed, { timeout: 3000 }).toBe(true);
  });
});
