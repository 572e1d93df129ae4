/**
 * gzip, gzip_static and chunked_transfer_encoding through real sockets. Every expectation is
 * nginx 1.22's answer to the same request (checked with ask-nginx / nginx under a temp prefix),
 * unless a comment names it as one of tsproxy's Differences.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { rawExchange, startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';
import { h2connect, h2request } from '../http2/h2-helpers.js';

const PAGE = `<html><body>${'hello world, this is some text. '.repeat(20)}</body></html>\n`;

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request (fresh socket); the body as raw bytes, never decoded. */
function get(url: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, headers, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const GZ = { 'accept-encoding': 'gzip, deflate' };

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-gzip-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'a.html'), PAGE);
  writeFileSync(path.join(root, 'tiny.html'), '0123456789');
  writeFileSync(path.join(root, 'b.txt'), 'x'.repeat(100));
  writeFileSync(path.join(root, 'pre.html'), PAGE);
  writeFileSync(path.join(root, 'pre.html.gz'), gzipSync('GZVERSION'));
  writeFileSync(path.join(root, 'only.css.gz'), gzipSync('body{}'));
  return root;
}

describe('gzip on static files', () => {
  it('compresses text/html for a client that accepts gzip: chunked, weak ETag, no Accept-Ranges, no Content-Length', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; } }`);
    const res = await get(proxy.url('/a.html'), GZ);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['accept-ranges']).toBeUndefined();
    expect(res.headers.etag).toMatch(/^W\/"[0-9a-f]+-29b"$/);
    expect(res.headers['last-modified']).toBeDefined();
    expect(res.headers.vary).toBeUndefined();
    expect(gunzipSync(res.body).toString()).toBe(PAGE);
    // nginx writes zlib's header for level 1: XFL 4 (fastest), OS 3 (unix)
    expect([...res.body.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
    // without Accept-Encoding: the file as it is
    const plain = await get(proxy.url('/a.html'));
    expect([plain.headers['content-encoding'], plain.headers['content-length'], plain.headers['accept-ranges']]).toEqual([undefined, '667', 'bytes']);
    expect(plain.body.toString()).toBe(PAGE);
  });

  it('the weak ETag a compressed response carried gets a 304 with If-None-Match (weak comparison, nginx)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; } }`);
    const first = await get(proxy.url('/a.html'), GZ);
    const again = await get(proxy.url('/a.html'), { ...GZ, 'if-none-match': first.headers.etag! });
    // nginx sends the 304 with the file's strong ETag (gzip leaves a 304 alone)
    expect([again.status, `W/${again.headers.etag}`]).toEqual([304, first.headers.etag]);
    const other = await get(proxy.url('/a.html'), { ...GZ, 'if-none-match': 'W/"0-0"' });
    expect(other.status).toBe(200);
  });

  it('ignores a Range when it compresses (200, whole body); HEAD gets the compressed head without framing', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; } }`);
    const ranged = await get(proxy.url('/a.html'), { ...GZ, range: 'bytes=0-10' });
    expect([ranged.status, ranged.headers['content-range'], gunzipSync(ranged.body).toString()]).toEqual([200, undefined, PAGE]);
    const head = await rawExchange(proxy.port(), 'HEAD /a.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n');
    expect(head).toMatch(/\r\nContent-Encoding: gzip\r\n/);
    expect(head).not.toMatch(/Content-Length|Transfer-Encoding/);
    expect(head.endsWith('\r\n\r\n')).toBe(true);
  });

  it('leaves alone: short files (gzip_min_length 20), types not in gzip_types, HTTP/1.0 (gzip_http_version 1.1), q=0', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; } }`);
    for (const [p, h] of [['/tiny.html', GZ], ['/b.txt', GZ], ['/a.html', { 'accept-encoding': 'gzip;q=0' }], ['/a.html', { 'accept-encoding': 'xgzip' }]] as const) {
      const res = await get(proxy.url(p), h);
      expect(res.headers['content-encoding'], p).toBeUndefined();
      expect(res.headers['content-length'], p).toBeDefined();
    }
    const old = await rawExchange(proxy.port(), 'GET /a.html HTTP/1.0\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n');
    expect(old).toMatch(/\r\nContent-Length: 667\r\n/);
    expect(old).not.toMatch(/Content-Encoding/);
  });

  it('reads Accept-Encoding as nginx (caseless token, q-values, the first "gzip" decides)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; } }`);
    const cases: [string, boolean][] = [
      ['gzip; q=0.5', true], ['gzip;q=0.5', true], ['gzip;q=0', false], ['GZIP', true], ['gzipx, gzip', false],
      ['deflate, gzip;q=1.0', true], ['x-gzip', false], ['gzip;q=0.001', true], ['gzip ;q=1', true],
    ];
    for (const [ae, zipped] of cases) {
      expect((await get(proxy.url('/a.html'), { 'accept-encoding': ae })).headers['content-encoding'], ae).toBe(zipped ? 'gzip' : undefined);
    }
  });

  it('gzip_types, gzip_min_length, gzip_comp_level, gzip_vary (Vary also for clients that get it plain)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(
      `http { server { listen 127.0.0.1:0; root ${root}; gzip on; gzip_types text/plain; gzip_min_length 5; gzip_comp_level 9; gzip_vary on; gzip_buffers 16 8k; } }`,
    );
    const txt = await get(proxy.url('/b.txt'), GZ);
    expect([txt.headers['content-encoding'], txt.headers.vary]).toEqual(['gzip', 'Accept-Encoding']);
    expect(txt.body[8]).toBe(2); // XFL: best compression
    expect(gunzipSync(txt.body).toString()).toBe('x'.repeat(100));
    const tiny = await get(proxy.url('/tiny.html'), GZ);
    expect(gunzipSync(tiny.body).toString()).toBe('0123456789');
    const plain = await get(proxy.url('/b.txt'));
    expect([plain.headers['content-encoding'], plain.headers.vary, plain.headers['content-length']]).toEqual([undefined, 'Accept-Encoding', '100']);
  });

  it('gzip_disable: a caseless regex on User-Agent, and msie6', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; gzip_disable "^Old" msie6; } }`);
    const enc = async (ua: string) => (await get(proxy.url('/a.html'), { ...GZ, 'user-agent': ua })).headers['content-encoding'];
    expect(await enc('oldbrowser/1')).toBeUndefined();
    expect(await enc('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)')).toBeUndefined();
    expect(await enc('Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)')).toBe('gzip');
    expect(await enc('Mozilla/5.0')).toBe('gzip');
  });

  it('$gzip_ratio in the access log, "-" for a response not compressed', async () => {
    const root = makeRoot();
    const log = path.join(root, 'access.log');
    appendFileSync(log, '');
    const proxy = await startProxy(
      `http { log_format r "$uri $gzip_ratio"; server { listen 127.0.0.1:0; root ${root}; gzip on; access_log ${log} r; } }`,
    );
    await get(proxy.url('/a.html'), GZ);
    await get(proxy.url('/a.html'));
    await expect.poll(() => readFileSync(log, 'utf8').split('\n').length).toBe(3);
    const [zipped, plain] = readFileSync(log, 'utf8').split('\n');
    expect(zipped).toMatch(/^\/a\.html \d+\.\d\d$/);
    expect(Number(zipped!.split(' ')[1])).toBeGreaterThan(5);
    expect(plain).toBe('/a.html -');
  });
});

describe('gzip on proxied responses and local answers', () => {
  async function setup(location: string): Promise<{ url: (p: string) => string }> {
    const backend = await startHttpBackend('b', (req, res) => {
      const [, kind] = /^\/hdr\/(\w+)/.exec(req.url ?? '') ?? [];
      res.setHeader('content-type', kind === 'txt' ? 'text/plain' : 'text/html; charset=utf-8');
      if (kind === 'enc') res.setHeader('content-encoding', 'br');
      if (kind === 'etag') {
        res.setHeader('etag', '"abc"');
        res.setHeader('last-modified', 'Mon, 01 Jan 2024 00:00:00 GMT');
      }
      if (kind === 'nt') res.setHeader('cache-control', 'no-transform');
      if (kind === 'cc') res.setHeader('cache-control', 'no-cache');
      if (kind === 'past') res.setHeader('expires', 'Mon, 01 Jan 2024 00:00:00 GMT');
      if (kind === 'future') res.setHeader('expires', new Date(Date.now() + 3_600_000).toUTCString());
      if (kind === 'len') res.setHeader('content-length', String(PAGE.length));
      res.end(PAGE);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; gzip on; ${location} location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    return { url: (p) => proxy.url(p) };
  }

  it('compresses a proxied text/html body (chunked or with a length) and weakens its ETag; leaves Content-Encoded ones alone', async () => {
    const { url } = await setup('');
    for (const p of ['/hdr/plain', '/hdr/len', '/hdr/etag']) {
      const res = await get(url(p), GZ);
      expect(res.headers['content-encoding'], p).toBe('gzip');
      expect(res.headers['content-length'], p).toBeUndefined();
      expect(gunzipSync(res.body).toString(), p).toBe(PAGE);
    }
    expect((await get(url('/hdr/etag'), GZ)).headers.etag).toBe('W/"abc"');
    const enc = await get(url('/hdr/enc'), GZ);
    expect([enc.headers['content-encoding'], enc.body.toString()]).toEqual(['br', PAGE]);
    expect((await get(url('/hdr/txt'), GZ)).headers['content-encoding']).toBeUndefined();
  });

  it('leaves Cache-Control: no-transform alone (a tsproxy Difference: nginx compresses it)', async () => {
    const { url } = await setup('');
    const res = await get(url('/hdr/nt'), GZ);
    expect([res.headers['content-encoding'], res.body.toString()]).toEqual([undefined, PAGE]);
  });

  it('gzip_proxied reads Via on the request and Expires / Cache-Control / Last-Modified on the response, as nginx', async () => {
    const via = { ...GZ, via: '1.1 cache' };
    const off = await setup('');
    expect((await get(off.url('/hdr/plain'), via)).headers['content-encoding']).toBeUndefined();
    expect((await get(off.url('/hdr/plain'), GZ)).headers['content-encoding']).toBe('gzip');
    const any = await setup('gzip_proxied any;');
    expect((await get(any.url('/hdr/plain'), via)).headers['content-encoding']).toBe('gzip');
    const expired = await setup('gzip_proxied expired;');
    expect((await get(expired.url('/hdr/past'), via)).headers['content-encoding']).toBe('gzip');
    expect((await get(expired.url('/hdr/future'), via)).headers['content-encoding']).toBeUndefined();
    // none of the rules speaks of a response without Expires / Cache-Control: nginx compresses it
    expect((await get(expired.url('/hdr/plain'), via)).headers['content-encoding']).toBe('gzip');
    const noCache = await setup('gzip_proxied no-cache;');
    expect((await get(noCache.url('/hdr/cc'), via)).headers['content-encoding']).toBe('gzip');
    const noLm = await setup('gzip_proxied no_last_modified;');
    expect((await get(noLm.url('/hdr/etag'), via)).headers['content-encoding']).toBeUndefined();
    expect((await get(noLm.url('/hdr/plain'), via)).headers['content-encoding']).toBe('gzip');
    const auth = await setup('gzip_proxied auth;');
    expect((await get(auth.url('/hdr/plain'), { ...via, authorization: 'Basic eDp5' })).headers['content-encoding']).toBe('gzip');
  });

  it('sends each piece of a slow body at once (an SSE stream is not held back)', async () => {
    let finish: (() => void) | null = null;
    const backend = await startHttpBackend('b', (_req, res) => {
      res.setHeader('content-type', 'text/event-stream');
      res.write('data: first\n\n');
      finish = () => res.end('data: last\n\n');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; gzip on; gzip_types text/event-stream; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const got: Buffer[] = [];
    let headers: http.IncomingHttpHeaders = {};
    const done = new Promise<void>((resolve) => {
      http.get(proxy.url('/'), { agent: false, headers: GZ }, (res) => {
        headers = res.headers;
        res.on('data', (c: Buffer) => got.push(c));
        res.on('end', resolve);
      });
    });
    // the first event inflates from what arrived, before the upstream sent the rest
    const { inflateRawSync, constants } = await import('node:zlib');
    await expect.poll(() => {
      const all = Buffer.concat(got);
      return all.length > 10 ? inflateRawSync(all.subarray(10), { finishFlush: constants.Z_SYNC_FLUSH }).toString() : '';
    }).toBe('data: first\n\n');
    expect(headers['content-encoding']).toBe('gzip');
    finish!();
    await done;
    expect(gunzipSync(Buffer.concat(got)).toString()).toBe('data: first\n\ndata: last\n\n');
  });

  it('compresses return bodies and error pages (200, 403, 404), not other statuses', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; gzip on; gzip_types text/plain;
      location /ret { return 200 "return body that is longer than twenty bytes"; }
      location /e404 { return 404; }
      location /e500 { return 500; } } }`);
    const ret = await get(proxy.url('/ret'), GZ);
    expect([ret.headers['content-encoding'], ret.headers['transfer-encoding'], gunzipSync(ret.body).toString()])
      .toEqual(['gzip', 'chunked', 'return body that is longer than twenty bytes']);
    const nf = await get(proxy.url('/e404'), GZ);
    expect([nf.status, nf.headers['content-encoding']]).toEqual([404, 'gzip']);
    expect(gunzipSync(nf.body).toString()).toContain('<title>404 Not Found</title>');
    const ie = await get(proxy.url('/e500'), GZ);
    expect([ie.status, ie.headers['content-encoding']]).toEqual([500, undefined]);
  });

  it('compresses for HTTP/2 clients too (DATA frames, no chunked framing)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; root ${root}; gzip on; } }`);
    const session = await h2connect(`http://127.0.0.1:${proxy.port()}`);
    const res = await h2request(session, { ':path': '/a.html', 'accept-encoding': 'gzip' });
    expect([res.status, res.headers['content-encoding'], res.headers['content-length']]).toEqual([200, 'gzip', undefined]);
    expect(gunzipSync(res.body).toString()).toBe(PAGE);
  });
});

describe('gzip_static', () => {
  it('on: FILE.gz with the type of FILE and the .gz validators; Vary with gzip_vary, also for clients without gzip', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip_static on; gzip_vary on; } }`);
    const res = await get(proxy.url('/pre.html'), { ...GZ, range: 'bytes=0-3' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-length']).toBe(String(gzipSync('GZVERSION').length));
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(res.headers['accept-ranges']).toBeUndefined();
    expect(res.headers.etag).toMatch(new RegExp(`^"[0-9a-f]+-${gzipSync('GZVERSION').length.toString(16)}"$`));
    expect(gunzipSync(res.body).toString()).toBe('GZVERSION');
    const plain = await get(proxy.url('/pre.html'));
    expect([plain.headers['content-encoding'], plain.headers.vary, plain.body.toString()]).toEqual([undefined, 'Accept-Encoding', PAGE]);
    // no .gz: no Vary
    expect((await get(proxy.url('/a.html'))).headers.vary).toBeUndefined();
    // the .gz alone is enough
    const only = await get(proxy.url('/only.css'), GZ);
    expect([only.status, only.headers['content-type'], gunzipSync(only.body).toString()]).toEqual([200, 'text/css', 'body{}']);
    expect((await get(proxy.url('/only.css'))).status).toBe(404);
  });

  it('always: the .gz to every client, without Vary unless gzip_vary', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip_static always; } }`);
    const res = await get(proxy.url('/pre.html'));
    expect([res.headers['content-encoding'], res.headers.vary, gunzipSync(res.body).toString()]).toEqual(['gzip', undefined, 'GZVERSION']);
  });
});

describe('chunked_transfer_encoding', () => {
  it('off: a body of unknown length to an HTTP/1.1 client ends with the connection', async () => {
    const backend = await startHttpBackend('b', (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.write('part one, ');
      setTimeout(() => res.end('part two'), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; chunked_transfer_encoding off; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const raw = await rawExchange(proxy.port(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 2000);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw).not.toMatch(/Transfer-Encoding/);
    expect(raw.endsWith('\r\n\r\npart one, part two')).toBe(true);
  });

  it('off with gzip: the compressed body ends with the connection', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; gzip on; chunked_transfer_encoding off; } }`);
    const raw = await rawExchange(proxy.port(), 'GET /a.html HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n', 2000);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw).toMatch(/\r\nContent-Encoding: gzip\r\n/);
    expect(raw).not.toMatch(/Transfer-Encoding|Content-Length/);
    const body = Buffer.from(raw.slice(raw.indexOf('\r\n\r\n') + 4), 'latin1');
    expect(gunzipSync(body).toString()).toBe(PAGE);
  });
});
