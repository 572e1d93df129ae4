/**
 * `--explain` never drifts from the routing: each case explains a request, then sends the same
 * bytes through the running proxy to backends that record what they received, and compares
 * server, location, upstream target, peer and every header of the upstream request head.
 * One proxy and two backends serve the whole file.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { explainRequest, type Explanation } from '../../src/runtime/explain/explain.js';
import type { ExplainContent } from '../../src/runtime/explain/types.js';

interface Seen {
  readonly backend: string;
  readonly method: string;
  readonly url: string;
  /** "Name: value" in the order received. */
  readonly head: string[];
}

const seen: Seen[] = [];
const backends: http.Server[] = [];

/** A backend that records every request head and answers its own name. */
async function recordingBackend(name: string): Promise<number> {
  const server = http.createServer((req, res) => {
    const head: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) head.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    seen.push({ backend: name, method: req.method ?? '', url: req.url ?? '', head });
    req.resume();
    res.end(name);
  });
  backends.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

let dir: string;
let config: Config;
let sources: { file: string; text: string }[];
let runtime: Runtime;
let port: number;
const ports = { A: 0, B: 0 };

beforeAll(async () => {
  ports.A = await recordingBackend('A');
  ports.B = await recordingBackend('B');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-explain-'));
  const text = `
events {}
http {
  upstream backend { server 127.0.0.1:${ports.A}; server 127.0.0.1:${ports.B}; }
  map $http_x_pool $pool { default 127.0.0.1:${ports.A}; b 127.0.0.1:${ports.B}; }
  split_clients "\${remote_addr}\${http_x_user}" $half { 50% first; * second; }
  server {
    listen 127.0.0.1:0;
    server_name shop.test *.shop.test;
    rewrite ^/old/(.*)$ /new/$1 last;
    location / { proxy_pass http://127.0.0.1:${ports.A}; }
    location /api/ {
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Half $half;
      proxy_pass http://backend/v1/;
      location /api/nested/ { proxy_pass http://127.0.0.1:${ports.B}/deep/; }
    }
    location ^~ /assets/ { proxy_pass http://127.0.0.1:${ports.A}/static/; }
    location ~ \\.(png|css)$ { proxy_pass http://127.0.0.1:${ports.B}; }
    location ~ ^/re/(?<rest>.*)$ { proxy_pass http://127.0.0.1:${ports.A}/got/$rest; }
    location /new/ { rewrite ^/new/(.*)$ /api/$1 last; }
    location /brk/ { rewrite ^/brk/(.*)$ /api/$1 break; proxy_pass http://127.0.0.1:${ports.B}/ignored/; }
    location /loop/ { rewrite ^/loop/(.*)$ /loop/x$1 last; }
    location /dyn/ { proxy_pass http://$pool; }
    location = /exact { return 200 "exact"; }
    location /private/ { allow 10.0.0.0/8; deny all; proxy_pass http://127.0.0.1:${ports.A}; }
    location /flag/ {
      proxy_pass http://127.0.0.1:${ports.A};
      if ($http_x_flag = on) { proxy_pass http://127.0.0.1:${ports.B}; }
    }
    location /gone/ { error_page 403 /api/errpage; deny all; }
    location /spa/ { root ${'$'}{DIR}; try_files $uri /spa/index.html; }
  }
  server {
    listen 127.0.0.1:0;
    server_name ~^(?<sub>[a-z]+)\\.regex\\.test$;
    location / { proxy_set_header X-Sub $sub; proxy_pass http://127.0.0.1:${ports.A}; }
  }
}
`;
  const file = path.join(dir, 'nginx.conf');
  fs.mkdirSync(path.join(dir, 'spa'));
  fs.writeFileSync(path.join(dir, 'spa/index.html'), 'spa');
  fs.writeFileSync(file, text.replace('${DIR}', dir));
  const loaded = loadConfigFile(file, { prefix: dir });
  if (loaded.config === null) throw new Error(loaded.errors.map(String).join('\n'));
  config = loaded.config;
  sources = loaded.sources;
  runtime = await Runtime.start(config);
  port = runtime.port('127.0.0.1:0');
});

afterAll(async () => {
  await runtime?.stop({ graceful: false });
  for (const b of backends) {
    b.closeAllConnections();
    b.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The raw response of one request sent as written (status line and header lines). */
function send(target: string, lines: readonly string[]): Promise<{ status: number; head: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('error', reject);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    socket.on('close', () => {
      const head = got.split('\r\n\r\n')[0]!.split('\r\n');
      resolve({ status: Number(head[0]!.split(' ')[1]), head: head.slice(1) });
    });
    socket.write(`GET ${target} HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`);
  });
}

interface Both {
  readonly e: Explanation;
  readonly got: Seen | null;
  readonly status: number;
  readonly head: string[];
}

/** Explain, then send the same request through the proxy (Connection: close on both). */
async function both(target: string, opts: { host?: string; headers?: string[]; from?: string } = {}): Promise<Both> {
  const host = `${opts.host ?? 'shop.test'}:${port}`;
  const headers = [...(opts.headers ?? []), 'Connection: close'];
  const e = await explainRequest(config, { files: sources, base: dir }, {
    request: `GET http://${host}${target}`, headers, from: opts.from ?? null, listen: '127.0.0.1:0', sni: null, health: null,
  });
  const before = seen.length;
  const res = await send(target, [`Host: ${host}`, ...headers]);
  return { e, got: seen.length > before ? seen[before]! : null, ...res };
}

function proxied(c: ExplainContent): Extract<ExplainContent, { kind: 'proxy' }> {
  if (c.kind !== 'proxy') throw new Error(`expected proxy_pass, got ${JSON.stringify(c)}`);
  return c;
}

/** The explanation's upstream request is what the backend received: request line and every header, in order. */
function expectSameUpstreamRequest(b: Both): void {
  const c = proxied(b.e.content);
  expect(b.got).not.toBeNull();
  expect(c.head[0]).toBe(`${b.got!.method} ${b.got!.url} HTTP/1.1`);
  expect(c.target).toBe(b.got!.url);
  expect(c.head.slice(1)).toEqual(b.got!.head);
  // the peer that got it is the one the explanation would try first, or a later one (round robin moves on)
  expect(c.order).toContain(`127.0.0.1:${ports[b.got!.backend as 'A' | 'B']}`);
}

describe('--explain matches what the running proxy does', () => {
  it('proxy_pass with a URI replaces the location prefix; the head, the first peer, split_clients and the server name', async () => {
    const b = await both('/api/items?id=7', { headers: ['X-User: u1'] });
    expect(b.e.server).toMatchObject({ name: 'shop.test', how: 'exact' });
    expect(b.e.location?.name).toBe('/api/');
    const c = proxied(b.e.content);
    expect(c).toMatchObject({ group: 'backend', method: 'round_robin', target: '/v1/items?id=7', url: `http://backend/v1/items?id=7` });
    expectSameUpstreamRequest(b);
    // the first request of the group: a fresh balancer picks as the explanation says
    expect(c.order).toEqual([`127.0.0.1:${ports.A}`, `127.0.0.1:${ports.B}`]);
    expect(b.got!.backend).toBe('A');
    expect(b.e.variables['half']).toMatch(/^(first|second)$/);
    expect(b.got!.head).toContain(`X-Half: ${b.e.variables['half']}`);
  });

  it('a wildcard server_name, and a nested location inside the longest prefix', async () => {
    const b = await both('/api/nested/x', { host: 'www.shop.test' });
    expect(b.e.server).toMatchObject({ how: 'wildcard', matchedName: '*.shop.test' });
    expect(b.e.location?.name).toBe('/api/nested/');
    expect(b.e.location?.why).toContain('nested in /api/');
    expectSameUpstreamRequest(b);
    expect(b.got).toMatchObject({ backend: 'B', url: '/deep/x' });
  });

  it('^~ wins over a matching regex; without ^~ the regex wins over the longest prefix', async () => {
    const caret = await both('/assets/app.css');
    expect(caret.e.location?.name).toBe('^~ /assets/');
    const search = caret.e.steps.find((s) => s.kind === 'locations');
    expect(search).toMatchObject({ kind: 'locations', chosen: '^~ /assets/' });
    expect(search?.kind === 'locations' && search.candidates.find((c) => c.name === '~ \\.(png|css)$')?.note).toContain('^~');
    expectSameUpstreamRequest(caret);
    expect(caret.got).toMatchObject({ backend: 'A', url: '/static/app.css' });

    const regex = await both('/img/logo.png');
    expect(regex.e.location?.name).toBe('~ \\.(png|css)$');
    expectSameUpstreamRequest(regex);
    // proxy_pass without a URI: the client's target as sent
    expect(regex.got).toMatchObject({ backend: 'B', url: '/img/logo.png' });
  });

  it('rewrite ... last twice: each step, each location search; the new location replaces its prefix (nginx)', async () => {
    const b = await both('/old/items?id=7');
    const kinds = b.e.steps.map((s) => s.kind);
    expect(kinds).toEqual(['rewrite', 'locations', 'rewrite', 'locations']);
    expect(b.e.steps[0]).toMatchObject({ directive: 'rewrite ^/old/(.*)$ /new/$1 last', result: 'URI is now /new/items?id=7 (last)' });
    expect(b.e.steps[1]).toMatchObject({ chosen: '/new/' });
    expect(b.e.location?.name).toBe('/api/');
    expectSameUpstreamRequest(b);
    // nginx 1.22 sends /v1/items?id=7 here: after `last` the location found again replaces its prefix (checked with ask-nginx)
    expect(b.got!.url).toBe('/v1/items?id=7');
  });

  it('rewrite ... break sends the changed URI whole, proxy_pass URI ignored (nginx)', async () => {
    const b = await both('/brk/items?id=7');
    expect(b.e.steps.filter((s) => s.kind === 'locations')).toHaveLength(1);
    expectSameUpstreamRequest(b);
    expect(b.got).toMatchObject({ backend: 'B', url: '/api/items?id=7' });
  });

  it('a rewrite loop ends in 500 with nginx\'s error-log line, and nothing is proxied', async () => {
    const b = await both('/loop/a');
    expect(b.e.content).toMatchObject({ kind: 'answer', status: 500 });
    expect(b.e.log).toContain('rewrite or internal redirection cycle');
    // the server-level rewrite does not match; the location's matches 11 times: the 11th URI change is the 500
    expect(b.e.steps.filter((s) => s.kind === 'rewrite' && s.matched).length).toBe(11);
    expect(b.e.steps.filter((s) => s.kind === 'locations').length).toBe(11);
    expect(b.status).toBe(500);
    expect(b.got).toBeNull();
  });

  it('variables in proxy_pass through a map', async () => {
    for (const [header, backend] of [[[], 'A'], [['X-Pool: b'], 'B']] as const) {
      const b = await both('/dyn/x?y=1', { headers: [...header] });
      const c = proxied(b.e.content);
      expect(c.dynamic).toBe(`127.0.0.1:${ports[backend]}`);
      expect(b.e.variables['pool']).toBe(`127.0.0.1:${ports[backend]}`);
      expectSameUpstreamRequest(b);
      expect(b.got!.backend).toBe(backend);
    }
  });

  it('a regex location capture in proxy_pass', async () => {
    const b = await both('/re/a/b?q=1');
    expect(b.e.location?.name).toBe('~ ^/re/(?<rest>.*)$');
    expectSameUpstreamRequest(b);
    expect(b.got!.url).toBe('/got/a/b');
  });

  it('a regex server_name with its captures', async () => {
    const b = await both('/x', { host: 'foo.regex.test' });
    expect(b.e.server).toMatchObject({ how: 'regex', captures: { 1: 'foo', sub: 'foo' } });
    expectSameUpstreamRequest(b);
    expect(b.got!.head).toContain('X-Sub: foo');
  });

  it('an unknown Host goes to the default server', async () => {
    const b = await both('/x', { host: 'nobody.test' });
    expect(b.e.server).toMatchObject({ name: 'shop.test', how: 'default' });
    expect(b.e.server.why).toContain('first server listening there');
    expectSameUpstreamRequest(b);
  });

  it('an if block taken in a location: its proxy_pass answers', async () => {
    for (const [flag, backend] of [['off', 'A'], ['on', 'B']] as const) {
      const b = await both('/flag/x', { headers: [`X-Flag: ${flag}`] });
      expect(b.e.steps).toContainEqual(expect.objectContaining({ kind: 'if', matched: flag === 'on', directive: 'if ($http_x_flag = on)' }));
      expectSameUpstreamRequest(b);
      expect(b.got!.backend).toBe(backend);
    }
  });

  it('try_files: each file tested, the fallback URI found again, the file served', async () => {
    const b = await both('/spa/missing');
    const tries = b.e.steps.filter((s) => s.kind === 'try_files');
    expect(tries).toEqual([
      { kind: 'try_files', tested: [`${dir}/spa/missing: not found`], found: null },
      { kind: 'try_files', tested: [], found: `${dir}/spa/index.html` },
    ]);
    expect(b.e.steps.filter((s) => s.kind === 'locations')).toHaveLength(2);
    expect(b.e.content).toMatchObject({ kind: 'answer', status: 200, handler: 'static' });
    expect(b.status).toBe(200);
    expect(b.got).toBeNull();
  });

  it('error_page to a proxied URI: the location found again replaces its prefix (nginx)', async () => {
    const b = await both('/gone/a?q=1');
    expect(b.e.steps.filter((s) => s.kind === 'locations').map((s) => s.kind === 'locations' && s.chosen)).toEqual(['/gone/', '/api/']);
    expect(b.e.location?.name).toBe('/api/');
    expectSameUpstreamRequest(b);
    // nginx 1.22: the backend gets /v1/errpage and the client the 403 (checked with ask-nginx)
    expect(b.got!.url).toBe('/v1/errpage');
    expect(b.status).toBe(403);
  });

  it('local answers: = location, the slash redirect of a proxying location, allow/deny', async () => {
    const exact = await both('/exact');
    expect(exact.e.location?.name).toBe('= /exact');
    expect(exact.e.content).toMatchObject({ kind: 'answer', status: 200, handler: 'return' });
    expect(exact.status).toBe(200);

    const slash = await both('/api?x=1');
    expect(slash.e.content).toMatchObject({ kind: 'answer', status: 301 });
    expect(slash.status).toBe(301);
    const location = (head: readonly string[]) => head.find((l) => l.startsWith('Location:'));
    expect(location(slash.e.content.kind === 'answer' ? slash.e.content.head : [])).toBe(location(slash.head));

    const denied = await both('/private/x');
    expect(denied.e.steps).toContainEqual(expect.objectContaining({ kind: 'access', judged: true }));
    expect(denied.e.content).toMatchObject({ kind: 'answer', status: 403 });
    expect(denied.status).toBe(403);
    expect(denied.got).toBeNull();
    // the same location lets 10.x in (the explanation only: the test's client is 127.0.0.1)
    const allowed = await explainRequest(config, { files: sources, base: dir }, {
      request: `GET http://shop.test:${port}/private/x`, headers: [], from: '10.1.2.3', listen: '127.0.0.1:0', sni: null, health: null,
    });
    expect(proxied(allowed.content).head).toContain('X-Forwarded-For: 10.1.2.3');
  });
});
