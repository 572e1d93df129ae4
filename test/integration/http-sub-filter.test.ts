/**
 * sub_filter through real sockets. Every expectation is nginx 1.22's answer to the same request
 * (checked with nginx under a temp prefix).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, onTestFinished } from 'vitest';
import { request, startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';

const PAGE = `<html><body>${'hello world, this is some text. '.repeat(20)}</body></html>\n`;

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-sub-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'a.html'), PAGE);
  writeFileSync(path.join(root, 'b.txt'), 'x'.repeat(100));
  return root;
}

describe('sub_filter', () => {
  it('replaces case-insensitively, once per string by default, with variables in the replacement; drops the validators', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; sub_filter 'HELLO' 'bye $uri'; sub_filter text TXT; } }`);
    const res = await request(proxy.url('/a.html'));
    expect(res.body).toBe(PAGE.replace('hello', 'bye /a.html').replace('text', 'TXT'));
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.headers['accept-ranges']).toBeUndefined();
    // sub_filter_last_modified off: neither Last-Modified nor ETag
    expect([res.headers['last-modified'], res.headers.etag]).toEqual([undefined, undefined]);
    // text/plain is not a sub_filter type by default
    expect((await request(proxy.url('/b.txt'))).body).toBe('x'.repeat(100));
  });

  it('sub_filter_once off replaces every match, left to right without overlap; the first string in config order wins at a place', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; sub_filter_once off;
      location /p/ { alias ${root}/; sub_filter 'hello' 'B'; sub_filter 'hello world' 'A'; }
      location /q/ { alias ${root}/; sub_filter 'hello world' 'A'; sub_filter 'hello' 'B'; }
      location /t/ { alias ${root}/; sub_filter xx y; sub_filter_types text/plain; } } }`);
    expect((await request(proxy.url('/p/a.html'))).body).toBe(PAGE.replaceAll('hello', 'B'));
    expect((await request(proxy.url('/q/a.html'))).body).toBe(PAGE.replaceAll('hello world', 'A'));
    expect((await request(proxy.url('/t/b.txt'))).body).toBe('y'.repeat(50));
  });

  it('sub_filter_last_modified on keeps Last-Modified and a weak ETag', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; sub_filter hello bye; sub_filter_last_modified on; } }`);
    const res = await request(proxy.url('/a.html'));
    expect(res.headers['last-modified']).toBeDefined();
    expect(res.headers.etag).toMatch(/^W\/"/);
  });

  it('finds a match that spans two pieces of a streamed proxied body', async () => {
    const backend = await startHttpBackend('b', (req, res) => {
      res.setHeader('content-type', 'text/html');
      res.setHeader('etag', '"e"');
      res.write('<p>one HEL');
      setTimeout(() => res.write('LO two hel'), 30);
      setTimeout(() => res.end('lo three</p>'), 60);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; sub_filter hello '[$request_method]'; sub_filter_once off;
      location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const res = await request(proxy.url('/'));
    expect(res.body).toBe('<p>one [GET] two [GET] three</p>');
    expect(res.headers.etag).toBeUndefined();
  });

  it('leaves a Content-Encoded upstream body alone; runs before gzip when both apply', async () => {
    const backend = await startHttpBackend('b', (req, res) => {
      res.setHeader('content-type', 'text/html');
      if (req.url === '/enc') res.setHeader('content-encoding', 'identity-ish');
      res.end('<p>hello world, hello everyone</p>');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; sub_filter hello bye; gzip on;
      location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const enc = await request(proxy.url('/enc'), { headers: { 'accept-encoding': 'gzip' } });
    expect([enc.headers['content-encoding'], enc.body]).toEqual(['identity-ish', '<p>hello world, hello everyone</p>']);
    const zipped = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve) => {
      http.get(proxy.url('/'), { agent: false, headers: { 'accept-encoding': 'gzip' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
      });
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).toString()).toBe('<p>bye world, hello everyone</p>');
  });

  it('an HTTP/1.0 client gets the filtered body delimited by the end of the connection', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; sub_filter hello bye; } }`);
    const { rawExchange } = await import('../helpers/backend.js');
    const raw = await rawExchange(proxy.port(), 'GET /a.html HTTP/1.0\r\nHost: x\r\n\r\n', 2000);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw).not.toMatch(/Transfer-Encoding|Content-Length/);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe(PAGE.replace('hello', 'bye'));
  });

  it('a chunked upstream body is filtered for HTTP/1.0 (close-delimited) and HTTP/2 clients', async () => {
    const backend = await startHttpBackend('b', (_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.write('<p>hel');
      setTimeout(() => res.end('lo</p>'), 20);
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; sub_filter hello bye;
      location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const { rawExchange } = await import('../helpers/backend.js');
    const raw = await rawExchange(proxy.port(), 'GET / HTTP/1.0\r\nHost: x\r\n\r\n', 2000);
    expect(raw).toMatch(/\r\nConnection: close\r\n/);
    expect(raw.slice(raw.indexOf('\r\n\r\n') + 4)).toBe('<p>bye</p>');
    const { h2connect, h2request } = await import('../http2/h2-helpers.js');
    const session = await h2connect(`http://127.0.0.1:${proxy.port()}`);
    const res = await h2request(session, { ':path': '/' });
    expect([res.status, res.text]).toEqual([200, '<p>bye</p>']);
  });
});
