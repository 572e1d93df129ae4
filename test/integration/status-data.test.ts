/**
 * The status document's data (issue 16) against real traffic in one process: every field group
 * of peers, server blocks, stream servers and the process, read through `check_status json`.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { configFrom } from '../helpers/proxy.js';
import { makeCert, writeCert } from '../helpers/tls-certs.js';
import { closedPort, killBackend, reviveBackend, send, startLoggedProxy, statusJson } from './upstream-helpers.js';
import type { PeerStatus, StatusDocument, UpstreamStatus } from '../../src/core/status/document.js';

const upstreamIn = (doc: StatusDocument, name: string, context = 'http'): UpstreamStatus =>
  doc.upstreams.find((u) => u.name === name && u.context === context)!;
const peerIn = (doc: StatusDocument, name: string, port: number, context = 'http'): PeerStatus =>
  upstreamIn(doc, name, context).peers.find((p) => p.key === `127.0.0.1:${port}`)!;

/** A TCP server that accepts and never answers; counts its connections. */
async function silentServer(): Promise<{ port: number; connections: () => number }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => n };
}

describe('status data from real traffic', () => {
  test('bytes, response classes, times and connections of a peer and its server block', async () => {
    const body = 'x'.repeat(1000);
    const backend = await startHttpBackend('A', (req, res) => {
      req.resume();
      const status = req.url === '/missing' ? 404 : req.url === '/boom' ? 500 : 200;
      req.on('end', () => {
        res.statusCode = status;
        res.end(status === 200 ? body : 'no');
      });
    });
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${backend.port}; }
      server { listen 127.0.0.1:0; server_name web;
        location / { proxy_pass http://app; }
        location = /status { check_status json; }
      }
    }`);
    const paths = ['/ok', '/ok', '/ok', '/missing', '/missing', '/boom'];
    for (const p of paths) await send(proxy.url(p), { agent: false, method: 'POST', body: 'hello' });
    const doc = await statusJson(proxy.url('/status'));
    const peer = peerIn(doc, 'app', backend.port);
    expect(peer.requests).toBe(6);
    expect(peer.responses).toEqual({ '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 2, '5xx': 1, xxx: 0 });
    // one after the other: the upstream pool hands the same connection on (opened once)
    expect(peer.connections).toBe(1);
    expect(peer.activeConnections).toBe(0);
    expect(peer.receivedBytes).toBeGreaterThan(3000);
    // each request went out with its 5-byte body
    expect(peer.sentBytes).toBeGreaterThan(6 * 5);
    expect(peer.responseTime.count).toBe(6);
    expect(peer.responseTime.counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(peer.responseTime.bounds).toHaveLength(peer.responseTime.counts.length - 1);
    expect([peer.connectFailures, peer.timeouts, peer.retries]).toEqual([0, 0, 0]);

    const server = doc.servers.find((s) => s.name === 'web')!;
    expect(server.listen).toEqual(['127.0.0.1:0']);
    // the status request itself ends after its document was made
    expect(server.requests).toBe(6);
    expect(server.responses).toEqual({ '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 2, '5xx': 1, xxx: 0 });
    expect(server.sentBytes).toBeGreaterThan(3000);
    expect(server.receivedBytes).toBeGreaterThan(6 * 5);
    expect(server.requestTime.count).toBe(6);
    // six connections plus the status fetch's, which is open (and busy) now
    expect(server.accepted).toBe(7);
    expect(server.connections).toMatchObject({ active: 1, writing: 1, idle: 0 });
    expect(doc.process.connections.requests).toBeGreaterThanOrEqual(7);
    expect(doc.process.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(doc.process.rssBytes).toBeGreaterThan(0);
    expect(doc.process).toMatchObject({ pid: process.pid, workers: 1, workersRunning: 1, reloads: 0, lastReloadOk: null });
    expect(doc.schema).toBe(2);
  });

  test('a connect failure to a closed port, and the retry, are counted on the failed peer', async () => {
    const dead = await closedPort();
    const live = await startHttpBackend('L');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${dead}; server 127.0.0.1:${live.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } location = /status { check_status json; } }
    }`);
    for (let i = 0; i < 4; i++) expect((await send(proxy.url('/'), { agent: false })).status).toBe(200);
    const doc = await statusJson(proxy.url('/status'));
    const d = peerIn(doc, 'app', dead);
    expect(d).toMatchObject({ requests: 1, connectFailures: 1, retries: 1, timeouts: 0, connections: 1, state: 'passive-down', fails: 1, stateChanges: 1 });
    expect(d.responses.xxx).toBe(1);
    const l = peerIn(doc, 'app', live.port);
    expect(l).toMatchObject({ requests: 4, connectFailures: 0, retries: 0, state: 'up' });
    expect(l.responses['2xx']).toBe(4);
    expect([upstreamIn(doc, 'app').up, upstreamIn(doc, 'app').total]).toEqual([1, 2]);
  });

  test('a timeout to a backend that never answers', async () => {
    const silent = await silentServer();
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${silent.port} max_fails=0; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; proxy_read_timeout 200ms; } location = /status { check_status json; } }
    }`);
    expect((await send(proxy.url('/'), { agent: false })).status).toBe(504);
    const doc = await statusJson(proxy.url('/status'));
    const p = peerIn(doc, 'app', silent.port);
    expect(p).toMatchObject({ requests: 1, timeouts: 1, connectFailures: 0, connections: 1, state: 'up' });
    expect(p.responses.xxx).toBe(1);
    expect(p.responseTime.sum).toBeGreaterThanOrEqual(0.15);
    expect(doc.servers[0]!.responses['5xx']).toBe(1);
  });

  test('L4 and L7 check results with their latency; a `down` peer is disabled and never probed; an idle backup is no failure', async () => {
    const ok = await startHttpBackend('ok');
    const failing = await startHttpBackend('503', (req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end();
    });
    const dead = await closedPort();
    const deadBackup = await closedPort();
    const disabled = await silentServer();
    const proxy = await startLoggedProxy(`http {
      upstream web { server 127.0.0.1:${ok.port}; server 127.0.0.1:${disabled.port} down; server 127.0.0.1:${deadBackup} backup;
        check interval=50 rise=2 fall=3 timeout=1000 type=http; }
      upstream svc { server 127.0.0.1:${failing.port}; check interval=50 rise=1 fall=1 timeout=1000 type=http; }
      upstream tcp { server 127.0.0.1:${dead}; check interval=50 rise=1 fall=2 timeout=1000 type=tcp; }
      server { listen 127.0.0.1:0; location = /status { check_status json; } }
    }`);
    const doc = async () => statusJson(proxy.url('/status'));
    await expect.poll(async () => {
      const d = await doc();
      return [peerIn(d, 'web', ok.port).check?.lastResult, peerIn(d, 'svc', failing.port).check?.lastResult, peerIn(d, 'tcp', dead).check?.lastResult,
        peerIn(d, 'web', deadBackup).state];
    }, { timeout: 5000 }).toEqual(['L7 200', 'L7 503', 'L4 connect refused', 'down']);
    const d = await doc();
    const good = peerIn(d, 'web', ok.port);
    expect(good.state).toBe('up');
    expect(good.check).toMatchObject({ type: 'http', riseThreshold: 2, fallThreshold: 3, lastOk: true, consecutiveFailed: 0 });
    expect(good.check!.consecutiveOk).toBeGreaterThanOrEqual(2);
    expect(good.check!.lastLatencyMs).toBeGreaterThanOrEqual(0);
    expect(good.check!.lastAt).not.toBeNull();
    const refused = peerIn(d, 'tcp', dead);
    expect(refused).toMatchObject({ state: 'down', lastError: 'connect() failed (111: Connection refused)' });
    expect(refused.check).toMatchObject({ type: 'tcp', lastOk: false, consecutiveOk: 0, riseThreshold: 1, fallThreshold: 2 });
    expect(refused.check!.consecutiveFailed).toBeGreaterThanOrEqual(1);
    expect(peerIn(d, 'svc', failing.port)).toMatchObject({ state: 'down', lastError: 'check returned status 503' });

    // the `down` peer: shown as disabled, never probed, no failure
    const off = peerIn(d, 'web', disabled.port);
    expect(off).toMatchObject({ state: 'disabled', down: true, check: null, downtimeMs: 0 });
    expect(disabled.connections()).toBe(0);
    // the backup is down but idle (the primary is up): the summary counts only the primary
    expect([upstreamIn(d, 'web').up, upstreamIn(d, 'web').total]).toEqual([1, 1]);
    expect([upstreamIn(d, 'tcp').up, upstreamIn(d, 'tcp').total]).toEqual([0, 1]);
  });

  test('state bookkeeping: since when, how many changes, how long down', async () => {
    const b = await startHttpBackend('B');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${b.port}; check interval=50 rise=1 fall=1 timeout=500 type=tcp default_down=false; }
      server { listen 127.0.0.1:0; location = /status { check_status json; } }
    }`);
    const peer = async () => peerIn(await statusJson(proxy.url('/status')), 'app', b.port);
    const start = await peer();
    expect(start).toMatchObject({ state: 'up', stateChanges: 0, downtimeMs: 0 });
    await killBackend(b);
    await expect.poll(async () => (await peer()).state, { timeout: 5000 }).toBe('down');
    const down = await peer();
    expect(down.stateChanges).toBe(1);
    expect(Date.parse(down.stateSince)).toBeGreaterThan(Date.parse(start.stateSince));
    await new Promise((r) => setTimeout(r, 100));
    expect((await peer()).downtimeMs).toBeGreaterThanOrEqual(100);
    await reviveBackend(b);
    await expect.poll(async () => (await peer()).state, { timeout: 5000 }).toBe('up');
    const up = await peer();
    expect(up.stateChanges).toBe(2);
    expect(up.downtimeMs).toBeGreaterThanOrEqual(100);
    expect(up.check!.lastResult).toBe('L4 ok');
    // downtime no longer grows while up
    await new Promise((r) => setTimeout(r, 100));
    expect((await peer()).downtimeMs).toBe(up.downtimeMs);
  });

  test('a reload keeps the counters of peers, server blocks and listeners that stay', async () => {
    const b = await startHttpBackend('B');
    const text = (extra: string) => `http {
      upstream app { server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; server_name web; location / { proxy_pass http://app; } location = /status { check_status json; } ${extra} }
      server { listen 127.0.0.1:0; server_name other; return 204; }
    }`;
    const proxy = await startLoggedProxy(text(''));
    for (let i = 0; i < 5; i++) await send(proxy.url('/'), { agent: false });
    const before = await statusJson(proxy.url('/status'));
    expect(peerIn(before, 'app', b.port).requests).toBe(5);
    const web = (d: StatusDocument) => d.servers.find((s) => s.name === 'web')!;
    expect(web(before).requests).toBe(5);
    await proxy.runtime.reload(configFrom(text('location = /x { return 204; }')));
    const after = await statusJson(proxy.url('/status'));
    expect(peerIn(after, 'app', b.port).requests).toBe(5);
    // the first status fetch ended since
    expect(web(after).requests).toBe(6);
    expect(web(after).accepted).toBe(web(before).accepted + 1);
    expect(web(after).sentBytes).toBeGreaterThan(web(before).sentBytes);
  });

  test('a stream server: sessions and bytes, and its peer', async () => {
    const echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    onTestFinished(() => void echo.close());
    const echoPort = (echo.address() as net.AddressInfo).port;
    const streamPort = await closedPort();
    const proxy = await startLoggedProxy(`
      stream { upstream db { server 127.0.0.1:${echoPort}; } server { listen 127.0.0.1:${streamPort}; proxy_pass db; } }
      http { server { listen 127.0.0.1:0; location = /status { check_status json; } } }`, '127.0.0.1:0');
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(streamPort, '127.0.0.1', () => c.write('hello'));
      let got = '';
      c.on('data', (d) => {
        got += d.toString();
        if (got.length >= 5) c.end();
      });
      c.on('close', () => resolve(got));
      c.on('error', reject);
    });
    expect(reply).toBe('hello');
    await expect.poll(async () => (await statusJson(proxy.url('/status'))).streamServers[0]!.sessions, { timeout: 3000 }).toBe(1);
    const doc = await statusJson(proxy.url('/status'));
    expect(doc.streamServers[0]).toMatchObject({ listen: [`127.0.0.1:${streamPort}`], protocol: 'tcp', sessions: 1, receivedBytes: 5, sentBytes: 5, activeSessions: 0 });
    const p = peerIn(doc, 'db', echoPort, 'stream');
    expect(p).toMatchObject({ requests: 1, connections: 1, sentBytes: 5, receivedBytes: 5, connectFailures: 0 });
    expect(p.responseTime.count).toBe(1);
  });

  test('TLS handshakes and failures of a listen address', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-status-'));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const { cert, key } = writeCert(dir, 'a', makeCert('a.test'));
    const tlsPort = await closedPort();
    const streamPort = await closedPort();
    const proxy = await startLoggedProxy(`http {
      server { listen 127.0.0.1:${tlsPort} ssl; server_name a.test; ssl_certificate ${cert}; ssl_certificate_key ${key}; return 204; }
      server { listen 127.0.0.1:0; location = /status { check_status json; } }
    }
    stream { server { listen 127.0.0.1:${streamPort} ssl; ssl_certificate ${cert}; ssl_certificate_key ${key}; return hi; } }`, '127.0.0.1:0');
    const tlsSession = (port: number, send: string) => new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false }, () => s.write(send));
      let got = '';
      s.setEncoding('utf8').on('data', (d: string) => (got += d));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    // not a TLS client: the handshake fails
    const garbage = (port: number) => new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('\x16\x03\x01\x00\x05hello'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    expect(await tlsSession(tlsPort, 'GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 204/);
    await garbage(tlsPort);
    expect(await tlsSession(streamPort, '')).toBe('hi');
    await garbage(streamPort);
    await expect.poll(async () => (await statusJson(proxy.url('/status'))).streamServers[0]!.tlsFailures, { timeout: 3000 }).toBe(1);
    expect((await statusJson(proxy.url('/status'))).streamServers[0]).toMatchObject({ tlsHandshakes: 1, tlsFailures: 1, sessions: 2 });
    const server = async () => (await statusJson(proxy.url('/status'))).servers.find((x) => x.name === 'a.test')!;
    await expect.poll(async () => (await server()).tlsFailures, { timeout: 3000 }).toBe(1);
    expect(await server()).toMatchObject({ tlsHandshakes: 1, tlsFailures: 1, accepted: 2, requests: 1, listen: [`127.0.0.1:${tlsPort}`] });
  });

  test('a UDP stream server: sessions and bytes, and its peer', async () => {
    const echo = dgram.createSocket('udp4');
    echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    onTestFinished(() => void echo.close());
    const echoPort = echo.address().port;
    const udpPort = await closedPort();
    const proxy = await startLoggedProxy(`
      stream { upstream dns { server 127.0.0.1:${echoPort}; } server { listen 127.0.0.1:${udpPort} udp; proxy_pass dns; proxy_responses 1; } }
      http { server { listen 127.0.0.1:0; location = /status { check_status json; } } }`, '127.0.0.1:0');
    const client = dgram.createSocket('udp4');
    onTestFinished(() => void client.close());
    const reply = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
    client.send('ping', udpPort, '127.0.0.1');
    expect(await reply).toBe('ping');
    await expect.poll(async () => (await statusJson(proxy.url('/status'))).streamServers[0]!.sessions, { timeout: 3000 }).toBe(1);
    const doc = await statusJson(proxy.url('/status'));
    expect(doc.streamServers[0]).toMatchObject({ protocol: 'udp', sessions: 1, receivedBytes: 4, sentBytes: 4 });
    expect(peerIn(doc, 'dns', echoPort, 'stream')).toMatchObject({ requests: 1, sentBytes: 4, receivedBytes: 4 });
  });
});
