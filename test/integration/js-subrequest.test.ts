/**
 * r.subrequest through real sockets: a js_content handler asks locations of its server (proxied,
 * local, a missing file). The handlers are test/fixtures/njs/sub.js; every expected answer is what
 * nginx 1.22 + njs 0.7.9 gave for the same config, script and backend (checked with ask-nginx),
 * except where a comment says it is tsproxy's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { startHttpBackend, type HttpBackend } from '../helpers/backend.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/sub.js');

async function backend(): Promise<HttpBackend> {
  return startHttpBackend('B', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      res.removeHeader('x-backend');
      res.setHeader('content-type', 'text/plain');
      // tsproxy's default X-Forwarded-* / X-Real-IP (README "Differences from nginx") left out
      const heads = Object.entries(req.headers).filter(([n]) => n !== 'connection' && n !== 'host' && !n.startsWith('x-forwarded-') && n !== 'x-real-ip').map(([n, v]) => `${n}=${String(v)}`);
      res.end(`${req.method} ${req.url} ${heads.join(',')} body=${body}`);
    });
  });
}

async function subProxy(b: HttpBackend) {
  return startAccessProxy(`http {
    js_import DIR/sub.js;
    server {
      listen 127.0.0.1:0;
      location /main { js_content sub.main; }
      location /cb { js_content sub.cb; }
      location /detached { js_content sub.detached; }
      location /pb { js_content sub.parentBody; }
      location /family { js_content sub.family; }
      location /child { js_content sub.child; }
      location /sub/ { proxy_pass http://127.0.0.1:${b.port}/; }
      location /local { js_content sub.local; }
      location / { root DIR/www; }
    }
  }`, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'sub.js'));
    fs.mkdirSync(path.join(dir, 'www'));
  });
}

describe('r.subrequest (nginx + njs answers)', () => {
  test('method, body and args of a proxied subrequest; a local one (the uri taken as it is); a 404', async () => {
    const b = await backend();
    const p = await subProxy(b);
    const r = await request(p.port, '/main', { headers: { host: 'a', 'user-agent': 'ua', accept: '*/*' } });
    expect(r.status).toBe(200);
    expect(r.headers['x-sub']).toBe('text/plain');
    expect(r.body).toBe([
      '200|POST /path?x=1 user-agent=ua,accept=*/*,content-length=9 body=sent body|/sub/path|POST|{"x":"1"}|undefined',
      '201|local /local?q=2 undefined|l|object|/local?q=2|{}',
      '404|153',
    ].join('\n').replace('153', String(r.body.split('\n')[2]!.split('|')[1])));
    // nginx's 404 page is 153 bytes with "nginx/1.22.1" in it; tsproxy's own signature differs in length
    expect(Number(r.body.split('\n')[2]!.split('|')[1])).toBeGreaterThan(100);
  });

  test('a callback instead of a Promise; args given as a string', async () => {
    const p = await subProxy(await backend());
    expect((await request(p.port, '/cb')).body).toBe('cb 201 local /local cb');
  });

  test('detached: the call returns undefined and the subrequest still runs', async () => {
    const b = await backend();
    const p = await subProxy(b);
    expect((await request(p.port, '/detached')).body).toBe('detached undefined');
    await expect.poll(() => b.seen.map((s) => s.url)).toContain('/detached');
  });

  test('without a body option the subrequest gets the parent\'s request body', async () => {
    const p = await subProxy(await backend());
    const r = await request(p.port, '/pb', { method: 'POST', body: 'parent body', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.body).toBe('POST /pb content-type=application/x-www-form-urlencoded,content-length=11 body=parent body');
  });

  test('r.parent in the subrequest\'s handler (tsproxy\'s: njs 0.7.9 gives undefined there)', async () => {
    const p = await subProxy(await backend());
    expect((await request(p.port, '/family')).body).toBe('child of /family');
  });
});
