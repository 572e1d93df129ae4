/**
 * `--explain` on tcp {} / stream {} listens matches the running proxy: SNI routes through a map of
 * $ssl_preread_server_name (TLS passed through: the backend that gets the ClientHello is the one
 * the explanation names first), allow/deny, and websocket_pass requests (the upgrade head the
 * backend receives is the one explained). One proxy serves the file.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { explainRequest, type Explanation } from '../../src/runtime/explain/explain.js';

const closers: (() => void)[] = [];
/** Which raw backend got a connection, in order. */
const connected: string[] = [];
/** Upgrade heads the WebSocket backend received ("Name: value" lines). */
const upgrades: { url: string; head: string[] }[] = [];

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A raw backend noting that it got a connection, then closing it. */
async function rawBackend(name: string): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    connected.push(name);
    socket.destroy();
  });
  closers.push(() => server.close());
  return listen(server);
}

let dir: string;
let config: Config;
let sources: { file: string; text: string }[];
let runtime: Runtime;
const ports: Record<string, number> = {};

beforeAll(async () => {
  for (const n of ['a1', 'a2', 'b1']) ports[n] = await rawBackend(n);
  const ws = http.createServer();
  ws.on('upgrade', (req, socket) => {
    const head: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) head.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upgrades.push({ url: req.url ?? '', head });
    socket.destroy();
  });
  closers.push(() => {
    ws.closeAllConnections();
    ws.close();
  });
  ports['ws'] = await listen(ws);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-explain-stream-'));
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, `
events {}
stream {
  map $ssl_preread_server_name $sni_pool { a.example.com pool_a; default pool_b; }
  upstream pool_a { server 127.0.0.1:${ports['a1']}; server 127.0.0.1:${ports['a2']}; }
  upstream pool_b { server 127.0.0.1:${ports['b1']}; }
  server { listen 127.0.0.1:0; ssl_preread on; proxy_pass $sni_pool; }
  server { listen [::1]:0; allow 10.0.0.0/8; deny all; proxy_pass pool_b; }
}
tcp {
  upstream chat { server 127.0.0.1:${ports['ws']}; }
  server { listen 127.0.0.2:0; server_name ws.example.com; websocket_pass /chat chat; }
}
`);
  const loaded = loadConfigFile(file, { prefix: dir });
  if (loaded.config === null) throw new Error(loaded.errors.map(String).join('\n'));
  config = loaded.config;
  sources = loaded.sources;
  runtime = await Runtime.start(config);
});

afterAll(async () => {
  await runtime?.stop({ graceful: false });
  for (const c of closers) c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function explain(request: string, listen: string, headers: string[] = [], from: string | null = null): Promise<Explanation> {
  return explainRequest(config, { files: sources, base: dir }, { request, headers, from, listen, sni: null, health: null });
}

/** A TLS client naming `servername`; the proxy passes its ClientHello to a backend that closes. */
async function helloWith(port: number, servername: string): Promise<void> {
  await new Promise<void>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

describe('--explain on tcp and stream listens matches the running proxy', () => {
  it('SNI through a map picks the group; the first peer named gets the connection', async () => {
    const port = runtime.port('127.0.0.1:0');
    for (const [name, first] of [['a.example.com', 'a1'], ['other.example.com', 'b1']] as const) {
      const e = await explain(`GET https://${name}:${port}/`, '127.0.0.1:0');
      expect(e.context).toBe('stream');
      expect(e.variables['ssl_preread_server_name']).toBe(name);
      if (e.content.kind !== 'stream') throw new Error(JSON.stringify(e.content));
      expect(e.content.dynamic).toBe(first === 'a1' ? 'pool_a' : 'pool_b');
      const before = connected.length;
      await helloWith(port, name);
      await expect.poll(() => connected.length).toBe(before + 1);
      expect(e.content.order[0]).toBe(`127.0.0.1:${ports[first]}`);
      expect(connected[before]).toBe(first);
    }
  });

  it('allow/deny: the explanation closes the connection, and so does the proxy', async () => {
    const e = await explain(`GET http://[::1]:${runtime.port('[::1]:0')}/`, '[::1]:0', [], '::1');
    expect(e.steps).toContainEqual(expect.objectContaining({ kind: 'access', judged: true }));
    expect(e.content).toEqual({ kind: 'close' });
    const before = connected.length;
    const closed = await new Promise<string>((resolve) => {
      const s = net.connect(runtime.port('[::1]:0'), '::1');
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
    });
    expect(closed).toBe('');
    expect(connected.length).toBe(before);
    const allowed = await explain(`GET http://[::1]:${runtime.port('[::1]:0')}/`, '[::1]:0', [], '10.9.8.7');
    expect(allowed.content).toMatchObject({ kind: 'stream', group: 'pool_b', order: [`127.0.0.1:${ports['b1']}`] });
  });

  it('websocket_pass: routed by the HTTP engine, the upgrade head as the backend receives it', async () => {
    const port = runtime.port('127.0.0.2:0');
    const headers = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
    const e = await explain(`GET http://ws.example.com:${port}/chat/room?x=1`, '127.0.0.2:0', headers);
    expect(e.context).toBe('http');
    expect(e.server).toMatchObject({ name: 'ws.example.com', how: 'exact' });
    if (e.content.kind !== 'proxy') throw new Error(JSON.stringify(e.content));
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.2');
      s.on('error', () => resolve());
      s.on('close', () => resolve());
      // the backend closes at once: the proxy answers 502 on a connection that stays open
      s.on('data', () => s.destroy());
      s.write(`GET /chat/room?x=1 HTTP/1.1\r\nHost: ws.example.com:${port}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`);
    });
    await expect.poll(() => upgrades.length).toBe(1);
    expect(e.content.head[0]).toBe(`GET ${upgrades[0]!.url} HTTP/1.1`);
    expect(e.content.head.slice(1)).toEqual(upgrades[0]!.head);

    // another first segment: 404 from the explanation and from the proxy
    const other = await explain(`GET http://ws.example.com:${port}/other`, '127.0.0.2:0', headers);
    expect(other.content).toMatchObject({ kind: 'answer', status: 404 });
  });
});
