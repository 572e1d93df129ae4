/**
 * Reloads that never hurt live traffic, through the real Runtime API on real sockets.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, test, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { Reloader } from '../../src/runtime/reload.js';
import { createLogger } from '../../src/log.js';
import { startHttpBackend } from '../helpers/backend.js';

const quiet = pino({ level: 'silent' });

function cfg(text: string): Config {
  const r = loadConfig(text, 'reload.conf');
  if (r.config === null) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

async function start(text: string): Promise<Runtime> {
  const rt = await Runtime.start(cfg(text), { logger: quiet });
  onTestFinished(() => rt.stop({ graceful: false }));
  return rt;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-reload-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port some other server holds for the rest of the test (a listen on it cannot bind). */
async function busyPort(): Promise<number> {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => blocker.close(() => r())));
  return (blocker.address() as net.AddressInfo).port;
}

function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  onTestFinished(() => agent.destroy());
  return agent;
}

interface Got {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
  reused: boolean;
}

function get(target: { port: number } | { socketPath: string }, urlPath: string, agent?: http.Agent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const opts = 'port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.socketPath };
    const req = http.request({ ...opts, path: urlPath, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A ws echo server on 127.0.0.1:0. */
async function wsEcho(): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
  onTestFinished(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  return (wss.address() as net.AddressInfo).port;
}

interface OpenWs {
  ws: WebSocket;
  closed: { code: number; at: number } | null;
  echo(text: string): Promise<string>;
}

async function openWs(url: string): Promise<OpenWs> {
  const ws = new WebSocket(url);
  onTestFinished(() => ws.terminate());
  const o: OpenWs = {
    ws,
    closed: null,
    echo: (text) =>
      new Promise((resolve, reject) => {
        ws.once('message', (m) => resolve(m.toString()));
        ws.once('close', () => reject(new Error('closed')));
        ws.send(text);
      }),
  };
  ws.on('close', (code) => (o.closed = { code, at: Date.now() }));
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return o;
}

describe('upstream keep-alive pool across reloads', () => {
  test('an unchanged (upstream, address) keeps its idle socket; a dropped peer loses it', async () => {
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    const conf = (peer: number, extra: string) => `http { upstream app { server 127.0.0.1:${peer}; keepalive 8; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } ${extra} } }`;
    const rt = await start(conf(a.port, ''));
    const port = rt.port('127.0.0.1:0');
    expect((await get({ port }, '/')).body).toBe('a');
    await rt.reload(cfg(conf(a.port, 'location /x { return 200 "x"; }')));
    expect((await get({ port }, '/')).body).toBe('a');
    expect(a.requests).toBe(2);
    expect(a.sockets).toBe(1); // the pooled upstream connection survived the reload

    await rt.reload(cfg(conf(b.port, '')));
    expect((await get({ port }, '/')).body).toBe('b');
    // The peer left the config: its idle connection is closed, not leaked.
    await expect.poll(() => new Promise((r) => a.server.getConnections((_e, n) => r(n)))).toBe(0);
  });
});

describe('keep-alive clients and in-flight requests', () => {
  test('in-flight requests finish on their config; the next request on the same connection sees the new one', async () => {
    const slow = await startHttpBackend('slow', (req, res) => {
      setTimeout(() => res.end('slow done'), 300);
    });
    const conf = (tag: string) => `http { server { listen 127.0.0.1:0;
      add_header X-Config ${tag};
      location /slow { proxy_pass http://127.0.0.1:${slow.port}; }
      location / { return 200 "${tag}"; } } }`;
    const rt = await start(conf('one'));
    const port = rt.port('127.0.0.1:0');
    const agent = keepAliveAgent();
    expect((await get({ port }, '/', agent)).body).toBe('one');
    const inflight = get({ port }, '/slow', agent);
    await expect.poll(() => slow.requests).toBe(1);
    await rt.reload(cfg(conf('two')));
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(done.headers['x-config']).toBe('one');
    expect(done.headers.connection).not.toBe('close');
    const next = await get({ port }, '/', agent);
    expect(next.body).toBe('two');
    expect(next.reused).toBe(true);
  });
});

describe('listeners', () => {
  test('a removed listener stops accepting at once, and closes its connections after their current response', async () => {
    const dir = tempDir();
    const sock = path.join(dir, 'old.sock');
    const slow = await startHttpBackend('slow', (req, res) => {
      setTimeout(() => res.end('slow done'), 400);
    });
    const body = `location /slow { proxy_pass http://127.0.0.1:${slow.port}; } location / { return 200 "ok"; }`;
    const rt = await start(`http { server { listen 127.0.0.1:0; listen unix:${sock}; ${body} } }`);
    const busyAgent = keepAliveAgent();
    const idleAgent = keepAliveAgent();
    expect((await get({ socketPath: sock }, '/', idleAgent)).body).toBe('ok');
    const idleSocket = Object.values(idleAgent.freeSockets)[0]![0]!;
    let idleClosed = false;
    idleSocket.on('close', () => (idleClosed = true));
    const inflight = get({ socketPath: sock }, '/slow', busyAgent);
    await expect.poll(() => slow.requests).toBe(1);

    const summary = await rt.reload(cfg(`http { server { listen 127.0.0.1:0; ${body} } }`));
    expect(summary.listenersClosed).toEqual([`unix:${sock}`]);
    await expect.poll(() => idleClosed).toBe(true);
    await expect(get({ socketPath: sock }, '/')).rejects.toThrow();
    const done = await inflight;
    expect(done.status).toBe(200);
    expect(done.body).toBe('slow done');
    expect(done.headers.connection).toBe('close');
    expect((await get({ port: rt.port('127.0.0.1:0') }, '/')).body).toBe('ok');
  });

  test('a new listen that cannot bind fails the reload, keeps the old config, and the error is logged', async () => {
    const taken = await busyPort();
    const rt = await start('http { server { listen 127.0.0.1:0; location / { return 200 "old"; } } }');
    const port = rt.port('127.0.0.1:0');
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', stream: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    let next = cfg(`http { server { listen 127.0.0.1:0; listen 127.0.0.1:${taken}; location / { return 200 "new"; } } }`);
    const reloader = new Reloader({ runtime: rt, logger, load: () => ({ config: next, errors: [], warnings: [] }), debounceMs: 1 });
    onTestFinished(() => reloader.close());
    reloader.requestReload('test');
    await reloader.idle;
    expect(lines.join('')).toContain('reload failed, keeping the running configuration');
    expect(lines.join('')).toContain(`bind() to 127.0.0.1:${taken} failed (98: Address already in use)`);
    expect((await get({ port }, '/')).body).toBe('old');
    expect([...rt.addresses().keys()]).toEqual(['127.0.0.1:0']);

    // The same reloader: a good config reloads with one summary line, then an identical one is a no-op.
    next = cfg('http { upstream u { server 127.0.0.1:1; } server { listen 127.0.0.1:0; location / { return 200 "new"; } } }');
    reloader.requestReload('test');
    await reloader.idle;
    const summary = JSON.parse(lines.find((l) => l.includes('"configuration reloaded"'))!) as Record<string, unknown>;
    expect(summary.servers).toEqual({ added: 0, changed: 1, removed: 0 });
    expect(summary.upstreams).toEqual({ added: 1, changed: 0, removed: 0 });
    expect(typeof summary.durationMs).toBe('number');
    expect((await get({ port }, '/')).body).toBe('new');
    reloader.requestReload('again');
    await reloader.idle;
    expect(lines.join('')).toContain('configuration unchanged, nothing to reload');
  });
});

describe('a rejected reload changes nothing', () => {
  test('a reload that fails on a busy port does not apply `down` or `check default_down` to running peers', async () => {
    const taken = await busyPort();
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const config = (extra: { listen: string; downA: string; checkB: string }) =>
      cfg(`http {
        upstream ua { server 127.0.0.1:${a.port}${extra.downA}; server 127.0.0.1:1 backup; }
        upstream ub { server 127.0.0.1:${b.port}; ${extra.checkB} }
        server { listen 127.0.0.1:0; ${extra.listen}
          location /a { proxy_pass http://ua; }
          location /b { proxy_pass http://ub; } } }`);
    const rt = await start('');
    await rt.reload(config({ listen: '', downA: '', checkB: '' }));
    const port = rt.port('127.0.0.1:0');
    expect((await get({ port }, '/a')).body).toBe('A');
    expect((await get({ port }, '/b')).body).toBe('B');

    // The new config marks A down and gives ub a check whose default_down starts its peer down
    // (probing port 1, so it could never come up), and adds a listen that cannot bind.
    const bad = config({ listen: `listen 127.0.0.1:${taken};`, downA: ' down', checkB: 'check interval=60000 rise=2 fall=5 timeout=1000 port=1;' });
    await expect(rt.reload(bad)).rejects.toThrow(/Address already in use/);
    for (let i = 0; i < 3; i++) {
      expect(await get({ port }, '/a')).toMatchObject({ status: 200, body: 'A' });
      expect(await get({ port }, '/b')).toMatchObject({ status: 200, body: 'B' });
    }

    // Without the busy port the same change applies (so the test above can fail).
    await rt.reload(config({ listen: '', downA: ' down', checkB: 'check interval=60000 rise=2 fall=5 timeout=1000 port=1;' }));
    expect((await get({ port }, '/a')).status).toBe(502);
    expect((await get({ port }, '/b')).status).toBe(502);
  });
});

describe('tunnels across reloads', () => {
  test('WebSocket and TCP tunnels on kept routes flow on; those on vanished routes close after stream_close_delay (WebSocket 1001)', async () => {
    const dir = tempDir();
    const wsPort = await wsEcho();
    const echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => echo.close(() => r())));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const keepSock = path.join(dir, 'keep.sock');
    const goneSock = path.join(dir, 'gone.sock');
    const conf = (withGone: boolean) => `stream_close_delay 300ms;
      http { server { listen 127.0.0.1:0;
        location /keep { proxy_pass http://127.0.0.1:${wsPort}; }
        ${withGone ? `location /gone { proxy_pass http://127.0.0.1:${wsPort}; }` : 'location /other { return 204; }'} } }
      stream { server { listen unix:${keepSock}; proxy_pass 127.0.0.1:${echoPort}; }
        ${withGone ? `server { listen unix:${goneSock}; proxy_pass 127.0.0.1:${echoPort}; }` : ''} }`;
    const rt = await start(conf(true));
    const port = rt.port('127.0.0.1:0');
    const keep = await openWs(`ws://127.0.0.1:${port}/keep`);
    const gone = await openWs(`ws://127.0.0.1:${port}/gone`);
    const tcpKeep = net.connect({ path: keepSock });
    const tcpGone = net.connect({ path: goneSock });
    let tcpGoneEnded = false;
    for (const s of [tcpKeep, tcpGone]) {
      s.on('error', () => {});
      onTestFinished(() => void s.destroy());
    }
    tcpGone.on('end', () => (tcpGoneEnded = true));
    tcpGone.resume();
    const tcpEcho = (s: net.Socket, text: string) =>
      new Promise<string>((resolve) => {
        s.once('data', (d) => resolve(d.toString()));
        s.write(text);
      });
    expect(await tcpEcho(tcpKeep, 'hi')).toBe('hi');
    expect(await keep.echo('a')).toBe('echo a');
    await expect.poll(() => rt.tunnels.size).toBe(4);

    const reloadedAt = Date.now();
    const summary = await rt.reload(cfg(conf(false)));
    expect(summary.tunnelsClosing).toBe(2);
    await expect.poll(() => gone.closed?.code, { timeout: 3000 }).toBe(1001);
    expect(gone.closed!.at - reloadedAt).toBeGreaterThanOrEqual(250);
    await expect.poll(() => tcpGoneEnded).toBe(true);
    expect(keep.closed).toBeNull();
    expect(await keep.echo('b')).toBe('echo b');
    expect(await tcpEcho(tcpKeep, 'again')).toBe('again');
    expect(rt.tunnels.size).toBe(2);
  });
});
