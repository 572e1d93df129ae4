/**
 * WebSocket through the http {} engine (issue 5): the classic nginx snippet verbatim, 16 MB binary
 * messages, ping/pong, close codes and reasons both ways, X-Forwarded-For / X-Real-IP at the
 * backend, and the idle timeouts (proxy_read_timeout for proxy_pass, websocket_read_timeout for
 * websocket_pass). Real ws clients and servers on 127.0.0.1.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import type net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { flushLogs } from '../../src/log.js';
import { startProxy } from '../helpers/proxy.js';

interface Backend {
  port: number;
  /** Handshake requests the backend accepted. */
  requests: http.IncomingMessage[];
  /** Close frames the backend received: [code, reason]. */
  closes: [number, string][];
  sockets: WebSocket[];
}

/** An echo WebSocket server; `onMessage` may override echoing. */
async function wsBackend(onConnection?: (ws: WebSocket) => void): Promise<Backend> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const b: Backend = { port: (wss.address() as net.AddressInfo).port, requests: [], closes: [], sockets: [] };
  wss.on('connection', (ws, req) => {
    b.requests.push(req);
    b.sockets.push(ws);
    ws.on('error', () => {});
    ws.on('close', (code, reason) => b.closes.push([code, reason.toString()]));
    if (onConnection) onConnection(ws);
    else ws.on('message', (data, binary) => ws.send(data, { binary }));
  });
  onTestFinished(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(() => r(undefined)));
  });
  return b;
}

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers, maxPayload: 64 * 1024 * 1024 });
  ws.on('error', () => {});
  onTestFinished(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

const closed = (ws: WebSocket): Promise<[number, string]> =>
  new Promise((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));

/** nginx's snippet; `emptyKey` lets a test use `''` (verbatim) or the equivalent `~^$`. */
const CLASSIC = (port: number, extra = '', emptyKey = '~^$'): string => `
  http {
    map $http_upgrade $connection_upgrade {
        default upgrade;
        ${emptyKey}      close;
    }
    upstream ws_backend { server 127.0.0.1:${port}; }
    server {
      listen 127.0.0.1:0;
      location /ws/ {
        proxy_pass http://ws_backend;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        ${extra}
      }
    }
  }`;

describe('WebSocket through proxy_pass (classic nginx snippet)', () => {
  it('carries a 16 MB binary message both ways unchanged', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/echo`);
    const big = crypto.randomBytes(16 * 1024 * 1024);
    const echoed = new Promise<Buffer>((r) => ws.once('message', (d) => r(d as Buffer)));
    ws.send(big, { binary: true });
    const got = await echoed;
    expect(got.length).toBe(big.length);
    expect(crypto.createHash('sha256').update(got).digest('hex')).toBe(crypto.createHash('sha256').update(big).digest('hex'));
  });

  it('writes the access log line of a tunnel when it closes, with the request it was opened by', async () => {
    // An idle tunnel forgets its request unless a log needs it (issue 7): this one does.
    const be = await wsBackend();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-wslog-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(CLASSIC(be.port, `access_log ${log};`));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/logged?a=1`, { 'User-Agent': 'probe-kept' });
    const echoed = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    // Access logs are written asynchronously in 4 KiB batches: flush before each look.
    const logged = (): string => {
      flushLogs();
      return fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    };
    ws.send('hello');
    expect(await echoed).toBe('hello');
    expect(logged()).toBe('');
    ws.close(1000);
    // combined format: the request line, 101, and a request header (User-Agent) at close.
    await expect.poll(logged).toMatch(/"GET \/ws\/logged\?a=1 HTTP\/1\.1" 101 \d+ "-" "probe-kept"\n$/);
  });

  it('passes ping/pong in both directions with their payloads', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    const clientPong = new Promise<string>((r) => ws.once('pong', (d) => r(d.toString())));
    ws.ping('from-client');
    expect(await clientPong).toBe('from-client');
    await expect.poll(() => be.sockets.length).toBe(1);
    const serverPong = new Promise<string>((r) => be.sockets[0]!.once('pong', (d) => r(d.toString())));
    const clientPing = new Promise<string>((r) => ws.once('ping', (d) => r(d.toString())));
    be.sockets[0]!.ping('from-server');
    expect(await clientPing).toBe('from-server');
    expect(await serverPong).toBe('from-server');
  });

  it('delivers a client close code and reason (4001 "bye") to the server, and its answer back', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    const done = closed(ws);
    ws.close(4001, 'bye');
    expect(await done).toEqual([4001, 'bye']);
    await expect.poll(() => be.closes).toEqual([[4001, 'bye']]);
  });

  it('delivers a server close code and reason (4002 "server says bye") to the client', async () => {
    const be = await wsBackend((s) => s.on('message', () => s.close(4002, 'server says bye')));
    const proxy = await startProxy(CLASSIC(be.port));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    const done = closed(ws);
    ws.send('close please');
    expect(await done).toEqual([4002, 'server says bye']);
    await expect.poll(() => be.closes).toEqual([[4002, 'server says bye']]);
  });

  it('sends Upgrade / Connection from the snippet and X-Forwarded-For / X-Real-IP to the backend', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port));
    await open(`ws://127.0.0.1:${proxy.port()}/ws/`, { 'X-Forwarded-For': '192.0.2.9' });
    await expect.poll(() => be.requests.length).toBe(1);
    const h = be.requests[0]!.headers;
    expect(h['upgrade']?.toLowerCase()).toBe('websocket');
    expect(h['connection']?.toLowerCase()).toBe('upgrade');
    expect(h['x-forwarded-for']).toBe('192.0.2.9, 127.0.0.1');
    expect(h['x-real-ip']).toBe('127.0.0.1');
  });

  it('closes an idle tunnel after proxy_read_timeout, keeps a busy one', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port, 'proxy_read_timeout 300ms;'));
    const idle = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    const busy = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    const started = Date.now();
    const timer = setInterval(() => busy.send('tick'), 50);
    onTestFinished(() => clearInterval(timer));
    await closed(idle);
    const idleFor = Date.now() - started;
    expect(idleFor).toBeGreaterThanOrEqual(250);
    expect(idleFor).toBeLessThan(3000);
    expect(busy.readyState).toBe(WebSocket.OPEN);
    clearInterval(timer);
    await closed(busy);
  });
});

describe('the nginx snippet verbatim', () => {
  // A statement may start with a quoted word (nginx accepts it), so the map key '' loads verbatim.
  it("accepts `'' close;` in the map", async () => {
    const be = await wsBackend();
    const proxy = await startProxy(CLASSIC(be.port, '', "''"));
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/ws/`);
    ws.send('x');
    expect(await new Promise<string>((r) => ws.once('message', (d) => r(d.toString())))).toBe('x');
  });
});

describe('websocket_pass in an http location', () => {
  it('closes an idle tunnel after websocket_read_timeout', async () => {
    const be = await wsBackend();
    const proxy = await startProxy(`
      http {
        upstream wsb { server 127.0.0.1:${be.port}; }
        server {
          listen 127.0.0.1:0;
          location / { websocket_pass wsb; websocket_read_timeout 300ms; }
        }
      }`);
    const ws = await open(`ws://127.0.0.1:${proxy.port()}/chat`);
    ws.send('hello');
    expect(await new Promise<string>((r) => ws.once('message', (d) => r(d.toString())))).toBe('hello');
    const started = Date.now();
    await closed(ws);
    const idleFor = Date.now() - started;
    expect(idleFor).toBeGreaterThanOrEqual(250);
    expect(idleFor).toBeLessThan(3000);
  });
});
