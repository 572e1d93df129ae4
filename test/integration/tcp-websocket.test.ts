/**
 * `websocket_pass` in tcp {} servers (nginx_tcp_proxy_module): routed by Host and first path
 * segment. Every request of a keep-alive connection is routed on its own and gets its own
 * X-Forwarded-For / X-Real-IP (SockJS's xhr transports send several on one connection before, or
 * instead of, an upgrade); an accepted upgrade becomes a tunnel.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { flushLogs } from '../../src/log.js';
import { configFrom, startProxy } from '../helpers/proxy.js';
import { tempDir } from '../helpers/cli.js';
import { testCerts, writeCert } from '../helpers/tls-certs.js';
import { connect, deadPort } from '../tcp/stream-harness.js';

/** A ws server on 127.0.0.1:0 that greets with its name, the X-Forwarded-For it got and the URL. */
async function wsBackend(name: string): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws, req) => {
    ws.send(`${name} xff=${req.headers['x-forwarded-for']} real=${req.headers['x-real-ip']} url=${req.url}`);
    ws.on('message', (m) => ws.send(`${name} echo ${m.toString()}`));
  });
  onTestFinished(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  return (wss.address() as net.AddressInfo).port;
}

/** Open a WebSocket through the proxy with the given Host; resolve with the first two messages. */
function talk(port: number, host: string, path = '/'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { Host: host } });
    onTestFinished(() => ws.terminate());
    const got: string[] = [];
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (m) => {
      got.push(m.toString());
      if (got.length === 2) {
        ws.close();
        resolve(got);
      }
    });
    ws.on('unexpected-response', (req, res) => {
      // The proxy keeps the connection alive after an error page: close it, as a browser would in time.
      req.destroy();
      reject(new Error(`status ${res.statusCode}`));
    });
    ws.on('error', reject);
  });
}

describe('websocket_pass in tcp servers', () => {
  it('routes by Host on one port to two ws servers (DESIGN.md section 2, second config)', async () => {
    const [p1, p2] = await Promise.all([wsBackend('site1'), wsBackend('site2')]);
    const text = `worker_processes  1;
events { worker_connections  1024; }
tcp {
    upstream site1 {
        server 127.0.0.1:${p1};
        check interval=3000 rise=2 fall=5 timeout=1000;
    }
    server {
        listen 127.0.0.1:0;
        server_name site1.test;
        tcp_nodelay on;
        websocket_pass site1;
    }
}
tcp {
    upstream site2 {
        server 127.0.0.1:${p2};
        check interval=3000 rise=2 fall=5 timeout=1000;
    }
    server {
        listen 127.0.0.1:0;
        server_name site2.test;
        tcp_nodelay on;
        websocket_pass site2;
    }
}
`;
    const { config, errors } = loadConfig(text, '/virtual/tsproxy.conf');
    expect(errors.map(String)).toEqual([]);
    const runtime = await Runtime.start(config!, { logger: pino({ level: 'silent' }) });
    onTestFinished(() => runtime.stop({ graceful: false }));
    const port = runtime.port('127.0.0.1:0');
    // check default_down: peers start down until two successful checks (rise=2, interval 3 s).
    await expect
      .poll(() => talk(port, 'site1.test').then((m) => m[0]!.split(' ')[0], () => 'down'), { timeout: 10_000, interval: 200 })
      .toBe('site1');
    await expect.poll(() => talk(port, 'SITE2.test:8081').then((m) => m[0]!.split(' ')[0], () => 'down'), { timeout: 10_000, interval: 200 }).toBe('site2');
    expect(await talk(port, 'site1.test', '/a/b?c=1')).toEqual(['site1 xff=127.0.0.1 real=127.0.0.1 url=/a/b?c=1', 'site1 echo ping']);
    expect(await talk(port, 'site2.test')).toEqual(['site2 xff=127.0.0.1 real=127.0.0.1 url=/', 'site2 echo ping']);
    // an unknown Host goes to the first server of the port (no default_server given)
    expect((await talk(port, 'other.test'))[0]).toMatch(/^site1 /);
  }, 20_000);

  it('routes by first path segment, and answers 404 / 400 / 502 over HTTP', async () => {
    const [chat, all] = await Promise.all([wsBackend('chat'), wsBackend('all')]);
    const dead = await deadPort();
    const dir = tempDir();
    const log = path.join(dir, 'ws.log');
    const proxy = await startProxy(`stream {
      upstream chat { server 127.0.0.1:${chat}; }
      upstream all { server 127.0.0.1:${all}; }
      upstream dead { server 127.0.0.1:${dead}; }
      server { listen 127.0.0.1:0; server_name paths.test; websocket_pass /chat chat; websocket_pass /dead dead; access_log ${log} basic; }
      server { listen 127.0.0.1:0; server_name *.all.test; websocket_pass all; } }`);
    const port = proxy.port();
    expect((await talk(port, 'paths.test', '/chat/1'))[0]).toBe('chat xff=127.0.0.1 real=127.0.0.1 url=/chat/1');
    expect((await talk(port, 'paths.test', '/chat'))[0]).toMatch(/^chat /);
    expect((await talk(port, 'x.all.test', '/chatroom'))[0]).toMatch(/^all /);
    await expect(talk(port, 'paths.test', '/chatroom')).rejects.toThrow('status 404');
    await expect(talk(port, 'paths.test', '/dead/x')).rejects.toThrow('status 502');

    const bad = connect(port);
    bad.socket.write('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    await bad.ended;
    expect(bad.received().toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/);
    // One line per connection: the HTTP answers (404, 502) are on connections the session served.
    // Sorted: a session's line is written when the proxy sees it end, which under load may come
    // after the last connection's.
    const lines = (): string[] => {
      flushLogs();
      return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[4]!).sort() : [];
    };
    await expect.poll(lines)
      .toEqual(['200', '200', '200', '200', '400']);
  });

  // The first head is read with the HTTP engine's own parser (src/wire/): what http {} refuses is
  // refused here with the same status, and what it takes (bare LF line ends) is routed.
  it('answers a first head as http {} answers it', async () => {
    const all = await wsBackend('all');
    const stream = await startProxy(`stream {
      upstream all { server 127.0.0.1:${all}; }
      server { listen 127.0.0.1:0; server_name a.test; websocket_pass all; } }`);
    const http = await startProxy('http { server { listen 127.0.0.1:0; server_name a.test; location / { return 204; } } }');
    const [streamPort, httpPort] = [stream.port(), http.port()];
    const statusLine = async (port: number, head: string): Promise<string> => {
      const c = connect(port);
      c.socket.write(head);
      await expect.poll(() => c.received().includes('\r\n')).toBe(true);
      c.socket.destroy();
      return c.received().toString('latin1').split('\r\n', 1)[0]!;
    };
    for (const head of [
      'GET / HTTP/2.0\r\nHost: a.test\r\n\r\n',
      'TRACE / HTTP/1.1\r\nHost: a.test\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a.test\r\nX: a\rb\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: a.test\r\nX: ${'y'.repeat(9000)}\r\n\r\n`,
    ]) {
      const expected = await statusLine(httpPort, head);
      expect(expected).toMatch(/^HTTP\/1\.1 (400|405|431|505) /);
      expect(await statusLine(streamPort, head), head.slice(0, 30)).toBe(expected);
    }
    const ws = connect(streamPort);
    ws.socket.write('GET /x HTTP/1.1\nHost: a.test\nUpgrade: websocket\nConnection: Upgrade\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n');
    await expect.poll(() => ws.received().toString('latin1')).toMatch(/^HTTP\/1\.1 101 [^]*all xff=127\.0\.0\.1/);
    ws.socket.destroy();
  });
});

interface Seen {
  readonly backend: string;
  readonly method: string;
  readonly url: string;
  readonly host: string;
  readonly xff: string;
  readonly realIp: string;
  readonly body: string;
}

/**
 * An HTTP backend like a SockJS server: answers every request with its name and what it saw, and
 * an upgrade with 101, then echoes the tunnel's bytes (prefixed) back.
 */
async function sockjsLikeBackend(name: string, seen: Seen[]): Promise<number> {
  const srv = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ backend: name, method: req.method!, url: req.url!, host: req.headers.host ?? '', xff: String(req.headers['x-forwarded-for']), realIp: String(req.headers['x-real-ip']), body });
      res.end(`${name} ${req.method} ${req.url}`);
    });
  });
  const tunnels = new Set<net.Socket>();
  srv.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    tunnels.add(socket);
    seen.push({ backend: name, method: 'UPGRADE', url: req.url!, host: req.headers.host ?? '', xff: String(req.headers['x-forwarded-for']), realIp: String(req.headers['x-real-ip']), body: '' });
    socket.on('error', () => undefined);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(`${name} tunnel:${d.toString('latin1')}`));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onTestFinished(() => {
    srv.closeAllConnections();
    for (const t of tunnels) t.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return (srv.address() as net.AddressInfo).port;
}

/** A raw keep-alive client: send one request, resolve with the next complete response. */
function client(port: number): { ask(raw: string): Promise<string>; socket: net.Socket; received: () => string } {
  const c = connect(port);
  let consumed = 0;
  const text = () => c.received().toString('latin1');
  return {
    socket: c.socket,
    received: () => text().slice(consumed),
    async ask(raw: string): Promise<string> {
      c.socket.write(raw);
      let response = '';
      await expect
        .poll(() => {
          const t = text().slice(consumed);
          const end = t.indexOf('\r\n\r\n');
          if (end < 0) return false;
          const length = /\r\ncontent-length: (\d+)/i.exec(t.slice(0, end));
          const total = end + 4 + (length === null ? 0 : Number(length[1]));
          if (t.length < total) return false;
          response = t.slice(0, total);
          return true;
        })
        .toBe(true);
      consumed += response.length;
      return response;
    },
  };
}

const bodyOf = (response: string) => response.slice(response.indexOf('\r\n\r\n') + 4);
const statusOf = (response: string) => Number(response.split(' ')[1]);

const SOCKJS = (a: number, b: number, extra = '') => `tcp {
    upstream app1 { server 127.0.0.1:${a}; }
    upstream app2 { server 127.0.0.1:${b}; }
    server { listen 127.0.0.1:0; server_name a.test; websocket_pass /sockjs app1; ${extra} }
    server { listen 127.0.0.1:0; server_name b.test; websocket_pass app2; }
  }`;

describe('websocket_pass: every request of a keep-alive connection', () => {
  it('is routed by its own Host and path with its own X-Forwarded-For / X-Real-IP; unmatched paths get 404; then an upgrade tunnels', async () => {
    const seen: Seen[] = [];
    const [a, b] = await Promise.all([sockjsLikeBackend('app1', seen), sockjsLikeBackend('app2', seen)]);
    const proxy = await startProxy(SOCKJS(a, b));
    const c = client(proxy.port());

    // SockJS xhr-streaming / xhr-polling: POSTs on one connection, each with its own headers.
    const r1 = await c.ask('POST /sockjs/000/abc/xhr_send HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 6.6.6.6\r\nContent-Length: 7\r\n\r\n["hi!"]');
    expect([statusOf(r1), bodyOf(r1)]).toEqual([200, 'app1 POST /sockjs/000/abc/xhr_send']);
    const r2 = await c.ask('POST /any/xhr HTTP/1.1\r\nHost: b.test:8081\r\nContent-Length: 2\r\n\r\n{}');
    expect([statusOf(r2), bodyOf(r2)]).toEqual([200, 'app2 POST /any/xhr']);
    const r3 = await c.ask('GET /elsewhere HTTP/1.1\r\nHost: a.test\r\n\r\n');
    expect(statusOf(r3)).toBe(404);
    expect(r3).toMatch(/<title>404 Not Found<\/title>/);
    expect(seen).toEqual([
      { backend: 'app1', method: 'POST', url: '/sockjs/000/abc/xhr_send', host: 'a.test', xff: '10.0.0.1, 127.0.0.1', realIp: '127.0.0.1', body: '["hi!"]' },
      { backend: 'app2', method: 'POST', url: '/any/xhr', host: 'b.test:8081', xff: '127.0.0.1', realIp: '127.0.0.1', body: '{}' },
    ]);

    // The same connection upgrades: from the 101 on it is a tunnel to app1.
    const up = await c.ask('GET /sockjs/000/abc/websocket HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect(statusOf(up)).toBe(101);
    expect(seen.at(-1)).toMatchObject({ backend: 'app1', method: 'UPGRADE', url: '/sockjs/000/abc/websocket', xff: '127.0.0.1', realIp: '127.0.0.1' });
    c.socket.write('frame-1');
    await expect.poll(c.received).toBe('app1 tunnel:frame-1');
  });

  it('takes the client address from a trusted PROXY header for every request (stream realip)', async () => {
    const seen: Seen[] = [];
    const [a, b] = await Promise.all([sockjsLikeBackend('app1', seen), sockjsLikeBackend('app2', seen)]);
    const proxy = await startProxy(`tcp {
      upstream app1 { server 127.0.0.1:${a}; }
      upstream app2 { server 127.0.0.1:${b}; }
      server { listen 127.0.0.1:0 proxy_protocol; set_real_ip_from 127.0.0.1; server_name a.test; websocket_pass app1; }
      server { listen 127.0.0.1:0 proxy_protocol; set_real_ip_from 127.0.0.1; server_name b.test; websocket_pass app2; } }`);
    const c = client(proxy.port());
    c.socket.write('PROXY TCP4 192.0.2.7 192.0.2.1 5555 80\r\n');
    await c.ask('GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await c.ask('GET /2 HTTP/1.1\r\nHost: b.test\r\n\r\n');
    expect(seen.map((x) => [x.backend, x.url, x.xff, x.realIp])).toEqual([
      ['app1', '/1', '192.0.2.7', '192.0.2.7'],
      ['app2', '/2', '192.0.2.7', '192.0.2.7'],
    ]);
  });

  it('on a `listen ... ssl` tcp server: TLS ends here, then every request is routed on its own', async () => {
    const seen: Seen[] = [];
    const [a, b] = await Promise.all([sockjsLikeBackend('app1', seen), sockjsLikeBackend('app2', seen)]);
    const dir = tempDir();
    const { a: cert } = testCerts();
    const f = writeCert(dir, 'a', cert);
    const proxy = await startProxy(`tcp {
      upstream app1 { server 127.0.0.1:${a}; }
      upstream app2 { server 127.0.0.1:${b}; }
      server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key}; websocket_pass /one app1; websocket_pass /two app2; } }`);
    const socket = tls.connect({ host: '127.0.0.1', port: proxy.port(), servername: 'a.test', ca: cert.cert });
    socket.on('error', () => undefined);
    onTestFinished(() => void socket.destroy());
    let got = '';
    socket.setEncoding('latin1').on('data', (d: string) => (got += d));
    socket.write('GET /one HTTP/1.1\r\nHost: a.test\r\n\r\nGET /two HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await expect.poll(() => got.match(/app\d GET \/(one|two)/g)).toEqual(['app1 GET /one', 'app2 GET /two']);
    expect(seen.map((x) => [x.backend, x.xff])).toEqual([['app1', '127.0.0.1'], ['app2', '127.0.0.1']]);
  });

  it('applies the allow/deny of the server each request chooses (another Host cannot bypass a deny)', async () => {
    const seen: Seen[] = [];
    const [a, b] = await Promise.all([sockjsLikeBackend('app1', seen), sockjsLikeBackend('app2', seen)]);
    const proxy = await startProxy(SOCKJS(a, b, 'deny 127.0.0.1;'));
    const c = client(proxy.port());
    expect(bodyOf(await c.ask('GET /x HTTP/1.1\r\nHost: b.test\r\n\r\n'))).toBe('app2 GET /x');
    c.socket.write('GET /sockjs/info HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await expect.poll(() => c.socket.destroyed || c.socket.readableEnded).toBe(true);
    expect(c.received()).toBe('');
    expect(seen.map((s) => s.backend)).toEqual(['app2']);
    // Denied from the first request: closed without an answer (nginx stream).
    const d = connect(proxy.port());
    d.socket.write('GET /sockjs/info HTTP/1.1\r\nHost: a.test\r\n\r\n');
    await d.closed;
    expect(d.received().length).toBe(0);
  });

  it('follows a reload on its next request; a WebSocket on an unchanged route flows on, one on a removed route gets 1001', async () => {
    const seen: Seen[] = [];
    const [a, b] = await Promise.all([sockjsLikeBackend('app1', seen), sockjsLikeBackend('app2', seen)]);
    const ws1 = await wsBackend('ws1');
    const ws2 = await wsBackend('ws2');
    const text = (route: string) => `main { } tcp {
      upstream app1 { server 127.0.0.1:${a}; }
      upstream app2 { server 127.0.0.1:${b}; }
      upstream ws1 { server 127.0.0.1:${ws1}; }
      upstream ws2 { server 127.0.0.1:${ws2}; }
      server { listen 127.0.0.1:0; server_name a.test; websocket_pass /kept ws1; ${route} }
    }`.replace('main { } ', 'stream_close_delay 300ms; ');
    const proxy = await startProxy(text('websocket_pass /gone ws2; websocket_pass /app app1;'));
    const port = proxy.port();
    const kept = await openWs(port, 'a.test', '/kept');
    const gone = await openWs(port, 'a.test', '/gone');
    const c = client(port);
    expect(bodyOf(await c.ask('GET /app/1 HTTP/1.1\r\nHost: a.test\r\n\r\n'))).toBe('app1 GET /app/1');

    await proxy.runtime.reload(configFrom(text('websocket_pass /app app2;')));
    // The keep-alive connection's next request is routed by the new config.
    expect(bodyOf(await c.ask('GET /app/2 HTTP/1.1\r\nHost: a.test\r\n\r\n'))).toBe('app2 GET /app/2');
    expect(await gone.closed).toBe(1001);
    kept.ws.send('still');
    await expect.poll(() => kept.messages.at(-1)).toBe('ws1 echo still');
  });
});

/** A WebSocket through the proxy that records its messages and close code. */
async function openWs(port: number, host: string, urlPath: string): Promise<{ ws: WebSocket; messages: string[]; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${urlPath}`, { headers: { Host: host } });
  onTestFinished(() => ws.terminate());
  const messages: string[] = [];
  ws.on('message', (m) => messages.push(m.toString()));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await expect.poll(() => messages.length).toBe(1);
  return { ws, messages, closed };
}
