import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request } from '../helpers/backend.js';
import { contentTypeOf, parseRange, resolveUnderRoot } from '../../src/http/static.js';

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-static-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'hello.txt'), 'hello world');
  writeFileSync(path.join(root, 'page.html'), '<p>hi</p>');
  writeFileSync(path.join(root, 'blob.bin'), Buffer.alloc(10, 7));
  mkdirSync(path.join(root, 'site'));
  writeFileSync(path.join(root, 'site', 'index.html'), 'index here');
  mkdirSync(path.join(root, 'empty'));
  utimesSync(path.join(root, 'hello.txt'), new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z'));
  return root;
}

async function staticProxy(root: string, extra = ''): Promise<ReturnType<typeof startProxy>> {
  return startProxy(`http { server { listen 127.0.0.1:0; root ${root}; ${extra} location / { add_header X-Static yes; } } }`);
}

describe('static files', () => {
  it('serves files with type, length and validators; HEAD has no body', async () => {
    const proxy = await staticProxy(makeRoot());
    const res = await request(proxy.url('/hello.txt'));
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello world');
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.headers['content-length']).toBe('11');
    expect(res.headers['last-modified']).toBe('Tue, 02 Jan 2024 03:04:05 GMT');
    expect(res.headers['x-static']).toBe('yes');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+-b"$/);
    expect((await request(proxy.url('/page.html'))).headers['content-type']).toBe('text/html');
    expect((await request(proxy.url('/blob.bin'))).headers['content-type']).toBe('application/octet-stream');
    const head = await rawExchange(proxy.port(), 'HEAD /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/Content-Length: 11\r\n/);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
  });

  it('answers 304 to If-Modified-Since / If-None-Match', async () => {
    const proxy = await staticProxy(makeRoot());
    const first = await request(proxy.url('/hello.txt'));
    const ims = await request(proxy.url('/hello.txt'), { headers: { 'if-modified-since': first.headers['last-modified']! } });
    expect(ims.status).toBe(304);
    expect(ims.body).toBe('');
    const inm = await request(proxy.url('/hello.txt'), { headers: { 'if-none-match': first.headers.etag! } });
    expect(inm.status).toBe(304);
    const stale = await request(proxy.url('/hello.txt'), { headers: { 'if-modified-since': 'Mon, 01 Jan 2024 00:00:00 GMT' } });
    expect(stale.status).toBe(200);
  });

  it('serves one byte range with 206 and refuses unsatisfiable ones with 416', async () => {
    const proxy = await staticProxy(makeRoot());
    const r1 = await request(proxy.url('/hello.txt'), { headers: { range: 'bytes=0-4' } });
    expect([r1.status, r1.body, r1.headers['content-range']]).toEqual([206, 'hello', 'bytes 0-4/11']);
    const r2 = await request(proxy.url('/hello.txt'), { headers: { range: 'bytes=-5' } });
    expect([r2.status, r2.body]).toEqual([206, 'world']);
    const r3 = await request(proxy.url('/hello.txt'), { headers: { range: 'bytes=6-' } });
    expect([r3.status, r3.body]).toEqual([206, 'world']);
    const r4 = await request(proxy.url('/hello.txt'), { headers: { range: 'bytes=20-30' } });
    expect([r4.status, r4.headers['content-range']]).toEqual([416, 'bytes */11']);
    const multi = await request(proxy.url('/hello.txt'), { headers: { range: 'bytes=0-1,3-4' } });
    expect([multi.status, multi.body]).toEqual([200, 'hello world']);
  });

  it('uses index files, 403 for a directory without one, 301 without the slash, 404 when missing', async () => {
    const proxy = await staticProxy(makeRoot());
    const port = proxy.port();
    expect((await request(proxy.url('/site/'))).body).toBe('index here');
    expect((await request(proxy.url('/empty/'))).status).toBe(403);
    const redirect = await request(proxy.url('/site?a=1'), { headers: { host: 'h.test' } });
    expect([redirect.status, redirect.headers.location]).toEqual([301, `http://h.test:${port}/site/?a=1`]);
    expect((await request(proxy.url('/nope.txt'))).status).toBe(404);
    expect((await request(proxy.url('/hello.txt'), { method: 'POST', body: 'x' })).status).toBe(405);
  });

  // nginx evaluates variables in `root` and `index` per request (ask-nginx: `root /srv/site-$host`
  // serves /srv/site-foo/index.html to Host: foo).
  it('root and index with variables are evaluated per request', async () => {
    const root = makeRoot();
    mkdirSync(path.join(root, 'site-foo'));
    writeFileSync(path.join(root, 'site-foo', 'index.html'), 'FOO');
    writeFileSync(path.join(root, 'site-foo', 'start-a.html'), 'A START');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}/site-$host;
      location / { index start-$arg_i.html index.html; } } }`);
    expect(await request(proxy.url('/'), { headers: { host: 'foo' } })).toMatchObject({ status: 200, body: 'FOO' });
    expect((await request(proxy.url('/'), { headers: { host: 'bar' } })).status).toBe(404);
    expect(await request(proxy.url('/?i=a'), { headers: { host: 'foo' } })).toMatchObject({ status: 200, body: 'A START' });
  });

  it('never leaves root', async () => {
    const root = makeRoot();
    const proxy = await staticProxy(path.join(root, 'site'));
    // The router rejects or resolves dot segments; encoded ones must not escape either.
    for (const p of ['/../hello.txt', '/%2e%2e/hello.txt', '/..%2fhello.txt', '/%2e%2e%2fhello.txt']) {
      const out = await rawExchange(proxy.port(), `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(out).not.toMatch(/hello world/);
      expect(out).toMatch(/^HTTP\/1\.1 (400|404) /);
    }
    expect(resolveUnderRoot('/srv/www', '/../etc/passwd')).toBeNull();
    expect(resolveUnderRoot('/srv/www', '/a/../b')).toBe('/srv/www/b');
    expect(resolveUnderRoot('/srv/www', '/a\0b')).toBeNull();
  });

  it('streams a large file with backpressure and send_timeout closes a client that never reads', async () => {
    const root = makeRoot();
    const big = Buffer.alloc(32 * 1024 * 1024, 1);
    writeFileSync(path.join(root, 'big.bin'), big);
    const proxy = await staticProxy(root, 'send_timeout 500ms;');
    const socket = net.connect({ host: '127.0.0.1', port: proxy.port() });
    onTestFinished(() => void socket.destroy());
    let closed = false;
    let received = 0;
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause();
    // Long enough for send_timeout to fire while nothing moves; then read what was buffered.
    await new Promise((r) => setTimeout(r, 1500));
    socket.resume();
    await expect.poll(() => closed, { timeout: 5000 }).toBe(true);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(big.length);
    // A reading client gets it whole.
    const res = await request(proxy.url('/big.bin'));
    expect(res.body.length).toBe(big.length);
    expect(statSync(path.join(root, 'big.bin')).size).toBe(big.length);
  });

  it('answers 404 for a FIFO under root without waiting for a writer (nginx: "is not a regular file", 404)', async () => {
    // nginx 1.22 answers 404 at once (checked with ask-nginx). Opened without O_NONBLOCK, each
    // request held a thread-pool thread until some writer came: four of them stalled every file.
    const root = makeRoot();
    const fifo = path.join(root, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // Releases any open() still waiting on it if the proxy regressed (O_RDWR never blocks).
    onTestFinished(() => void spawnSync('sh', ['-c', 'exec 3<>"$1"', 'sh', fifo]));
    const proxy = await staticProxy(root);
    const answers = await Promise.all(Array.from({ length: 6 }, () => request(proxy.url('/pipe'))));
    expect(answers.map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404]);
    expect((await request(proxy.url('/hello.txt'))).body).toBe('hello world');
  });

  it('keeps the connection alive across static responses', async () => {
    const proxy = await staticProxy(makeRoot());
    const out = await rawExchange(proxy.port(), 'GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /site/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(out.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
    expect(out).toMatch(/hello world[\s\S]*index here$/);
  });
});

describe('static helpers', () => {
  it('parses ranges as RFC 9110 says', () => {
    expect(parseRange('bytes=0-0', 5)).toEqual({ start: 0, end: 0 });
    expect(parseRange('bytes=2-100', 5)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=-100', 5)).toEqual({ start: 0, end: 4 });
    expect(parseRange('bytes=5-', 5)).toBe('unsatisfiable');
    expect(parseRange('bytes=3-1', 5)).toBeNull();
    expect(parseRange('items=0-1', 5)).toBeNull();
  });

  it('maps extensions to types', () => {
    expect(contentTypeOf('/a/b.CSS')).toBe('text/css');
    expect(contentTypeOf('/a.b/c')).toBe('application/octet-stream');
  });
});
