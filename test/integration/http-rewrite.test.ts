/**
 * rewrite / set through the real proxy. Expected answers were taken from nginx 1.22 with the
 * same config (/work/shared/tools/ask-nginx), so these tables are nginx's behaviour.
 */
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { request, startHttpBackend } from '../helpers/backend.js';

const SERVER = `
    set $who server;
    rewrite ^/old/(.*)$ /new/$1 last;
    rewrite ^/ext$ http://example.org/x;
    rewrite ^/ext2$ http://example.org/x?;
    rewrite ^/perm/(.*)$ /p/$1 permanent;
    rewrite ^/red$ /r redirect;
    location /new/ { return 200 "new uri=$uri args=$args who=$who"; }
    location /loop/ { rewrite ^/loop/(.*)$ /loop/$1 last; }
    location /brk/ { rewrite ^/brk/(.*)$ /b/$1 break; set $who loc; return 200 "brk uri=$uri who=$who"; }
    location /last/ { rewrite ^/last/(.*)$ /new/$1?a=b last; return 200 "not here"; }
    location /q/ { rewrite ^/q/(.*)$ /new/$1? last; }
    location /seq/ { set $v 1; rewrite ^ /new/x; set $v 2; return 200 "seq uri=$uri v=$v"; }
    location = /capt { rewrite ^/(c)(a)pt$ /new/$2$1 last; }
    location /noflag/ { rewrite ^/noflag/(.*)$ /new/$1; }
    location /bare/ { rewrite ^/bare/(.*)$ /new/$1; break; add_header X-Loc bare always; }`;

describe('rewrite and set (nginx semantics)', () => {
  it('answers as nginx does', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root /nonexistent-tsproxy-root; ${SERVER} } }`);
    const port = proxy.port();
    const get = (p: string) => request(proxy.url(p), { headers: { host: 'a' } });
    const table: [string, number, string | RegExp | null, string | null][] = [
      ['/old/x?q=1', 200, 'new uri=/new/x args=q=1 who=server', null],
      ['/ext?q=1', 302, null, 'http://example.org/x?q=1'],
      ['/ext2?q=1', 302, null, 'http://example.org/x'],
      ['/perm/z?q=1', 301, null, `http://a:${port}/p/z?q=1`],
      ['/red', 302, null, `http://a:${port}/r`],
      ['/loop/x', 500, null, null],
      ['/brk/x', 404, null, null],
      ['/last/y?q=1', 200, 'new uri=/new/y args=a=b&q=1 who=server', null],
      ['/q/y?q=1', 200, 'new uri=/new/y args= who=server', null],
      ['/seq/', 200, 'seq uri=/new/x v=2', null],
      ['/capt', 200, 'new uri=/new/ac args= who=server', null],
      ['/noflag/z', 200, 'new uri=/new/z args= who=server', null],
      // a bare break after a rewrite keeps the location (nginx: the location is not searched again)
      ['/bare/z', 404, null, null],
    ];
    for (const [path, status, body, location] of table) {
      const res = await get(path);
      expect({ path, status: res.status }).toEqual({ path, status });
      if (body !== null) expect(res.body).toBe(body);
      if (location !== null) expect(res.headers.location).toBe(location);
      if (path === '/bare/z') expect(res.headers['x-loc']).toBe('bare');
    }
  });

  it('proxies the rewritten URI; break keeps it even when proxy_pass has a URI', async () => {
    const b = await startHttpBackend('B', (req, res) => res.end(req.url));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /api/ { rewrite ^/api/(.*)$ /v2/$1 break; proxy_pass http://127.0.0.1:${b.port}/ignored/; }
      location /v1/ { rewrite ^/v1/(.*)$ /v3/$1 last; }
      location /v3/ { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    expect((await request(proxy.url('/api/a%20b?x=1'))).body).toBe('/v2/a%20b?x=1');
    expect((await request(proxy.url('/v1/k?y=2'))).body).toBe('/v3/k?y=2');
  });

  it('selects the upstream from a variable set at server level', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const proxy = await startProxy(`http {
      upstream one { server 127.0.0.1:${a.port}; }
      map $http_x_pick $picked { default one; two 127.0.0.1:${b.port}; bad nohost.invalid:1; }
      server { listen 127.0.0.1:0;
        set $backend one;
        location /set/ { proxy_pass http://$backend; }
        location /map/ { proxy_pass http://$picked; } } }`);
    expect((await request(proxy.url('/set/'))).body).toBe('A');
    expect((await request(proxy.url('/map/'))).body).toBe('A');
    expect((await request(proxy.url('/map/'), { headers: { 'x-pick': 'two' } })).body).toBe('B');
    expect((await request(proxy.url('/map/x'), { headers: { 'x-pick': 'two' } })).body).toBe('B');
    expect(b.seen.map((s) => [s.url, s.headers.host])).toEqual([['/map/', `127.0.0.1:${b.port}`], ['/map/x', `127.0.0.1:${b.port}`]]);
    expect((await request(proxy.url('/map/'), { headers: { 'x-pick': 'bad' } })).status).toBe(502);
  });

  it('proxy_pass http://$var: a value with a path sends that path as the URI; an upstream name works with one too (nginx)', async () => {
    const b = await startHttpBackend('B', (req, res) => res.end(`${req.url} host=${req.headers.host}`));
    const proxy = await startProxy(`http {
      upstream u { server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0;
        location /a/ { set $b 127.0.0.1:${b.port}/x/; proxy_pass http://$b; }
        location /b/ { set $b u/y/; proxy_pass http://$b; }
        location /c/ { set $b u; proxy_pass http://$b; }
        location /d/ { set $b 127.0.0.1:${b.port}; proxy_pass http://$b/z$uri; } } }`);
    // answers of nginx 1.22 for the same config (ask-nginx)
    expect((await request(proxy.url('/a/foo?q=1'))).body).toBe(`/x/ host=127.0.0.1:${b.port}`);
    expect((await request(proxy.url('/b/foo?q=1'))).body).toBe('/y/ host=u');
    expect((await request(proxy.url('/c/foo?q=1'))).body).toBe('/c/foo?q=1 host=u');
    expect((await request(proxy.url('/d/foo?q=1'))).body).toBe(`/z/d/foo host=127.0.0.1:${b.port}`);
  });
});
