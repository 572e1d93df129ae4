/**
 * `if` and `break` (nginx's rewrite module) as nginx 1.22 answers them (each expectation checked
 * with ask-nginx): the conditions, regex captures inside the block, file tests, the location if
 * as an anonymous location (its add_header list replaces the enclosing one, its proxy_pass is
 * the handler), `break` and `return` inside, server-level if, and -t's messages.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';

function makeRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-if-'));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(path.join(root, 'a.txt'), 'hello\n');
  writeFileSync(path.join(root, 'run.sh'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'run.sh'), 0o755);
  mkdirSync(path.join(root, 'sub'));
  return root;
}

describe('if conditions', () => {
  it('variables, =, !=, regexes with captures, file tests', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /iff/ {
        set $v "";
        if ($arg_a) { set $v "a-true"; }
        if ($arg_b = "x") { set $v "\${v}b"; }
        if ($arg_b != "x") { set $v "\${v}B"; }
        if ($uri ~* ^/IFF/(?<nm>[a-z]+)/(\\d+)) { set $v "\${v}c$nm$2"; }
        if ($uri !~ ^/iff/) { set $v "\${v}never"; }
        if (!-f ${root}/a.txt) { set $v "\${v}nofile"; }
        if (-d ${root}/sub) { set $v "\${v}dir"; }
        if (-e ${root}/sub) { set $v "\${v}e"; }
        if (-x ${root}/run.sh) { set $v "\${v}x"; }
        if (!-x ${root}/a.txt) { set $v "\${v}X"; }
        if (-f ${root}/missing) { set $v "\${v}missing"; }
        return 200 "v=$v";
      } } }`);
    // nginx: "v=a-truebdir" for ?a=1&b=x, "v=cabc42dir" for /iff/abc/42, a=0 is false.
    expect((await request(proxy.url('/iff/x?a=1&b=x'))).body).toBe('v=a-truebdirexX');
    expect((await request(proxy.url('/iff/abc/42'))).body).toBe('v=Bcabc42direxX');
    expect((await request(proxy.url('/iff/?a=0'))).body).toBe('v=BdirexX');
  });

  it('captures of the if regex are $1.. inside the block and in return', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /iff/ { if ($uri ~ ^/iff/(\\w+)) { return 200 "cap=$1"; } return 200 "none"; } } }`);
    expect((await request(proxy.url('/iff/abc'))).body).toBe('cap=abc');
    expect((await request(proxy.url('/iff/'))).body).toBe('none');
  });
});

describe('if blocks', () => {
  it('a location if is an anonymous location: its add_header list replaces the enclosing one', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /ifh/ { if ($arg_x) { add_header X-If yes; } add_header X-Outer yes; return 200 "body"; } } }`);
    const hit = await request(proxy.url('/ifh/?x=1'));
    expect([hit.headers['x-if'], hit.headers['x-outer']]).toEqual(['yes', undefined]);
    const miss = await request(proxy.url('/ifh/'));
    expect([miss.headers['x-if'], miss.headers['x-outer']]).toEqual([undefined, 'yes']);
  });

  it('proxy_pass inside a location if is the handler when it holds', async () => {
    const backend = await startHttpBackend('b', (req, res) => res.end(`backend ${req.url}`));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /p/ { if ($http_x_backend = "1") { proxy_pass http://127.0.0.1:${backend.port}; } return 200 "local"; } } }`);
    expect((await request(proxy.url('/p/q?z=1'), { headers: { 'x-backend': '1' } })).body).toBe('backend /p/q?z=1');
    expect((await request(proxy.url('/p/q'))).body).toBe('local');
  });

  it('a request body sent while a file test runs reaches the upstream whole', async () => {
    const root = makeRoot();
    const backend = await startHttpBackend('b', (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => res.end(`${req.method} ${body}`));
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { if (-f ${root}/a.txt) { set $x 1; } proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const raw = await rawExchange(proxy.port(), 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234', 600, { data: '56789', afterMs: 50 });
    expect(raw).toMatch(/POST 0123456789$/);
    expect((await request(proxy.url('/q'), { method: 'POST', body: 'abc' })).body).toBe('POST abc');
  });

  it('break stops the rewrite directives and the location\'s return; return and rewrite inside an if', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      location /ifbreak/ { set $v 1; if ($arg_b) { break; } set $v 2; return 200 "v=$v"; }
      location /ifret/ { if ($arg_r) { return 404; } if ($arg_s) { rewrite ^ /echo last; } return 200 "fall"; }
      location = /echo { return 200 "uri=$uri args=$args"; } } }`);
    // nginx: break skips `return`, so the static module answers (no index here: 404).
    expect((await request(proxy.url('/ifbreak/?b=1'))).status).toBe(404);
    expect((await request(proxy.url('/ifbreak/'))).body).toBe('v=2');
    expect((await request(proxy.url('/ifret/?r=1'))).status).toBe(404);
    expect((await request(proxy.url('/ifret/?s=1'))).body).toBe('uri=/echo args=s=1');
    expect((await request(proxy.url('/ifret/'))).body).toBe('fall');
  });

  it('server-level if runs before location matching; nested ifs and a file test inside', async () => {
    const root = makeRoot();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; root ${root};
      if ($http_x_block) { return 403; }
      if ($arg_go) { if (-f ${root}/a.txt) { rewrite ^ /a.txt last; } }
      location / { return 200 "loc"; }
      location = /a.txt { } } }`);
    expect((await request(proxy.url('/x'), { headers: { 'x-block': '1' } })).status).toBe(403);
    expect((await request(proxy.url('/x?go=1'))).body).toBe('hello\n');
    expect((await request(proxy.url('/x'))).body).toBe('loc');
  });
});

describe('if in -t', () => {
  // nginx -t's messages for the same lines (ask-nginx).
  it.each([
    ['if ($a) b { }', 'invalid condition "b"'],
    ['if (-q /x) { }', 'invalid condition "-q"'],
    ['if ($a == b) { }', 'unexpected "==" in condition'],
    ['if $a { }', 'invalid condition "$a"'],
    ['if ($a = b c) { }', 'invalid condition "$a"'],
  ])('%s', (line, message) => {
    const r = loadConfig(`http { server { set $a x; location / { ${line} } } }`, 'a.conf');
    expect(r.errors.map((e) => e.message)).toEqual([message]);
  });

  it('a quoted value right before ")" and spaces inside the parentheses are accepted', () => {
    const r = loadConfig('http { server { set $a x; location / { if ($a = "b") { return 200; } if ( $a ) { return 201; } } } }', 'a.conf');
    expect(r.errors).toEqual([]);
  });

  it('with another error in the file (the Chevrotain path), `"b")` is read the same way', () => {
    const r = loadConfig('http { server { set $a x; location / { if ($a = "b") { return 200; } } } } }', 'a.conf');
    expect(r.errors.map((e) => e.message)).toEqual(['unexpected "}"']);
  });

  it('proxy_pass with a URI part inside an if is refused (nginx -t message)', () => {
    const r = loadConfig('http { server { location / { if ($host) { proxy_pass http://127.0.0.1:1/x/; } } } }', 'a.conf');
    expect(r.errors.map((e) => e.message)).toEqual([
      '"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block',
    ]);
  });

  it('only rewrite directives in a server if; proxy_pass is allowed in a location if', () => {
    const r = loadConfig('http { server { if ($host) { proxy_pass http://127.0.0.1:1; } location / { if ($host) { proxy_pass http://127.0.0.1:1; } } } }', 'a.conf');
    expect(r.errors.map((e) => e.message)).toEqual(['"proxy_pass" directive is not allowed here']);
  });
});
