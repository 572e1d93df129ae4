/**
 * njs-compatible scripting (js_import, js_content, js_set, js_var, js_access) through real
 * sockets. The handlers are test/fixtures/njs/main.js; every expected answer and error-log line
 * is what nginx 1.22 + njs 0.7.9 (Debian 12's libnginx-mod-http-js) gave for the same config and
 * script (checked with ask-nginx), except where a comment says it is tsproxy's own behaviour.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { startHttpBackend } from '../helpers/backend.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/main.js');

const CONFIG = `http {
  js_import DIR/main.js;
  js_set $backend main.backend;
  js_var $js_v init;
  server {
    listen 127.0.0.1:0;
    location /hello { js_content main.hello; }
    location /parts { js_content main.parts; }
    location /boom { js_content main.boom; }
    location /vars { js_content main.vars; }
    location /deny { js_access main.deny; js_content main.plain; }
    location /logs { js_content main.logs; }
    location /setvar { js_content main.setvar; }
    location /redir { js_content main.redir; }
    location /plain { js_content main.plain; }
    location /text { js_content main.text; }
    location /echo { js_content main.echo; }
  }
}`;

async function njsProxy(config = CONFIG, files: Record<string, string> = {}) {
  return startAccessProxy(config, (dir) => {
    fs.copyFileSync(FIXTURE, path.join(dir, 'main.js'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  });
}

describe('js_content (nginx + njs answers)', () => {
  test('r.return with text: method, uri, args, httpVersion, remoteAddress', async () => {
    const p = await njsProxy();
    const r = await request(p.port, '/hello?a=1&b=2', { headers: { host: 'a.test' } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.body).toBe('Hello GET /hello 1 1.1 127.0.0.1');
  });

  test('r.status, headersOut, sendHeader, send, finish', async () => {
    const p = await njsProxy();
    const r = await request(p.port, '/parts', { headers: { host: 'a.test' } });
    expect(r.status).toBe(201);
    expect(r.headers['content-type']).toBe('text/x-parts');
    expect(r.headers['x-js']).toBe('yes');
    expect(r.body).toBe('ab');
  });

  test('a throw is a 500 and a "js exception" line with the script position', async () => {
    const p = await njsProxy();
    const r = await request(p.port, '/boom', { headers: { host: 'a.test' } });
    expect(r.status).toBe(500);
    expect(r.body).toContain('<center><h1>500 Internal Server Error</h1></center>');
    // nginx: `js exception: Error: kaput\n    at boom (/path/main.js:3)`; V8 adds the column
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js exception: Error: kaput');
    expect(p.lines().join('\n')).toContain(`Error: kaput\\x0a    at boom (${p.dir}/main.js:4:26), client: 127.0.0.1`);
    expect(p.lines().join('\n')).toContain('request: "GET /boom HTTP/1.1", host: "a.test"');
    // the worker goes on
    expect((await request(p.port, '/plain', { headers: { host: 'a.test' } })).status).toBe(200);
  });

  test('r.variables reads built-ins, js_set and js_var; headersIn of an absent header is undefined', async () => {
    const p = await njsProxy();
    const r = await request(p.port, '/vars', { headers: { host: 'a.test' } });
    expect(r.body).toBe('a.test|A|init|undefined');
    const b = await request(p.port, '/vars', { headers: { host: 'b.test', 'X-Test': 'x' } });
    expect(b.body).toBe('b.test|B|init|x');
  });

  test('r.log / warn / error and ngx.log write "js:" lines at nginx levels', async () => {
    const p = await njsProxy();
    const r = await request(p.port, '/logs', { headers: { host: 'a.test' } });
    expect(r.body).toBe('0.7.9|456');
    await expect.poll(() => p.lines().filter((l) => l.includes('js: '))).toHaveLength(4);
    const lines = p.lines().filter((l) => l.includes('js: '));
    // nginx + njs 0.7.9: `*N js: info line`, no client/request fields (njs drops the log handler for these)
    expect(lines).toEqual(['[info] js: info line', '[warn] js: warn line', '[error] js: err line', '[error] js: ngx err line']);
  });

  test('js_content reads the body first: r.requestText, r.requestBuffer; the connection stays open', async () => {
    const p = await njsProxy();
    const agent = new http.Agent({ keepAlive: true });
    onTestFinished(() => agent.destroy());
    const r = await request(p.port, '/echo', { method: 'POST', headers: { host: 'a.test' }, body: 'hello'.repeat(200), agent });
    expect([r.status, r.body]).toEqual([200, 'POST 1000 hello 1000']);
    expect(r.headers.connection).toBe('keep-alive');
  });

  test('a chunked body is read de-chunked; one past client_max_body_size is 413 (tsproxy\'s checks)', async () => {
    const p = await njsProxy(CONFIG.replace('js_var $js_v init;', 'js_var $js_v init;\n  client_max_body_size 2k;'));
    const chunked = await request(p.port, '/echo', { method: 'POST', headers: { host: 'a.test', 'transfer-encoding': 'chunked' }, body: 'abcde'.repeat(100) });
    expect(chunked.body).toBe('POST 500 abcde 500');
    const big = await request(p.port, '/echo', { method: 'POST', headers: { host: 'a.test', 'transfer-encoding': 'chunked' }, body: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
  });

  test('a js_var is writable through r.variables', async () => {
    const p = await njsProxy();
    expect((await request(p.port, '/setvar')).body).toBe('changed');
  });

  test('r.internalRedirect', async () => {
    const p = await njsProxy();
    expect((await request(p.port, '/redir', { headers: { host: 'a.test' } })).body).toBe('Hello GET /hello undefined 1.1 127.0.0.1');
  });

  test('r.return(200) is an empty text/plain answer; r.return(302, url) a redirect', async () => {
    const p = await njsProxy();
    const plain = await request(p.port, '/plain', { headers: { host: 'a.test' } });
    expect([plain.status, plain.headers['content-type'], plain.body]).toEqual([200, 'text/plain', '']);
    const redirect = await request(p.port, '/text', { headers: { host: 'a.test' } });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe(`http://a.test:${p.port}/there`);
  });
});

describe('js_access (tsproxy: njs has it in stream only)', () => {
  test('r.return(403) refuses, returning without it lets the request through', async () => {
    const p = await njsProxy();
    expect((await request(p.port, '/deny')).status).toBe(403);
    const ok = await request(p.port, '/deny?ok=1');
    expect([ok.status, ok.body]).toEqual([200, '']);
  });
});

describe('js_set caching, async js_content (tsproxy\'s own checks)', () => {
  const COUNTER = `let n = 0;
export function next() { return String(++n); }
export async function rejects() { await null; throw new Error('async kaput'); }
`;

  test('a js_set value is computed once per request; nocache computes it at every use', async () => {
    const p = await njsProxy(`http {
      js_import c from DIR/counter.js;
      js_set $once c.next;
      js_set $each c.next nocache;
      server { listen 127.0.0.1:0; location / { return 200 "$once $once|$each $each"; } }
    }`, { 'counter.js': COUNTER });
    const [once, each] = (await request(p.port, '/')).body.split('|');
    const [a, b] = once!.split(' ');
    const [c, d] = each!.split(' ');
    expect(a).toBe(b);
    expect(Number(d)).toBe(Number(c) + 1);
  });

  test('an async js_content that rejects is a 500 with the error logged; the worker goes on', async () => {
    const p = await njsProxy(`http {
      js_import c from DIR/counter.js;
      server { listen 127.0.0.1:0; location / { js_content c.rejects; } location /n { js_content main.plain; } }
      js_import DIR/main.js;
    }`, { 'counter.js': COUNTER });
    expect((await request(p.port, '/')).status).toBe(500);
    // nginx + njs 0.7.9: `js exception: Error: unhandled promise rejection: Error: async kaput` (no stack; tsproxy adds it)
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js exception: Error: unhandled promise rejection: Error: async kaput');
    expect((await request(p.port, '/n')).status).toBe(200);
  });
});

describe('js_set returning a Promise (tsproxy, beyond njs)', () => {
  const ASYNC = `const table = new Map([['a.test', 'A'], ['b.test', 'B']]);
export async function pick(r) {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return table.get(r.headersIn.host) ?? 'none';
}
export function never() { return new Promise(() => {}); }
export async function fails() { throw new Error('lookup failed'); }
`;

  test('proxy_pass http://$backend waits for the value: a backend per Host', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const p = await njsProxy(`http {
      js_import pick from DIR/pick.js;
      js_set $backend pick.pick;
      upstream A { server 127.0.0.1:${a.port}; }
      upstream B { server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://$backend; } }
    }`, { 'pick.js': ASYNC });
    expect((await request(p.port, '/x', { headers: { host: 'a.test' } })).body).toContain('A');
    expect((await request(p.port, '/x', { headers: { host: 'b.test' } })).body).toContain('B');
    expect(a.requests).toBe(1);
    expect(b.requests).toBe(1);
  });

  test('an upstream with keepalive named by the value keeps its connections (nginx pools by the group\'s keepalive)', async () => {
    const a = await startHttpBackend('A');
    const p = await njsProxy(`http {
      js_import pick from DIR/pick.js;
      js_set $backend pick.pick;
      upstream A { server 127.0.0.1:${a.port}; keepalive 8; }
      server { listen 127.0.0.1:0; location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://$backend; } }
    }`, { 'pick.js': ASYNC });
    for (let i = 0; i < 5; i++) expect((await request(p.port, '/x', { headers: { host: 'a.test' } })).body).toContain('A');
    expect(a.requests).toBe(5);
    expect(a.sockets).toBe(1);
  });

  test('a Promise that does not settle in timeout= is logged and gives ""', async () => {
    const p = await njsProxy(`http {
      js_import pick from DIR/pick.js;
      js_set $v pick.never timeout=100ms;
      js_set $w pick.fails;
      server { listen 127.0.0.1:0; location / { return 200 "v=[$v] w=[$w]"; } }
    }`, { 'pick.js': ASYNC });
    const r = await request(p.port, '/');
    expect([r.status, r.body]).toEqual([200, 'v=[] w=[]']);
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js_set $v: the Promise did not settle in 100ms');
    expect(p.lines().join('\n')).toContain('[error] js exception in js_set $w: Error: lookup failed');
  });
});
