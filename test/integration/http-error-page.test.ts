/**
 * error_page with internal redirects to any location, checked against real nginx 1.22 with
 * /work/shared/tools/ask-nginx (statuses, bodies and methods below are what nginx answered).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend, statuses } from '../helpers/backend.js';

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-errpage-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, '50x.html'), 'fifty x');
  writeFileSync(path.join(root, '404.html'), 'nf page');
  return root;
}

async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A backend that echoes method, URI and body length, and fails on /err. */
async function echoBackend(): Promise<ReturnType<typeof startHttpBackend>> {
  return startHttpBackend('B', (req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => {
      res.statusCode = req.url === '/err' ? 500 : 200;
      res.end(`backend ${req.method} ${req.url} ${n}`);
    });
  });
}

async function site(extra = ''): Promise<{ proxy: Awaited<ReturnType<typeof startProxy>>; backend: Awaited<ReturnType<typeof echoBackend>> }> {
  const root = makeRoot();
  const backend = await echoBackend();
  const dead = await deadPort();
  const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
    error_page 502 /50x.html;
    location = /50x.html { }
    location /down { proxy_pass http://127.0.0.1:${dead}; }
    location /eq200 { error_page 404 =200 /404.html; }
    location /eq { error_page 404 = /404.html; }
    location /named { error_page 404 @fb; }
    location /namedeq { error_page 404 = @fb; }
    location @fb { proxy_pass http://127.0.0.1:${backend.port}; }
    location @dead { proxy_pass http://127.0.0.1:${dead}; }
    location /toproxy { error_page 404 /p/x?a=1; }
    location /p/ { proxy_pass http://127.0.0.1:${backend.port}; }
    location /ext { error_page 404 http://example.com/x; }
    location /ext301 { error_page 404 =301 http://example.com/x; }
    location /missing { error_page 404 /nothere.html; }
    location /fbdead { error_page 404 @dead; }
    location /ret { error_page 404 /r; }
    location = /r { return 201 "ret body"; }
    location /icpt { proxy_intercept_errors on; error_page 500 /50x.html; proxy_pass http://127.0.0.1:${backend.port}/err; }
    location /post { error_page 405 /p/y; return 405; }
    location /postn { error_page 405 @fb; return 405; }
    ${extra} } }`);
  return { proxy, backend };
}

describe('error_page internal redirects', () => {
  it('serves a static page for a proxy failure with the original status', async () => {
    const { proxy } = await site();
    const res = await request(proxy.url('/down'));
    expect([res.status, res.body]).toEqual([502, 'fifty x']);
    expect(res.headers['content-type']).toBe('text/html');
    // nginx's not-modified and range filters act on 200 only: no Last-Modified, no ranges.
    expect(res.headers['last-modified']).toBeUndefined();
    expect(res.headers['accept-ranges']).toBeUndefined();
    const ranged = await request(proxy.url('/down'), { headers: { range: 'bytes=0-1' } });
    expect([ranged.status, ranged.body]).toEqual([502, 'fifty x']);
  });

  it('=200 and bare = give the static target status 200', async () => {
    const { proxy } = await site();
    for (const p of ['/eq200', '/eq']) {
      const res = await request(proxy.url(p));
      expect([res.status, res.body]).toEqual([200, 'nf page']);
      expect(res.headers['last-modified']).toBeDefined();
    }
  });

  it('a named location is proxied with method and URI kept; status is the error unless =', async () => {
    const { proxy, backend } = await site();
    expect(await request(proxy.url('/named'))).toMatchObject({ status: 404, body: 'backend GET /named 0' });
    expect(await request(proxy.url('/namedeq'))).toMatchObject({ status: 200, body: 'backend GET /namedeq 0' });
    const post = await request(proxy.url('/postn'), { method: 'POST', body: 'hello' });
    expect([post.status, post.body]).toEqual([405, 'backend POST /postn 0']);
    expect(backend.seen.map((s) => s.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('a URI target is proxied with its args, as GET (HEAD stays HEAD)', async () => {
    const { proxy, backend } = await site();
    expect(await request(proxy.url('/toproxy?q=1'))).toMatchObject({ status: 404, body: 'backend GET /p/x?a=1 0' });
    const post = await request(proxy.url('/post'), { method: 'POST', body: 'hello' });
    expect([post.status, post.body]).toEqual([405, 'backend GET /p/y 0']);
    const head = await request(proxy.url('/toproxy'), { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([404, '']);
    expect(backend.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /p/x?a=1', 'GET /p/y', 'HEAD /p/x?a=1']);
    expect(backend.seen[1]!.headers['content-length']).toBeUndefined();
  });

  it('an external URL redirects with 302 or the =code given', async () => {
    const { proxy } = await site();
    const a = await request(proxy.url('/ext'));
    expect([a.status, a.headers.location]).toEqual([302, 'http://example.com/x']);
    const b = await request(proxy.url('/ext301'));
    expect([b.status, b.headers.location]).toEqual([301, 'http://example.com/x']);
  });

  it('a return target answers with its body and the original status', async () => {
    const { proxy } = await site();
    expect(await request(proxy.url('/ret'))).toMatchObject({ status: 404, body: 'ret body' });
  });

  it('an error while serving the page gives the built-in page (recursive_error_pages off)', async () => {
    const { proxy } = await site();
    const missing = await request(proxy.url('/missing'));
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('<title>404 Not Found</title>');
    const dead = await request(proxy.url('/fbdead'));
    expect(dead.status).toBe(502);
    expect(dead.body).toContain('<title>502 Bad Gateway</title>');
  });

  it('proxy_intercept_errors replaces an upstream error with a static page', async () => {
    const { proxy } = await site();
    expect(await request(proxy.url('/icpt'))).toMatchObject({ status: 500, body: 'fifty x' });
  });

  it('keeps the connection alive after pages served by a file and by a proxy', async () => {
    const { proxy } = await site();
    const out = await rawExchange(
      proxy.port(),
      'GET /down HTTP/1.1\r\nHost: x\r\n\r\nGET /named HTTP/1.1\r\nHost: x\r\n\r\nGET /eq HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      3000,
    );
    expect(statuses(out)).toEqual([502, 404, 200]);
    expect(out).toContain('fifty x');
    expect(out).toContain('backend GET /named 0');
    expect(out).toMatch(/nf page$/);
  });

  it('413 gets the error page and the unread body closes the connection', async () => {
    const { proxy } = await site('location /small { client_max_body_size 4; error_page 413 /50x.html; }');
    const out = await rawExchange(proxy.port(), 'POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc', 3000);
    expect(statuses(out)).toEqual([413]);
    expect(out).toMatch(/Connection: close\r\n/);
    expect(out).toMatch(/fifty x$/);
  });
});
