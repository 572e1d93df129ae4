/**
 * js_header_filter and js_body_filter on proxied, static and local answers, through real sockets.
 * The handlers are test/fixtures/njs/filters.js; every expected head and body is what nginx 1.22 +
 * njs 0.7.9 answered for the same config, script and backend (checked with ask-nginx).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request, type Reply } from './access/helpers.js';
import { startHttpBackend } from '../helpers/backend.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/filters.js');

async function filterProxy() {
  const b = await startHttpBackend('B', (req, res) => {
    req.resume();
    res.removeHeader('x-backend');
    if (req.url === '/json') {
      res.setHeader('content-type', 'application/json');
      res.end('{"a":[1,2],"b":"x"}');
    } else if (req.url === '/chunked') {
      res.setHeader('x-multi', ['1', '2']);
      res.setHeader('x-drop', 'gone');
      res.end('abcd');
    } else {
      res.setHeader('content-type', 'text/plain');
      res.end('plain body');
    }
  });
  const up = `proxy_pass http://127.0.0.1:${b.port}/;`;
  return startAccessProxy(`http {
    js_import DIR/filters.js;
    server {
      listen 127.0.0.1:0;
      location /p/ { ${up} js_header_filter filters.hdr; js_body_filter filters.upper; }
      location /c/ { ${up} js_header_filter filters.hdr; js_body_filter filters.count; }
      location /f/ { ${up} js_header_filter filters.hdr; js_body_filter filters.first; }
      location /b/ { ${up} js_body_filter filters.boom; }
      location /hb/ { ${up} js_header_filter filters.hboom; }
      location /buf/ { ${up} js_header_filter filters.hdr; js_body_filter filters.buf buffer_type=buffer; }
      location /d/ { ${up} js_header_filter filters.hdr; js_body_filter filters.drop; }
      location /nocl/ { ${up} js_body_filter filters.upper; }
      location /h/ { ${up} js_header_filter filters.hdr; }
      location /s.txt { root DIR/www; js_header_filter filters.hdr; js_body_filter filters.upper; }
      location /ret { return 200 "returned text"; js_header_filter filters.hdr; js_body_filter filters.upper; }
      location /r404 { return 404; js_header_filter filters.hdr; }
    }
  }`, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'filters.js'));
    fs.mkdirSync(path.join(dir, 'www'));
    fs.writeFileSync(path.join(dir, 'www/s.txt'), 'hello static world\n');
  });
}

/** The head as nginx's test saw it (Server, Date, Connection aside), then the body. */
function shown(r: Reply): string {
  const heads = Object.entries(r.headers).filter(([n]) => !['server', 'date', 'connection', 'keep-alive', 'last-modified', 'etag'].includes(n))
    .map(([n, v]) => `${n}: ${Array.isArray(v) ? v.join(', ') : v}`);
  return `${r.status}\n${heads.join('\n')}\n\n${r.body}`;
}

describe('js_header_filter / js_body_filter (nginx + njs answers)', () => {
  test('proxied: headersOut edits, a body filter that changes the body (re-framed chunked)', async () => {
    const p = await filterProxy();
    expect(shown(await request(p.port, '/p/chunked'))).toBe('200\nx-multi: 1, 2\nx-filtered: yes\nx-status: 200\ntransfer-encoding: chunked\n\nABCD');
    expect((await request(p.port, '/c/json')).body).toBe('[19][0 last]');
    expect((await request(p.port, '/f/chunked')).body).toBe('ABCD');
    expect((await request(p.port, '/buf/chunked')).body).toBe('object true 4object true 0');
    expect((await request(p.port, '/d/chunked')).body).toBe('only end');
  });

  test('a body filter alone drops Content-Length (nginx + njs do); a header filter alone keeps the framing', async () => {
    const p = await filterProxy();
    const r = await request(p.port, '/nocl/json');
    expect(shown(r)).toBe('200\ncontent-type: application/json\ntransfer-encoding: chunked\n\n{"A":[1,2],"B":"X"}');
    const h = await request(p.port, '/h/x');
    expect([h.headers['content-length'], h.headers['x-filtered'], h.body]).toEqual(['10', 'yes', 'plain body']);
  });

  test('static files and local answers (return, an error page) go through the filters', async () => {
    const p = await filterProxy();
    const s = await request(p.port, '/s.txt');
    expect(shown(s)).toBe('200\ncontent-type: text/plain\nx-filtered: yes\nx-status: 200\ntransfer-encoding: chunked\n\nHELLO STATIC WORLD\n');
    // nginx + njs keep the file's validators as they are (not weakened)
    expect(s.headers.etag).toMatch(/^"[0-9a-f]+-13"$/);
    expect(shown(await request(p.port, '/ret'))).toBe('200\ncontent-type: text/plain\nx-filtered: yes\nx-status: 200\ntransfer-encoding: chunked\n\nRETURNED TEXT');
    const e = await request(p.port, '/r404');
    expect([e.status, e.headers['x-filtered'], e.headers['x-status']]).toEqual([404, 'yes', '404']);
    expect(e.body).toContain('<center><h1>404 Not Found</h1></center>');
  });

  test('a filter that throws: "js exception" logged, the connection closed without an answer', async () => {
    const p = await filterProxy();
    await expect(request(p.port, '/b/x', { headers: { host: 'a' } })).rejects.toThrow();
    await expect(request(p.port, '/hb/x', { headers: { host: 'a' } })).rejects.toThrow();
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js exception: Error: header kaput');
    expect(p.lines().join('\n')).toContain('[error] js exception: Error: filter kaput');
    expect((await request(p.port, '/p/chunked')).body).toBe('ABCD');
  });
});
