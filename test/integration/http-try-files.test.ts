/**
 * try_files, index as an internal redirect, named locations, `internal`, and Debian's default
 * site, as nginx 1.22 answers them (each expectation checked with ask-nginx).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-try-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'a.txt'), 'hello\n');
  mkdirSync(path.join(root, 'sub'));
  writeFileSync(path.join(root, 'sub', 'index.htm'), 'idx\n');
  mkdirSync(path.join(root, 'noidx'));
  writeFileSync(path.join(root, 'index.nginx-debian.html'), 'debian welcome\n');
  return root;
}

describe("Debian's default site", () => {
  // /etc/nginx/sites-enabled/default of Debian's nginx package, with the root and port changed.
  it('serves index.nginx-debian.html through try_files $uri $uri/ =404 and index', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server {
      listen 127.0.0.1:0 default_server;
      root ${root};
      index index.html index.htm index.nginx-debian.html;
      server_name _;
      location / { try_files $uri $uri/ =404; }
    } }`);
    const home = await request(proxy.url('/'));
    expect([home.status, home.body, home.headers['content-type']]).toEqual([200, 'debian welcome\n', 'text/html']);
    expect(await request(proxy.url('/sub/'))).toMatchObject({ status: 200, body: 'idx\n' });
    expect(await request(proxy.url('/a.txt'))).toMatchObject({ status: 200, body: 'hello\n' });
    // nginx: $uri/ finds the directory, $uri becomes "/sub", the static module redirects.
    const sub = await request(proxy.url('/sub'), { headers: { host: 'x' } });
    expect([sub.status, sub.headers.location]).toEqual([301, `http://x:${proxy.port()}/sub/`]);
    expect((await request(proxy.url('/noidx/'))).status).toBe(403);
    expect((await request(proxy.url('/missing'))).status).toBe(404);
    const head = await rawExchange(proxy.port(), 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 15\r\n[\s\S]*\r\n\r\n$/);
  });
});

describe("Debian's /etc/nginx/sites-enabled/default itself", () => {
  // The file as the nginx package installs it (comments included), listen and root changed.
  it.runIf(existsSync('/etc/nginx/sites-enabled/default'))('loads and serves the welcome page', async () => {
    const root = makeRoot();
    const site = readFileSync('/etc/nginx/sites-enabled/default', 'utf8')
      .replace(/^\s*listen\s+\[::\]:80 default_server;$/m, '')
      .replace(/^\s*listen\s+80 default_server;$/m, 'listen 127.0.0.1:0 default_server;')
      .replace(/^\s*root \/var\/www\/html;$/m, `root ${root};`);
    expect(site).toContain(`root ${root};`);
    const proxy = await startProxy(`http { ${site} }`);
    expect(await request(proxy.url('/'))).toMatchObject({ status: 200, body: 'debian welcome\n' });
    expect((await request(proxy.url('/nothing-here'))).status).toBe(404);
  });
});

describe('try_files', () => {
  it('the fallback: =code, @named (URI and args kept), a URI (its own args only), a directory URI', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root}; index index.htm;
      location /code/ { try_files /nope =418; }
      location /named/ { try_files /nope $uri @fallback; }
      location @fallback { return 200 "named uri=$uri args=$args"; }
      location /uri/ { try_files /nope /echo; }
      location /uriargs/ { try_files /nope /echo?q=1; }
      location /dir/ { try_files /nope /sub/; }
      location = /echo { return 200 "uri=$uri args=$args"; } } }`);
    expect((await request(proxy.url('/code/x'))).status).toBe(418);
    expect(await request(proxy.url('/named/q?z=2'))).toMatchObject({ status: 200, body: 'named uri=/named/q args=z=2' });
    // nginx drops the request's args on a URI fallback without "?".
    expect(await request(proxy.url('/uri/a?k=1'))).toMatchObject({ status: 200, body: 'uri=/echo args=' });
    expect(await request(proxy.url('/uriargs/a?k=1'))).toMatchObject({ status: 200, body: 'uri=/echo args=q=1' });
    expect(await request(proxy.url('/dir/a'))).toMatchObject({ status: 200, body: 'idx\n' });
  });

  it('a found file becomes $uri and the location\'s handler runs (no new location lookup)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /x/ { try_files /a.txt =404; add_header X-Loc x; }
      location = /a.txt { return 500; } } }`);
    const res = await request(proxy.url('/x/anything'));
    expect([res.status, res.body, res.headers['x-loc']]).toEqual([200, 'hello\n', 'x']);
  });

  it('a name ending in "/" wants a directory, any other a file', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /t/ { try_files /sub /a.txt/ /a.txt =404; } } }`);
    // "/sub" is a directory (no file), "/a.txt/" is a file (no directory): the third wins.
    expect(await request(proxy.url('/t/'))).toMatchObject({ status: 200, body: 'hello\n' });
  });

  it('@named fallback proxies with the method and body of the request', async () => {
    const root = makeRoot();
    const backend = await startHttpBackend('b', (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => res.end(`${req.method} ${req.url} ${body}`));
    });
    const proxy = await startProxy(`http { upstream up { server 127.0.0.1:${backend.port}; }
      server { listen 127.0.0.1:0; root ${root};
        location / { try_files $uri @app; }
        location @app { proxy_pass http://up; } } }`);
    const res = await request(proxy.url('/api/x?y=1'), { method: 'POST', body: 'payload' });
    expect([res.status, res.body]).toEqual([200, 'POST /api/x?y=1 payload']);
    expect((await request(proxy.url('/a.txt'))).body).toBe('hello\n');
    // A body sent in pieces while the file test runs still reaches the backend whole.
    const raw = await rawExchange(proxy.port(), 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234', 600, { data: '56789', afterMs: 50 });
    expect(raw).toMatch(/POST \/p 0123456789$/);
  });

  it('the front-controller pattern: /index.php?$query_string reaches a regex proxy location', async () => {
    const root = makeRoot();
    const backend = await startHttpBackend('php', (req, res) => res.end(`app ${req.url}`));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location / { try_files $uri $uri/ /index.php?$query_string; }
      location ~ \\.php$ { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    expect((await request(proxy.url('/blog/post-1?page=2'))).body).toBe('app /index.php?page=2');
    expect((await request(proxy.url('/a.txt'))).body).toBe('hello\n');
  });

  it('an internal redirect cycle ends in 500 (nginx: 10 URI changes)', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /loop/ { try_files /nope /loop/again; } } }`);
    expect((await request(proxy.url('/loop/x'))).status).toBe(500);
    expect((await request(proxy.url('/a.txt'))).status).toBe(200);
  });
});

describe('index, named locations, internal', () => {
  it('index is an internal redirect: the index file is served by the location it matches', async () => {
    const root = makeRoot();
    writeFileSync(path.join(root, 'index.html'), 'top');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location / { index index.html; add_header X-From slash; }
      location = /index.html { add_header X-From exact; } } }`);
    const res = await request(proxy.url('/'));
    expect([res.body, res.headers['x-from']]).toEqual(['top', 'exact']);
  });

  it('an absolute index is a redirect without a test; several names: the first that exists', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /sub/ { index nope.html index.htm; }
      location /noidx/ { index missing.html /a.txt; } } }`);
    expect((await request(proxy.url('/sub/'))).body).toBe('idx\n');
    expect((await request(proxy.url('/noidx/'))).body).toBe('hello\n');
  });

  it('internal: 404 to a client, reachable from try_files', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /int/ { internal; return 200 "int"; }
      location /toint/ { try_files /nope /int/x; } } }`);
    expect((await request(proxy.url('/int/'))).status).toBe(404);
    expect(await request(proxy.url('/toint/a'))).toMatchObject({ status: 200, body: 'int' });
  });
});
