/**
 * Request and response semantics checked against nginx 1.22 (each answer below was asked of real
 * nginx with raw bytes on a socket, under a temporary prefix): bare-LF line ends, absolute-form
 * targets, HTTP/1.0 clients, which upgrades reach the upstream, the Connection header, client
 * aborts, header splitting through variables, and bytes after a body-less response.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { flushLogs } from '../../src/log.js';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, startRawBackend, statuses } from '../helpers/backend.js';

/** The body of the last response in `raw` (after its head). */
function bodyOf(raw: string): string {
  return raw.slice(raw.lastIndexOf('\r\n\r\n') + 4);
}

const ECHO = 'return 200 "host=$host uri=$uri args=$args proto=$server_protocol hh=$http_host\\n";';

describe('bare LF line ends', () => {
  // nginx 1.22: each of these is served (RFC 9112 2.2 lets a recipient accept a bare LF).
  it.each([
    ['LF only, HTTP/1.0', 'GET /a HTTP/1.0\nHost: a\n\n', 'HTTP/1.0'],
    ['LF only, HTTP/1.1', 'GET /a HTTP/1.1\nHost: a\n\n', 'HTTP/1.1'],
    ['CRLF lines, LF empty line', 'GET /a HTTP/1.1\r\nHost: a\r\n\n', 'HTTP/1.1'],
    ['LF lines, CRLF empty line', 'GET /a HTTP/1.1\nHost: a\n\r\n', 'HTTP/1.1'],
    ['leading empty LF lines', '\n\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n', 'HTTP/1.1'],
  ])('serves a request with %s', async (_name, raw, proto) => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { ${ECHO} } } }`);
    const out = await rawExchange(proxy.port(), raw);
    expect(statuses(out)).toEqual([200]);
    expect(bodyOf(out)).toBe(`host=a uri=/a args= proto=${proto} hh=a\n`);
  });

  // nginx 1.22: 400 for a bare CR anywhere in a head.
  it.each([
    ['after the request line', 'GET / HTTP/1.1\rHost: a\r\n\r\n'],
    ['between headers', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'],
    ['inside a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: b\rc\r\n\r\n'],
    ['on the empty line', 'GET / HTTP/1.1\r\nHost: a\r\n\r\r\n'],
  ])('answers 400 to a bare CR %s', async (_name, raw) => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { ${ECHO} } } }`);
    expect(statuses(await rawExchange(proxy.port(), raw))).toEqual([400]);
  });

  it('accepts an upstream response head with bare LF line ends and answers with CRLF', async () => {
    // nginx 1.22 relays `HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok` as a normal 200.
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok');
    });
    const proxy = await startProxy(`http { upstream b { server 127.0.0.1:${backend.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://b; } } }`);
    const req = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const out = await rawExchange(proxy.port(), req + req);
    expect(statuses(out)).toEqual([200, 200]);
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n[^\n]*\r\n[\s\S]*\r\nX-A: b\r\n[\s\S]*\r\n\r\nok/);
    expect(out.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    // Not a peer failure: both requests went over the one pooled connection.
    expect(backend.received).toHaveLength(1);
  });

  // Chunk framing stays CRLF-only (a documented difference: nginx also takes `5\nhello\n`).
  // Broken framing in the bytes that came with the head: nothing reached the client, so a 502.
  it('answers 502 when the chunk framing that came with the response head is not CRLF', async () => {
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\nhello\n0\n\n');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    expect(statuses(await rawExchange(proxy.port(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toEqual([502]);
  });
});

describe('absolute-form request targets', () => {
  const config = `http {
    server { listen 127.0.0.1:0; server_name localhost; location / { return 200 "localhost\\n"; } }
    server { listen 127.0.0.1:0; server_name example.org; location / { ${ECHO} } }
  }`;

  // nginx 1.22 on raw sockets: the authority wins over Host (vhost and $host), $http_host stays.
  it.each([
    ['GET http://Example.ORG:8080/a?b=1 HTTP/1.1\r\nHost: localhost\r\n\r\n', 'host=example.org uri=/a args=b=1 proto=HTTP/1.1 hh=localhost\n'],
    ['GET http://example.org:8080/a?b=1 HTTP/1.0\r\n\r\n', 'host=example.org uri=/a args=b=1 proto=HTTP/1.0 hh=\n'],
    ['GET https://example.org HTTP/1.1\r\nHost: x\r\n\r\n', 'host=example.org uri=/ args= proto=HTTP/1.1 hh=x\n'],
    ['GET HTTP://EXAMPLE.org?x=1 HTTP/1.1\r\nHost: x\r\n\r\n', 'host=example.org uri=/ args=x=1 proto=HTTP/1.1 hh=x\n'],
    ['GET http://example.org./b HTTP/1.1\r\nHost: x\r\n\r\n', 'host=example.org uri=/b args= proto=HTTP/1.1 hh=x\n'],
    ['GET http://example.org:/ HTTP/1.1\r\nHost: x\r\n\r\n', 'host=example.org uri=/ args= proto=HTTP/1.1 hh=x\n'],
  ])('%j is served by its authority', async (raw, body) => {
    const proxy = await startProxy(config);
    const out = await rawExchange(proxy.port(), raw);
    expect(statuses(out)).toEqual([200]);
    expect(bodyOf(out)).toBe(body);
  });

  // nginx 1.22: 400 for each of these.
  it.each([
    ['HTTP/1.1 without Host', 'GET http://example.org/ HTTP/1.1\r\n\r\n'],
    ['empty Host', 'GET / HTTP/1.1\r\nHost:\r\n\r\n'],
    ['empty Host in HTTP/1.0', 'GET / HTTP/1.0\r\nHost:\r\n\r\n'],
    ['blank Host', 'GET / HTTP/1.1\r\nHost: \r\n\r\n'],
    ['userinfo', 'GET http://user@example.org/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['userinfo with password', 'GET http://user:pw@example.org/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['non-numeric port', 'GET http://example.org:abc/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two ports', 'GET http://a.b:80:90/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['unclosed bracket', 'GET http://[::1/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['junk after a bracket', 'GET http://[::1]x/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['two trailing dots', 'GET http://a.../ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['dot dot', 'GET http://a..b/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['no authority', 'GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['fragment in the authority', 'GET http://a#frag HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('answers 400 to %s', async (_name, raw) => {
    const proxy = await startProxy(config);
    expect(statuses(await rawExchange(proxy.port(), raw))).toEqual([400]);
  });
});

describe('variables never split a head', () => {
  /** The header lines of the first response head in `raw`, as a lenient client splits them. */
  const headLines = (raw: string): string[] => raw.slice(0, raw.indexOf('\r\n\r\n')).split(/\r\n|\n|\r/);
  // %0d%0a decodes to CR LF in $uri; %C4%8A decodes to U+010A, whose low byte is an LF.
  const INJECTIONS = ['%0d%0aSet-Cookie:%20a=b', '%0aSet-Cookie:%20a=b', '%C4%8ASet-Cookie:%20a=b', '%C4%8D%C4%8ASet-Cookie:%20a=b'];

  it.each(INJECTIONS)('return 302 http://x$uri with %s sets no cookie', async (inj) => {
    // nginx 1.22 answers `/r%0d%0aSet-Cookie:%20a=b` with a Set-Cookie header line (checked on a
    // raw socket); tsproxy percent-encodes the controls in a Location.
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location /r { return 302 http://x$uri; } } }`);
    const out = await rawExchange(proxy.port(), `GET /r${inj} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(statuses(out)).toEqual([302]);
    const lines = headLines(out);
    expect(lines.some((l) => /^set-cookie/i.test(l))).toBe(false);
    expect(lines.find((l) => l.startsWith('Location: '))).toMatch(/^Location: http:\/\/x\/r\S*Set-Cookie: a=b$/);
  });

  it.each(INJECTIONS)('add_header X-U $uri with %s keeps one header line', async (inj) => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location /a { add_header X-U $uri; return 200 "$uri"; } } }`);
    const req = `GET /a${inj} HTTP/1.1\r\nHost: a\r\n\r\n`;
    // Pipelined twice: a Content-Length that did not match the body bytes would break the second.
    const out = await rawExchange(proxy.port(), req + req);
    expect(statuses(out)).toEqual([200, 200]);
    const lines = headLines(out);
    expect(lines.some((l) => /^set-cookie/i.test(l))).toBe(false);
    expect(lines.filter((l) => l.startsWith('X-U: /a'))).toHaveLength(1);
  });

  it('proxy_set_header and a proxy_pass URI from $uri keep the upstream request whole', async () => {
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /p { proxy_set_header X-U $uri; proxy_pass http://127.0.0.1:${backend.port}/up$uri; } } }`);
    const out = await rawExchange(proxy.port(), 'GET /p%20HTTP/1.1%0d%0aX-Injected:%201%0d%0a%0d%0aGET%20/smuggled%C4%8A HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(statuses(out)).toEqual([200]);
    const sent = backend.received.join('');
    expect(sent.split('\r\n')[0]).toBe('GET /up/p%20HTTP/1.1%0D%0AX-Injected:%201%0D%0A%0D%0AGET%20/smuggled\xc4\x8a HTTP/1.1');
    expect(sent).not.toMatch(/\r\nX-Injected/);
    expect(sent).not.toMatch(/(^|\r\n)GET \/smuggled/);
    expect(sent.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });
});

describe('bytes after a response without a body', () => {
  it.each([
    ['HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
    ['GET', 'HTTP/1.1 204 No Content\r\n\r\nhello'],
    ['GET', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello'],
  ])('%s answered with %j: the upstream connection is not reused', async (method, answer) => {
    const backend = await startRawBackend((socket, all, index) => {
      if (!all.endsWith('\r\n\r\n')) return;
      // The first connection answers with stray bytes after the head, any later one cleanly.
      socket.write(index === 0 ? answer : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const proxy = await startProxy(`http { upstream b { server 127.0.0.1:${backend.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://b; } } }`);
    const out = await rawExchange(proxy.port(), `${method} /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect(statuses(out).slice(1)).toEqual([200]);
    expect(out).not.toContain('hello');
    expect(out).toMatch(/\r\n\r\nok$/);
    // The second request went over a new connection, and got that connection's first answer.
    expect(backend.received).toHaveLength(2);
  });
});

describe('HTTP/1.0 clients', () => {
  it('get a big chunked answer de-chunked byte for byte, extensions and trailers dropped', async () => {
    const piece = Buffer.alloc(10_000);
    for (let i = 0; i < piece.length; i++) piece[i] = 0x61 + (i % 26);
    const backend = await startRawBackend((socket, all) => {
      if (!all.endsWith('\r\n\r\n')) return;
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      for (let i = 0; i < 200; i++) socket.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)};ext=${i}\r\n`), piece, Buffer.from('\r\n')]));
      socket.write('0\r\nX-Trailer: t\r\n\r\n');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'GET / HTTP/1.0\r\n\r\n', 3000);
    expect(backend.received[0]).toMatch(/^GET \/ HTTP\/1\.1\r\n/);
    const body = bodyOf(out);
    expect(body.length).toBe(2_000_000);
    expect(body).toBe(piece.toString('latin1').repeat(200));
  });
});

describe('upgrades and Connection', () => {
  /** An HTTP server with a ws WebSocketServer on it, as socket.io and ws apps run. */
  async function wsApp(): Promise<{ port: number; upgrades: http.IncomingHttpHeaders[]; plain: http.IncomingHttpHeaders[] }> {
    const server = http.createServer((req, res) => {
      app.plain.push(req.headers);
      res.end('plain');
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
    server.on('upgrade', (req: http.IncomingMessage) => app.upgrades.push(req.headers));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = { port: (server.address() as net.AddressInfo).port, upgrades: [] as http.IncomingHttpHeaders[], plain: [] as http.IncomingHttpHeaders[] };
    onTestFinished(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    return app;
  }

  const H2C = 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';

  it("does not forward curl's Upgrade: h2c: a ws backend answers the request itself", async () => {
    // ws answers an h2c upgrade with 400; nginx (no proxy_set_header Upgrade) sends it none.
    const app = await wsApp();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${app.port}; } } }`);
    const out = await rawExchange(proxy.port(), H2C);
    expect(statuses(out)).toEqual([200]);
    expect(bodyOf(out)).toBe('plain');
    expect(app.upgrades).toEqual([]);
    expect(app.plain[0]!.upgrade).toBeUndefined();
    expect(app.plain[0]!['http2-settings']).toBeUndefined();
    expect(app.plain[0]!.connection).toBe('keep-alive');
    // WebSocket still just works on the same location.
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port()}/`);
    onTestFinished(() => ws.terminate());
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    ws.send('echo');
    expect(String(await new Promise((r) => ws.once('message', r)))).toBe('echo');
  });

  it('forwards Upgrade: h2c when proxy_set_header Upgrade says so (nginx\'s meaning)', async () => {
    const app = await wsApp();
    const proxy = await startProxy(`http {
      map $http_upgrade $connection_upgrade { default upgrade; '' close; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${app.port};
        proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; } } }`);
    const out = await rawExchange(proxy.port(), H2C);
    expect(statuses(out)).toEqual([400]);
    expect(app.upgrades.map((h) => [h.upgrade, h.connection])).toEqual([['h2c', 'upgrade']]);
  });

  it('refuses a 101 whose Upgrade is not what the client asked for (502, no tunnel)', async () => {
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const ask = 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const out = await rawExchange(proxy.port(), `${ask}PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`);
    // The bytes after the request are read as the next request (nginx's HTTP/2 preface: 505).
    expect(statuses(out)).toEqual([502, 505]);
    expect(out).not.toContain('101');
    // Nothing after the handshake reached the backend: no tunnel was made.
    expect(backend.received.join('')).not.toContain('PRI *');
  });

  it.each([
    ['close', 'close', 2],
    ['keep-alive', 'keep-alive', 1],
  ])('honours proxy_set_header Connection %s', async (value, sent, sockets) => {
    const backend = await startRawBackend((socket, all) => {
      const n = all.split('\r\n\r\n').length - 1;
      if (all.endsWith('\r\n\r\n')) socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`);
    });
    const proxy = await startProxy(`http { upstream b { server 127.0.0.1:${backend.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://b; proxy_set_header Connection ${value}; } } }`);
    const req = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n';
    const out = await rawExchange(proxy.port(), req + req);
    expect(statuses(out)).toEqual([200, 200]);
    expect(backend.received.join('').match(/\r\nConnection: [^\r]*/g)).toEqual([`\r\nConnection: ${sent}`, `\r\nConnection: ${sent}`]);
    expect(backend.received).toHaveLength(sockets);
  });
});

describe('a client that goes away while the upstream answers', () => {
  /** A raw backend answering `answer(path)` after `delayMs`; it records each connection's close. */
  async function slowBackend(delayMs: number, answer: (path: string) => string) {
    const closes: number[] = [];
    const backend = await startRawBackend((socket, all) => {
      if (!all.endsWith('\r\n\r\n')) return;
      const path = all.slice(all.lastIndexOf('GET ') + 4).split(' ')[0]!;
      setTimeout(() => !socket.destroyed && socket.write(answer(path)), delayMs);
    });
    backend.server.on('connection', (s: net.Socket) => s.on('close', () => closes.push(Date.now())));
    return { ...backend, closes };
  }

  async function proxyWithLog(port: number, extra = '') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-abort-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format s '$status "$request" $upstream_status';
      upstream b { server 127.0.0.1:${port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://b; access_log ${file} s; ${extra} } } }`);
    const logged = (): string => {
      flushLogs();
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    };
    return { proxy, logged };
  }

  /** Send `data`, then after `afterMs` half-close (end) or close (destroy); collect what comes back. */
  function client(port: number, data: string, how: 'end' | 'destroy', afterMs = 50) {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    onTestFinished(() => void s.destroy());
    const state = { out: '', ended: false, closed: false };
    s.on('error', () => {});
    s.on('data', (d) => (state.out += d.toString('latin1')));
    s.on('end', () => (state.ended = true));
    s.on('close', () => (state.closed = true));
    s.on('connect', () => {
      s.write(data);
      setTimeout(() => (how === 'end' ? s.end() : s.destroy()), afterMs);
    });
    return state;
  }

  const REQ = 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n';
  const OK = (p: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${p.length}\r\n\r\n${p}`;

  // nginx 1.22 (raw socket, `end()` or `destroy()` 100 ms after the request): "client prematurely
  // closed connection, so upstream connection is closed too", 499 in the access log, and the
  // half-closed client gets no answer, only the close.
  it.each(['end', 'destroy'] as const)('client %s(): the upstream request is aborted and logged 499', async (how) => {
    const backend = await slowBackend(60_000, OK);
    const { proxy, logged } = await proxyWithLog(backend.port);
    const c = client(proxy.port(), REQ, how);
    await expect.poll(() => backend.closes.length).toBe(1);
    await expect.poll(logged).toBe('499 "GET /slow HTTP/1.1" -\n');
    await expect.poll(() => c.closed).toBe(true);
    expect(c.out).toBe('');
  });

  it('client end() while the body streams: the upstream is closed, the status stays as sent', async () => {
    // nginx 1.22 (proxy_buffering off): the same close, logged with the 200 it had sent.
    const backend = await startRawBackend((socket, all) => {
      if (all.endsWith('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfirst');
    });
    const closes: number[] = [];
    backend.server.on('connection', (s: net.Socket) => s.on('close', () => closes.push(1)));
    const { proxy, logged } = await proxyWithLog(backend.port);
    const c = client(proxy.port(), REQ, 'end', 200);
    await expect.poll(() => c.out).toMatch(/\r\n\r\nfirst$/);
    await expect.poll(() => closes.length).toBe(1);
    await expect.poll(() => c.closed).toBe(true);
    await expect.poll(logged).toBe('200 "GET /slow HTTP/1.1" 200\n');
  });

  it('proxy_ignore_client_abort on: a half-closed client gets its answer', async () => {
    const backend = await slowBackend(150, OK);
    const { proxy, logged } = await proxyWithLog(backend.port, 'proxy_ignore_client_abort on;');
    const c = client(proxy.port(), REQ, 'end');
    await expect.poll(() => c.closed).toBe(true);
    expect(c.out).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\/slow$/);
    await expect.poll(logged).toBe('200 "GET /slow HTTP/1.1" 200\n');
  });

  it('proxy_ignore_client_abort on: a closed client leaves the upstream request to finish, and its connection pooled', async () => {
    // nginx 1.22: the backend connection stays open (kept alive) and the request is logged 200.
    const backend = await slowBackend(150, OK);
    const { proxy, logged } = await proxyWithLog(backend.port, 'proxy_ignore_client_abort on;');
    client(proxy.port(), REQ, 'destroy');
    await expect.poll(logged).toBe('200 "GET /slow HTTP/1.1" 200\n');
    expect(backend.closes).toEqual([]);
    // The pooled connection serves the next request.
    const out = await rawExchange(proxy.port(), 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n', 1000);
    expect(bodyOf(out)).toBe('/next');
    expect(backend.received).toHaveLength(1);
  });
});
