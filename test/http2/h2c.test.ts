import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { flushLogs } from '../../src/log.js';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';
import { h2connect, h2request } from './h2-helpers.js';

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('h2c (prior knowledge)', () => {
  it('proxies an h2c GET and still serves HTTP/1.1 on the same port', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const res = await h2request(s, { ':path': '/x?y=1', cookie: 'a=1' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('A');
    expect(res.headers['x-backend']).toBe('A');
    expect(res.headers.connection).toBeUndefined();
    expect(a.seen[0]!.url).toBe('/x?y=1');
    expect(a.seen[0]!.headers.cookie).toBe('a=1');
    expect(a.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
    const h1 = await request(proxy.url('/h1'));
    expect(h1.status).toBe(200);
    expect(h1.body).toBe('A');
  });

  it('without http2 a plain listen keeps answering the h2 preface with 505', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { return 200 "x"; } } }`);
    const raw = await rawExchange(proxy.port(), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 505 /);
  });

  it('also turns on with `http2 on;` in a server', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; http2 on; location / { return 200 "on"; } } }`);
    const s = await h2connect(proxy.url(''));
    expect((await h2request(s, { ':path': '/' })).text).toBe('on');
  });

  it('routes by :authority to two server blocks and applies proxy_set_header and add_header', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; server_name a.test;
        location / { proxy_set_header X-Via-Host $host; add_header X-Added yes; proxy_pass http://127.0.0.1:${a.port}; } }
      server { listen 127.0.0.1:0 http2; server_name b.test; location / { add_header X-Server b always; proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const ra = await h2request(s, { ':path': '/', ':authority': 'a.test' });
    const rb = await h2request(s, { ':path': '/', ':authority': 'b.test' });
    expect(ra.text).toBe('A');
    expect(ra.headers['x-added']).toBe('yes');
    expect(a.seen[0]!.headers['x-via-host']).toBe('a.test');
    expect(rb.text).toBe('B');
    expect(rb.headers['x-server']).toBe('b');
  });

  it('writes the access log with HTTP/2.0 as $server_protocol and in $request', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format p "$request|$server_protocol|$status|$host";
      server { listen 127.0.0.1:0 http2; server_name h.test; access_log ${log} p; location / { return 200 "ok"; } } }`);
    const s = await h2connect(proxy.url(''));
    expect((await h2request(s, { ':path': '/p?q=1', ':authority': 'h.test' })).status).toBe(200);
    await expect.poll(() => (flushLogs(), existsSync(log) ? readFileSync(log, 'utf8') : '')).toBe('GET /p?q=1 HTTP/2.0|HTTP/2.0|200|h.test\n');
  });

  it('uploads request bodies with and without content-length', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        n += c.length;
      });
      req.on('end', () => res.end(`${req.headers['transfer-encoding'] ?? 'length'} ${n} ${hash.digest('hex')}`));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; client_max_body_size 0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const body = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const sha = createHash('sha256').update(body).digest('hex');
    const withLength = await h2request(s, { ':method': 'POST', ':path': '/up', 'content-length': String(body.length) }, body);
    expect(withLength.text).toBe(`length ${body.length} ${sha}`);
    const chunked = await h2request(s, { ':method': 'POST', ':path': '/up' }, body);
    expect(chunked.text).toBe(`chunked ${body.length} ${sha}`);
  });

  it('streams a large response under flow control, chunked upstream bodies decoded', async () => {
    const size = 16 * 1024 * 1024;
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 7) & 0xff;
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url === '/length') res.setHeader('content-length', size);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const expected = createHash('sha256');
    for (let i = 0; i < size / block.length; i++) expected.update(block);
    const digest = expected.digest('hex');
    const [chunked, length] = await Promise.all([h2request(s, { ':path': '/chunked' }), h2request(s, { ':path': '/length' })]);
    expect(chunked.body.length).toBe(size);
    expect(createHash('sha256').update(chunked.body).digest('hex')).toBe(digest);
    expect(length.headers['content-length']).toBe(String(size));
    expect(createHash('sha256').update(length.body).digest('hex')).toBe(digest);
  });

  it('answers 413 for a body over client_max_body_size (declared or streamed)', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; client_max_body_size 1k; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const big = Buffer.alloc(64 * 1024, 1);
    const declared = await h2request(s, { ':method': 'POST', ':path': '/', 'content-length': String(big.length) }, big);
    expect(declared.status).toBe(413);
    expect(declared.text).toContain('413 Request Entity Too Large');
    const streamed = await h2request(s, { ':method': 'POST', ':path': '/' }, big);
    expect(streamed.status).toBe(413);
    // The session is still usable.
    expect((await h2request(s, { ':path': '/' })).text).toBe('A');
    expect(a.requests).toBe(1);
  });

  it('serves static files, 404 for missing ones, and HEAD without a body', async () => {
    const root = tempDir();
    writeFileSync(path.join(root, 'hello.txt'), 'hello world');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; root ${root}; location / { } } }`);
    const s = await h2connect(proxy.url(''));
    const ok = await h2request(s, { ':path': '/hello.txt' });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('hello world');
    expect(ok.headers['content-type']).toBe('text/plain');
    const missing = await h2request(s, { ':path': '/nope.txt' });
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('404 Not Found');
    const head = await h2request(s, { ':method': 'HEAD', ':path': '/hello.txt' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('11');
    expect(head.body.length).toBe(0);
  });

  it('answers 502 when the upstream is down', async () => {
    const port = await closedPort();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const res = await h2request(s, { ':path': '/' });
    expect(res.status).toBe(502);
    expect(res.text).toContain('502 Bad Gateway');
  });

  it('serves many concurrent streams on one session', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      setTimeout(() => res.end(req.url), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const all = await Promise.all(Array.from({ length: 100 }, (_, i) => h2request(s, { ':path': `/r${i}` })));
    expect(all.map((r) => r.text)).toEqual(Array.from({ length: 100 }, (_, i) => `/r${i}`));
  });

  it('survives a client resetting a stream mid-response; other streams go on', async () => {
    const block = Buffer.alloc(64 * 1024, 9);
    let aborted = false;
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url !== '/endless') return void res.end('fine');
      res.on('close', () => {
        aborted = true;
      });
      const pump = (): void => {
        while (!res.destroyed && res.write(block));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const req = s.request({ ':path': '/endless' });
    req.on('error', () => {});
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await expect.poll(() => aborted).toBe(true);
    expect((await h2request(s, { ':path': '/after' })).text).toBe('fine');
  });
  it('passes several Set-Cookie, keeps the first of a duplicated single-value header, relays 100 Continue', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url === '/dup') {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.setHeader('content-type', ['text/plain', 'text/html']);
        return void res.end('dup');
      }
      req.resume();
      req.on('end', () => res.end('continued'));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(proxy.url(''));
    const dup = await h2request(s, { ':path': '/dup' });
    expect(dup.text).toBe('dup');
    expect(dup.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(dup.headers['content-type']).toBe('text/plain');
    const req = s.request({ ':method': 'POST', ':path': '/c', expect: '100-continue', 'content-length': '4' }, { endStream: false });
    req.on('error', () => {});
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => req.once('continue', () => resolve()));
    req.end('body');
    await new Promise<void>((resolve) => req.once('end', () => resolve()));
    expect(Buffer.concat(chunks).toString()).toBe('continued');
  });

  it('resets the stream when the upstream body is cut short, and `return 444`; the session goes on', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      if (req.url !== '/short') return void res.end('fine');
      res.setHeader('content-length', 100);
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2;
      location / { proxy_pass http://127.0.0.1:${a.port}; } location = /drop { return 444; } } }`);
    const s = await h2connect(proxy.url(''));
    await expect(h2request(s, { ':path': '/short' })).rejects.toThrow(/NGHTTP2_INTERNAL_ERROR|stream/i);
    await expect(h2request(s, { ':path': '/drop' })).rejects.toThrow();
    expect((await h2request(s, { ':path': '/ok' })).text).toBe('fine');
  });

  it('follows redirects and error_page as HTTP/1.1 does', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; server_name r.test;
      location = /old { return 301 /new; } location = /err { return 404; } error_page 404 = @nf; location @nf { return 200 "nf"; } } }`);
    const s = await h2connect(proxy.url(''));
    const moved = await h2request(s, { ':path': '/old', ':authority': 'r.test' });
    expect(moved.status).toBe(301);
    expect(moved.headers.location).toBe(`http://r.test:${proxy.port()}/new`);
    const nf = await h2request(s, { ':path': '/err', ':authority': 'r.test' });
    expect(nf.status).toBe(200);
    expect(nf.text).toBe('nf');
  });
  it('survives garbage after the preface and a half preface that turns into HTTP/1.1', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { return 200 "alive"; } } }`);
    const garbage = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from('\x00\x00\x04\x09\x00\x00\x00\x00\x01junkjunkjunk', 'latin1')]);
    await rawExchange(proxy.port(), garbage);
    const h1 = await rawExchange(proxy.port(), 'PRI /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(h1).toMatch(/^HTTP\/1\.1 200 /);
    const s = await h2connect(proxy.url(''));
    expect((await h2request(s, { ':path': '/' })).text).toBe('alive');
  });
});
