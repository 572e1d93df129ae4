/**
 * njs example scripts (test/fixtures/njs-examples/, written in the style of njs's documented
 * examples) run by real nginx 1.22 + njs and by tsproxy on the same config file and scripts (only
 * the listen and backend ports filled in): every request goes to both, and tsproxy must answer
 * what nginx + njs answered (status, body, the headers each case names; Server and Date aside).
 * Each case also pins nginx's status, so a broken example cannot pass by failing the same way twice.
 *
 * Skips outside CI when nginx or its njs module is missing; .ci/run installs both.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { freePort, tempDir } from '../helpers/cli.js';
import { request, type Reply } from './access/helpers.js';
import { NO_NGINX_NJS, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { startProxyFromFile } from '../helpers/proxy.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/njs-examples');

if (NO_NGINX_NJS) console.warn('njs-examples: skipped, nginx or its njs module is not installed (apt-get install nginx libnginx-mod-http-js)');

/** The service the examples proxy to and fetch from. */
function backendHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (body += d));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === '/weather') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ city: url.searchParams.get('city'), temp: 21, wind: 'calm' }));
    } else if (url.pathname === '/echo') {
      res.statusCode = 201;
      res.end(`${req.method} ${body} ${req.headers['x-token']}`);
    } else if (url.pathname === '/user') {
      res.setHeader('Content-Type', 'application/json');
      res.end('{"name":"ann","id":7}');
    } else if (url.pathname === '/orders') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify([101, 102, 103].slice(0, Number(url.searchParams.get('limit')))));
    } else if (url.pathname === '/cookies') {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Set-Cookie', ['session=abc; Path=/', 'theme=dark']);
      res.end('cookies set\n');
    } else if (url.pathname.startsWith('/missing')) {
      res.statusCode = 404;
      res.end('no such thing\n');
    } else {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('X-Internal', 'secret');
      res.end(`hello from the backend at ${url.pathname} (Host: ${req.headers.host})\n`);
    }
  });
}

function send(port: number, c: Case): Promise<Reply> {
  // node:http sends a header given as a list as several fields (request()'s type names strings only)
  const headers = { host: 'example.test', ...c.headers } as Record<string, string>;
  return request(port, c.path, { method: c.method ?? 'GET', headers, ...(c.body !== undefined ? { body: c.body } : {}) });
}

interface Case {
  readonly name: string;
  readonly path: string;
  readonly method?: string;
  /** A list is sent as that many fields. */
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string;
  /** nginx + njs's status (pinned, so the example really works). */
  readonly status: number;
  /** Where tsproxy is known to answer otherwise: the difference, and the case is `test.fails`. */
  readonly differs?: string;
  /** Response headers compared besides Content-Type and Location. */
  readonly compare?: readonly string[];
}

/** The error pages' footer names the server (deliberately: "Server aside"). */
const SIGNATURE = /<hr><center>(?:nginx\/[\d.]+|tsproxy)<\/center>/g;

/**
 * What is compared of an answer: status, body, Content-Type, Location, and the named headers;
 * the listen port (the one thing the two configs differ in) and the page signature made neutral.
 */
function shown(r: Reply, c: Case, port: number): Record<string, unknown> {
  const neutral = (v: string | string[] | undefined) => (typeof v === 'string' ? v.replaceAll(`:${port}`, ':PORT') : v);
  const heads: Record<string, unknown> = {};
  for (const name of ['content-type', 'location', ...(c.compare ?? [])]) heads[name] = neutral(r.headers[name]);
  return { status: r.status, headers: heads, body: neutral(r.body.replace(SIGNATURE, '<hr><center>SERVER</center>')) };
}

const CASES: readonly Case[] = [
  { name: 'hello world (js_content, r.return)', path: '/hello', status: 200 },
  { name: 'r.status, headersOut, sendHeader, send, finish', path: '/parts?name=njs', status: 200, compare: ['x-example'] },
  { name: 'JSON echo of method, uri, args, headersIn, variables', path: '/echo/a?x=1&y=two&e=&z=%20sp', headers: { 'X-Demo': 'demo value' }, status: 200 },
  { name: 'JSON echo: a percent-encoded URI, "+" and an encoded "&" in args', path: '/echo/a%20b/%41?q=a+b&amp=%26&u=%C3%A9', status: 200 },
  { name: 'JSON echo of a HEAD request (no body sent)', path: '/echo/head', method: 'HEAD', status: 200, compare: ['content-length'] },
  { name: 'headersIn listed whole, a repeated field joined, Cookie; an unknown variable; no body', path: '/headers', headers: { 'X-Multi': ['one', 'two'], Cookie: 'a=1; b=2', 'User-Agent': 'examples/1' }, status: 200 },
  { name: 'JSON body of a POST (r.requestText)', path: '/sum', method: 'POST', body: '{"a":2,"b":40,"c":null}', headers: { 'content-type': 'application/json' }, status: 200 },
  { name: 'headersOut: a list is several fields (Set-Cookie); r.variables written; duplicate args', path: '/cookies?x=1&x=2&y', status: 200, compare: ['set-cookie', 'cache-control'] },
  { name: 'r.return(204) without text', path: '/status?code=204', status: 204, compare: ['content-length'] },
  { name: 'r.return(404) without text: nginx\'s page', path: '/status?code=404', status: 404 },
  { name: 'r.return(503) without text: nginx\'s page', path: '/status?code=503', status: 503 },
  { name: 'r.return(200) without text', path: '/status?code=200', status: 200, compare: ['content-length'] },
  { name: 'js_set picks an upstream {} by Host for proxy_pass (green)', path: '/routed/a?b=1', headers: { host: 'shop.example' }, status: 200 },
  { name: 'js_set picks an upstream {} by Host for proxy_pass (blue)', path: '/routed/a', status: 200 },
  { name: 'header filter reads a proxied answer\'s fields (a repeated one is a list) and adds a Set-Cookie', path: '/inspected', status: 200, compare: ['x-seen', 'set-cookie'] },
  { name: 'header filter on a local error page reads r.status', path: '/stamped', status: 404, compare: ['x-status-seen'] },
  { name: 'js_set: a SHA-1 bucket of a header', path: '/bucket', headers: { 'X-User': 'alice' }, status: 200 },
  { name: 'js_set: the bucket without the header', path: '/bucket', status: 200 },
  { name: 'js_set: backend picked by path (api)', path: '/api/v1', status: 200 },
  { name: 'js_set: backend picked by path (static)', path: '/static/x.css', status: 200 },
  { name: 'js_set: backend picked by path (default)', path: '/other/', status: 200 },
  { name: 'auth by subrequest: good token, internal redirect to the content', path: '/secure/doc?token=secret', status: 200 },
  { name: 'auth by subrequest: bad token is 403', path: '/secure/doc?token=guess', status: 403 },
  { name: 'auth by subrequest: the auth location is internal', path: '/_auth?token=secret', status: 404 },
  { name: 'header filter adds and removes fields, body filter upper-cases', path: '/upper/page', status: 200, compare: ['x-filtered', 'x-internal', 'content-length'] },
  { name: 'body filter collects a JSON body and changes it at the last chunk', path: '/json-filtered', status: 200, compare: ['x-filtered'] },
  { name: 'body filter replaces text', path: '/replace/page', status: 200, compare: ['x-internal'] },
  { name: 'two subrequests joined into one JSON', path: '/aggregate', status: 200 },
  { name: 'r.subrequest with callbacks; a subrequest answered 404', path: '/legacy', status: 200 },
  { name: 'ngx.fetch GET of a JSON service', path: '/weather?city=Oslo', status: 200 },
  { name: 'ngx.fetch POST with a body and headers', path: '/post', status: 201 },
  { name: 'ngx.fetch of a service that is down rejects', path: '/down', status: 502 },
  { name: 'r.return(301, absolute URL)', path: '/moved/page?q=1', status: 301 },
  { name: 'r.return(302, local path)', path: '/local', status: 302 },
  { name: 'r.internalRedirect', path: '/internal', status: 200 },
  { name: 'r.internalRedirect to a URI with a query', path: '/with-args/x%2Fy?old=1', status: 200 },
  { name: 'querystring parse and stringify', path: '/query?a=1&b=x%20y&b=2&c', status: 200 },
  { name: 'crypto createHmac and createHash', path: '/sign?msg=hello', status: 200 },
  { name: 'Buffer and TextEncoder', path: '/buffers', status: 200 },
  { name: 'non-ASCII text: TextEncoder/TextDecoder, Content-Length in bytes', path: '/unicode', status: 200, compare: ['content-length'] },
  { name: 'r.return with a Buffer', path: '/unicode?as=buffer', status: 200, compare: ['content-length'] },
  { name: 'module-level state: the first visit', path: '/visit', status: 200 },
  {
    name: 'module-level state: the second visit starts from the module as loaded again',
    path: '/visit',
    status: 200,
    // KNOWN DIFFERENCE: njs 0.7.9 runs each request in a fresh clone of the module's VM, so
    // `visits` is 1 again ("visit 1"); tsproxy keeps module state per worker process ("visit 2").
    differs: 'module-level state lives per worker in tsproxy, per request in njs',
  },
  { name: 'a handler that throws is a 500', path: '/boom', status: 500 },
  { name: 'an async handler that rejects is a 500', path: '/later', status: 500 },
];

/** The stream {} servers' listen ports in nginx.conf (each filled in per run). */
const STREAM_PORTS = ['STREAM_ACCESS_PORT', 'STREAM_ROUTE_PORT', 'STREAM_FILTER_PORT', 'STREAM_FETCH_PORT'] as const;

interface StreamCase {
  readonly name: string;
  readonly port: (typeof STREAM_PORTS)[number];
  /** What the client writes once connected. */
  readonly send: string;
  /** The client's own address (127.0.0.2 is not on the access example's list). */
  readonly from?: string;
  /** What nginx + njs answered (pinned, so a broken example cannot pass by failing the same way twice). */
  readonly answer: string;
}

const STREAM_CASES: readonly StreamCase[] = [
  { name: 'js_access by address: a listed client gets through', port: 'STREAM_ACCESS_PORT', send: 'x', answer: 'welcome 127.0.0.1\n' },
  { name: 'js_access by address: another is closed at once', port: 'STREAM_ACCESS_PORT', send: 'x', from: '127.0.0.2', answer: '' },
  { name: 'js_preread reads the first line, js_set names the upstream for proxy_pass (a)', port: 'STREAM_ROUTE_PORT', send: 'a\nhello', answer: 'A<a\nhello>\n' },
  { name: 'js_preread reads the first line, js_set names the upstream for proxy_pass (b)', port: 'STREAM_ROUTE_PORT', send: 'b\nhello', answer: 'B<b\nhello>\n' },
  { name: 'js_filter rewrites the upload and the download', port: 'STREAM_FILTER_PORT', send: 'hello there\n', answer: '[A<HELLO THERE\n>]\n' },
  { name: 'js_access asks an HTTP service (ngx.fetch) and sets a js_var', port: 'STREAM_FETCH_PORT', send: 'x', answer: 'hello ann\n' },
];

/** A TCP upstream that answers each piece it gets as `TAG<piece>` and a newline. */
const echoServers: net.Server[] = [];
async function echoServer(tag: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d) => socket.write(`${tag}<${d.toString('latin1')}>\n`));
  });
  server.on('close', () => { for (const socket of sockets) socket.destroy(); });
  echoServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Connect (from `from`), write, and collect the answer until the server closes or is quiet for 400ms. */
function streamExchange(port: number, c: StreamCase): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, ...(c.from !== undefined ? { localAddress: c.from } : {}) });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), 400);
    };
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(c.send);
      arm();
    });
    socket.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

describe.skipIf(NO_NGINX_NJS)('njs examples: tsproxy answers what nginx + njs answer', () => {
  const dirs: string[] = [];
  let backend: http.Server | undefined;
  let nginx: RunningNginx | undefined;
  let runtime: Runtime | undefined;
  let nginxPort = 0;
  let proxyPort = 0;
  let nginxPorts: Record<string, number> = {};
  let proxyPorts: Record<string, number> = {};
  let proxyLog = '';

  /** A copy of the fixtures with the ports filled in; returns the config file. */
  function prepare(ports: Readonly<Record<string, number>>): { dir: string; file: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-njs-examples-'));
    fs.chmodSync(dir, 0o755);
    dirs.push(dir);
    fs.mkdirSync(path.join(dir, 'logs'));
    for (const name of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, name), path.join(dir, name));
    const file = path.join(dir, 'nginx.conf');
    let text = fs.readFileSync(file, 'utf8');
    for (const [name, port] of Object.entries(ports)) text = text.replaceAll(name, String(port));
    fs.writeFileSync(file, text);
    return { dir, file };
  }

  beforeAll(async () => {
    const server = http.createServer(backendHandler);
    backend = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const backendPort = (server.address() as net.AddressInfo).port;

    const echoA = await echoServer('A');
    const echoB = await echoServer('B');
    const ports = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = { BACKEND_PORT: backendPort, ECHO_A_PORT: echoA, ECHO_B_PORT: echoB };
      for (const name of ['LISTEN_PORT', ...STREAM_PORTS]) out[name] = await freePort();
      return out;
    };
    nginxPorts = await ports();
    nginxPort = nginxPorts['LISTEN_PORT']!;
    const n = prepare(nginxPorts);
    nginx = await startNginx(n.dir, n.file, nginxPort);

    proxyPorts = await ports();
    proxyPort = proxyPorts['LISTEN_PORT']!;
    const t = prepare(proxyPorts);
    proxyLog = path.join(t.dir, 'logs/error.log');
    const loaded = loadConfigFile(t.file, { prefix: t.dir });
    if (loaded.config === null) throw new Error(loaded.errors.map(String).join('\n'));
    runtime = await Runtime.start(loaded.config, { logger: createLogger([{ target: proxyLog, level: 'info' }]) });
  });

  afterAll(async () => {
    await runtime?.stop({ graceful: false });
    await nginx?.stop();
    for (const server of echoServers) server.close();
    if (backend !== undefined) {
      backend.closeAllConnections();
      await new Promise<void>((resolve) => backend!.close(() => resolve()));
    }
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    (c.differs === undefined ? test : test.fails)(c.differs === undefined ? c.name : `${c.name} (differs: ${c.differs})`, async () => {
      const expected = await send(nginxPort, c);
      expect(expected.status, `nginx + njs: ${expected.body}`).toBe(c.status);
      const got = await send(proxyPort, c);
      expect(shown(got, c, proxyPort)).toEqual(shown(expected, c, nginxPort));
    });
  }

  for (const c of STREAM_CASES) {
    test(`stream: ${c.name}`, async () => {
      const expected = await streamExchange(nginxPorts[c.port]!, c);
      expect(expected, 'nginx + njs').toBe(c.answer);
      expect(await streamExchange(proxyPorts[c.port]!, c)).toBe(expected);
    });
  }

  test('stream: s.log\'s line, as nginx writes it ("*N js: ...", nothing after it)', async () => {
    const denied: StreamCase = { name: 'denied', port: 'STREAM_ACCESS_PORT', send: 'x', from: '127.0.0.2', answer: '' };
    await streamExchange(nginxPorts[denied.port]!, denied);
    await streamExchange(proxyPorts[denied.port]!, denied);
    await expect.poll(() => streamJsLines(nginx!.errorLog()).at(-1)).toBe('[info] *N js: denied 127.0.0.2 |');
    await expect.poll(() => streamJsLines(fs.readFileSync(proxyLog, 'utf8')).at(-1)).toBe(streamJsLines(nginx!.errorLog()).at(-1));
  });

  test('two Cookie fields (node:http would join them): njs joins them with ";"', async () => {
    const raw = (port: number) => new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let got = '';
      socket.on('error', reject);
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('end', () => resolve(got.slice(got.indexOf('\r\n\r\n') + 4)));
      socket.end('GET /headers HTTP/1.1\r\nHost: example.test\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n');
    });
    const expected = await raw(nginxPort);
    expect(JSON.parse(expected).cookie).toBe('a=1;b=2');
    expect(await raw(proxyPort)).toBe(expected);
  });

  test('the error log: each failing handler\'s "js exception" line and the script\'s own lines, as nginx writes them', async () => {
    const audit = await send(nginxPort, { name: 'audit', path: '/audit?who=ops', status: 204 });
    expect(audit.status).toBe(204);
    expect((await send(proxyPort, { name: 'audit', path: '/audit?who=ops', status: 204 })).status).toBe(204);
    /**
     * The log entries of the "js exception"s and of /audit's own lines, each as `[level] message`
     * (its first line: nginx writes a stack on the next lines, tsproxy escapes it as \x0a) and the
     * request field where the entry has one (nginx: the exceptions yes, r.log()/ngx.log() lines no).
     */
    const lines = (log: string): string[] => log.split(/\n(?=\d{4}\/\d\d\/\d\d )/).flatMap((entry) => {
      const m = /^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?((?:js exception: |js: audit)[^\n]*?)(?:\\x0a|\n|, client: |$)/.exec(entry);
      // `*N`: the line carries its connection's number (nginx + njs: every line of a handler, ngx.log's too)
      return m === null ? [] : [`[${m[1]}] ${m[2] === undefined ? '' : '*N '}${m[3]} | ${/request: "[^"]*"/.exec(entry)?.[0] ?? '-'}`];
    });
    // boom and later's exceptions, /audit's four lines, /stamped's header filter's ngx.log line
    await expect.poll(() => lines(nginx!.errorLog()).length).toBe(7);
    await expect.poll(() => lines(fs.readFileSync(proxyLog, 'utf8'))).toEqual(lines(nginx!.errorLog()));
  });
});

/** The `js:` lines of a stream script in an error log, as `[level] *N message | the rest of the line`. */
function streamJsLines(log: string): string[] {
  return log.split('\n').flatMap((line) => {
    const m = /^\S+ \S+ \[(\w+)\] \d+#\d+: (\*\d+ )?(js: denied [^,]*)(.*)$/.exec(line);
    return m === null ? [] : [`[${m[1]}] ${m[2] === undefined ? '' : '*N '}${m[3]} |${m[4]}`];
  });
}

/**
 * ngx.shared and js_periodic are njs 0.8's: the njs installed with Debian 12's nginx (0.7.9) has
 * neither, so these examples (counter.js with shared.conf, streamcount.js with stream-shared.conf)
 * are checked against njs's documented results: incr() starts a missing key at its init (0) and returns the new value; keys()/items()
 * list the entries; a zone's timeout= removes an entry that long after it was written; js_periodic
 * calls its function every interval= in worker 0.
 */
describe('njs examples of ngx.shared and js_periodic (njs\'s documented results)', () => {
  test('a hit counter, a rate limit that expires, a periodic task', async () => {
    const dir = tempDir('tsproxy-njs-shared-');
    fs.copyFileSync(path.join(FIXTURES, 'counter.js'), path.join(dir, 'counter.js'));
    const text = fs.readFileSync(path.join(FIXTURES, 'shared.conf'), 'utf8').replace('LISTEN_PORT', '0');
    const p = await startProxyFromFile(text, dir);
    const get = (urlPath: string) => request(p.port(), urlPath, { headers: { host: 'example.test' } });

    expect((await get('/hit/a')).body).toBe('/hit/a 1\n');
    expect((await get('/hit/a')).body).toBe('/hit/a 2\n');
    expect((await get('/hit/b')).body).toBe('/hit/b 1\n');
    const report = await get('/report');
    expect(report.headers['content-type']).toBe('application/json');
    expect(JSON.parse(report.body)).toMatchObject({ size: 2, keys: ['/hit/a', '/hit/b'], items: [['/hit/a', 2], ['/hit/b', 1]], limited: false });

    const limited = [];
    for (let i = 0; i < 4; i++) limited.push(await get('/limited'));
    expect(limited.map((r) => `${r.status} ${r.body}`)).toEqual(['200 request 1 of 3\n', '200 request 2 of 3\n', '200 request 3 of 3\n', '429 slow down\n']);
    expect(JSON.parse((await get('/report')).body).limited).toBe(true);
    // timeout=1s: the client's entry goes, and with it the limit
    await expect.poll(async () => JSON.parse((await get('/report')).body).limited, { timeout: 5000, interval: 200 }).toBe(false);
    expect((await get('/limited')).body).toBe('request 1 of 3\n');

    // js_periodic every 200ms (worker 0: the only one here)
    await expect.poll(async () => JSON.parse((await get('/report')).body).ticks, { timeout: 5000, interval: 100 }).toBeGreaterThanOrEqual(2);
  });

  test('stream {}: a connection limit per client that expires, a periodic heartbeat', async () => {
    const dir = tempDir('tsproxy-njs-stream-shared-');
    fs.copyFileSync(path.join(FIXTURES, 'streamcount.js'), path.join(dir, 'streamcount.js'));
    const text = fs.readFileSync(path.join(FIXTURES, 'stream-shared.conf'), 'utf8').replace('LISTEN_PORT', '0');
    const p = await startProxyFromFile(text, dir);
    const connect = () => streamExchange(p.port(), { name: 'count', port: 'STREAM_ACCESS_PORT', send: 'x', answer: '' });

    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await connect());
    expect(answers.slice(0, 3).map((a) => JSON.parse(a).conns)).toEqual([1, 2, 3]);
    // the fourth is denied: closed with nothing sent
    expect(answers[3]).toBe('');
    // timeout=1s: the client's entry goes, and with it the limit
    await expect.poll(connect, { timeout: 5000, interval: 300 }).not.toBe('');
    // js_periodic every 200ms (worker 0: the only one here)
    await expect.poll(async () => JSON.parse(await connect()).beats, { timeout: 5000, interval: 100 }).toBeGreaterThanOrEqual(2);
  });
});
