import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { describe, expect, onTestFinished, test } from 'vitest';
import { WebSocketServer } from 'ws';
import type { CheckConfig } from '../../../src/config/types.js';
import { HealthChecker, type CheckLogger } from '../../../src/upstream/health/active.js';
import { UpstreamGroup } from '../../../src/upstream/group.js';
import { PeerRegistry } from '../../../src/upstream/registry.js';
import { check, server, upstream } from '../helpers.js';

function captureLogger(): CheckLogger & { lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

/** Listen on 127.0.0.1 (port 0 = ephemeral); tracks sockets so close() really closes. */
async function listen(srv: Server | HttpServer, port = 0): Promise<number> {
  const sockets = new Set<Socket>();
  srv.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  (srv as Server & { closeAll?: () => void }).closeAll = () => {
    for (const s of sockets) s.destroy();
  };
  await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return (srv.address() as AddressInfo).port;
}

async function close(srv: Server | HttpServer): Promise<void> {
  if (!srv.listening) return;
  const done = new Promise<void>((resolve) => srv.close(() => resolve()));
  (srv as Server & { closeAll?: () => void }).closeAll?.();
  await done;
}

async function checkedGroup(ports: number[], cfg: Partial<CheckConfig>, registry = new PeerRegistry()) {
  const group = await UpstreamGroup.create(
    upstream('app', ports.map((p) => server(`127.0.0.1:${p}`)), { check: check(cfg) }),
    registry,
  );
  const logger = captureLogger();
  const checker = new HealthChecker(group, { logger, random: () => 0 });
  onTestFinished(() => checker.stop());
  return { group, checker, logger, peer: group.peers[0]!, registry };
}

describe('active checks: tcp', () => {
  test('a peer goes down when its server closes and back up after rise successes; only changes are logged', async () => {
    const srv = createServer((s) => s.end());
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, logger, peer } = await checkedGroup([port], { type: 'tcp', intervalMs: 30, rise: 2, fall: 2 });
    checker.start();
    await expect.poll(() => peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    expect(peer.healthy).toBe(true);

    await close(srv);
    await expect.poll(() => peer.healthy, { timeout: 5000 }).toBe(false);
    expect(peer.lastError).toBe('connect() failed (111: Connection refused)');
    expect(peer.fallCount).toBeGreaterThanOrEqual(2);

    const again = createServer((s) => s.end());
    await listen(again, port);
    onTestFinished(() => close(again));
    await expect.poll(() => peer.healthy, { timeout: 5000 }).toBe(true);
    await expect.poll(() => peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(4);
    expect(logger.lines).toEqual([
      {
        level: 'warn',
        obj: { upstream: 'app', peer: `127.0.0.1:${port}`, reason: 'connect() failed (111: Connection refused)' },
        msg: `peer 127.0.0.1:${port} in upstream app is down: connect() failed (111: Connection refused)`,
      },
      { level: 'info', obj: { upstream: 'app', peer: `127.0.0.1:${port}` }, msg: `peer 127.0.0.1:${port} in upstream app is up` },
    ]);
  });

  test('default_down: a new peer starts down and comes up after `rise` successes', async () => {
    const srv = createServer((s) => s.end());
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer, group } = await checkedGroup([port], { defaultDown: true, rise: 3, intervalMs: 30 });
    expect(peer.healthy).toBe(false);
    expect(group.allDown()).toBe(true);
    checker.start();
    await expect.poll(() => peer.healthy, { timeout: 5000, interval: 5 }).toBe(true);
    // Not before `rise`: the back-to-back probing (next test) counts exactly three.
    expect(peer.riseCount).toBeGreaterThanOrEqual(3);
  });

  test('default_down: a new peer is probed at once and back to back until `rise`, not once per interval', async () => {
    const { port, counter } = await countingServer();
    const { checker, peer } = await checkedGroup([port], { defaultDown: true, rise: 3, intervalMs: 10_000 });
    const t0 = Date.now();
    checker.start();
    await expect.poll(() => peer.healthy, { timeout: 1000, interval: 5 }).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(counter.connections).toBe(3);
    // Up: back on the schedule (next probe an interval later).
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.connections).toBe(3);
  });

  test('default_down: the back-to-back probing stops at the first failure', async () => {
    const counter = { connections: 0 };
    const srv = createServer((s) => {
      counter.connections++;
      s.end('HTTP/1.0 500 Internal Server Error\r\n\r\n');
    });
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'http', defaultDown: true, rise: 2, intervalMs: 10_000 });
    checker.start();
    await expect.poll(() => peer.checkedAt, { timeout: 1000, interval: 5 }).not.toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.connections).toBe(1);
    expect(peer.healthy).toBe(false);
  });

  test('a reload keeps the verdict of an existing peer even with default_down', async () => {
    const srv = createServer((s) => s.end());
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const first = await checkedGroup([port], { defaultDown: true, rise: 1, intervalMs: 30 });
    first.checker.start();
    await expect.poll(() => first.peer.healthy, { timeout: 5000 }).toBe(true);
    first.checker.stop();
    const second = await checkedGroup([port], { defaultDown: true, rise: 1, intervalMs: 30 }, first.registry);
    expect(second.peer).toBe(first.peer);
    expect(second.peer.healthy).toBe(true);
  });

  test('timeout: a peer that accepts but never answers an http check fails with "timed out"', async () => {
    const srv = createServer(() => {});
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'http', timeoutMs: 100, fall: 1 });
    const result = await checker.checkPeer(peer);
    expect(result).toEqual({ ok: false, reason: 'timed out' });
    expect(peer.healthy).toBe(false);
    expect(peer.lastError).toBe('timed out');
  });

  test('port= overrides the peer port', async () => {
    const srv = createServer((s) => s.end());
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([1], { port });
    expect(await checker.checkPeer(peer)).toEqual({ ok: true });
  });

  test('checks of a group are spread over the interval', async () => {
    const starts: number[] = [];
    const servers = await Promise.all(
      [0, 1, 2].map(async (i) => {
        const srv = createServer((s) => {
          starts[i] ??= Date.now();
          s.end();
        });
        const port = await listen(srv);
        onTestFinished(() => close(srv));
        return port;
      }),
    );
    const { checker } = await checkedGroup(servers, { intervalMs: 600 });
    const t0 = Date.now();
    checker.start();
    await expect.poll(() => starts.filter((s) => s !== undefined).length, { timeout: 5000 }).toBe(3);
    const offsets = starts.map((s) => s - t0);
    // peer i starts at i * 600/3 ms (jitter 0 here); timers may fire late under load, never early
    expect(offsets[0]).toBeLessThan(offsets[1]!);
    expect(offsets[1]).toBeGreaterThanOrEqual(190);
    expect(offsets[2]).toBeGreaterThanOrEqual(390);
    expect(offsets[2]).toBeLessThan(1500);
  });

  /** A checker on its own server whose rise count shows that time has passed. */
  async function clock() {
    const srv = createServer((s) => s.end());
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const c = await checkedGroup([port], { intervalMs: 20 }, new PeerRegistry());
    c.checker.start();
    return (checks: number) => {
      const target = c.peer.riseCount + checks;
      return expect.poll(() => c.peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(target);
    };
  }

  async function countingServer() {
    const counter = { connections: 0 };
    const srv = createServer((s) => {
      counter.connections++;
      s.end();
    });
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    return { port, counter };
  }

  test('stop() ends probing', async () => {
    const { port, counter } = await countingServer();
    const a = await checkedGroup([port], { intervalMs: 20 });
    a.checker.start();
    await expect.poll(() => a.peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    a.checker.stop();
    expect(a.checker.running).toBe(false);
    const checkedAt = a.peer.checkedAt;
    const seen = counter.connections;
    await (await clock())(5);
    expect(a.peer.checkedAt).toBe(checkedAt);
    expect(counter.connections - seen).toBeLessThanOrEqual(1);
  });

  test('a peer the registry dropped is no longer probed', async () => {
    const { port, counter } = await countingServer();
    const a = await checkedGroup([port], { intervalMs: 20 });
    a.checker.start();
    await expect.poll(() => a.peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    a.registry.retain([]);
    expect(a.peer.retired).toBe(true);
    const rise = a.peer.riseCount;
    const seen = counter.connections;
    await (await clock())(5);
    expect(a.peer.riseCount).toBe(rise);
    expect(counter.connections - seen).toBeLessThanOrEqual(1);
  });
});

describe('active checks: http', () => {
  async function httpPeer(status: number): Promise<number> {
    const srv = createHttpServer((_req, res) => {
      res.writeHead(status, { connection: 'close' }).end('x');
    });
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    return port;
  }

  test.each([
    { status: 200, expect: ['http_2xx', 'http_3xx'], ok: true, reason: null },
    { status: 302, expect: ['http_2xx', 'http_3xx'], ok: true, reason: null },
    { status: 500, expect: ['http_2xx', 'http_3xx'], ok: false, reason: 'check returned status 500' },
    { status: 404, expect: ['http_2xx'], ok: false, reason: 'check returned status 404' },
    { status: 503, expect: ['http_5xx'], ok: true, reason: null },
  ] as const)('status $status with expect_alive $expect → ok=$ok', async ({ status, expect: alive, ok, reason }) => {
    const port = await httpPeer(status);
    const { checker, peer } = await checkedGroup([port], { type: 'http', expectAlive: alive });
    const result = await checker.checkPeer(peer);
    expect(result.ok).toBe(ok);
    if (!result.ok) expect(result.reason).toBe(reason);
  });

  test('sends check_http_send as given', async () => {
    let seen = '';
    const srv = createHttpServer((req, res) => {
      seen = `${req.method} ${req.url} ${req.headers.host}`;
      res.end();
    });
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'http', httpSend: 'HEAD /healthz HTTP/1.0\r\nHost: probe.test\r\n\r\n' });
    expect(await checker.checkPeer(peer)).toEqual({ ok: true });
    expect(seen).toBe('HEAD /healthz probe.test');
  });

  test('a non-HTTP reply is a failure', async () => {
    const srv = createServer((s) => s.end('SSH-2.0-OpenSSH\r\n'));
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'http' });
    expect(await checker.checkPeer(peer)).toEqual({ ok: false, reason: 'invalid status line in check response' });
  });

  // The proxy's own status-line rules (src/wire/http1-response.ts): a bare LF ends it, as nginx
  // takes it from upstreams; what the proxy would not take as a status line is a failure.
  test.each([
    { reply: 'HTTP/1.1 200 OK\nContent-Length: 0\n\n', result: { ok: true } },
    { reply: 'HTTP/1.0 503\n\n', result: { ok: false, reason: 'check returned status 503' } },
    { reply: 'HTTP/2.0 200 OK\r\n\r\n', result: { ok: false, reason: 'invalid status line in check response' } },
    { reply: 'HTTP/1.1 600 X\r\n\r\n', result: { ok: false, reason: 'invalid status line in check response' } },
  ])('reply $reply', async ({ reply, result }) => {
    const srv = createServer((s) => s.once('data', () => s.end(reply)));
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'http' });
    expect(await checker.checkPeer(peer)).toEqual(result);
  });
});

describe('active checks: ssl_hello', () => {
  test('a TLS server answers the ClientHello with a ServerHello; a plain server does not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsproxy-tls-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
    tls.on('tlsClientError', () => {});
    const tlsPort = await listen(tls);
    onTestFinished(() => close(tls));
    const plain = createHttpServer((_q, r) => r.end());
    const plainPort = await listen(plain);
    onTestFinished(() => close(plain));

    const { checker, group } = await checkedGroup([tlsPort, plainPort], { type: 'ssl_hello' });
    expect(await checker.checkPeer(group.peers[0]!)).toEqual({ ok: true });
    expect(await checker.checkPeer(group.peers[1]!)).toEqual({ ok: false, reason: 'check response is not a TLS handshake' });
  });
});

describe('active checks: websocket', () => {
  test('a ws server answers 101 with the right accept key and sees a clean close', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.on('listening', resolve));
    onTestFinished(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const closes: number[] = [];
    const paths: string[] = [];
    wss.on('connection', (ws, req) => {
      paths.push(req.url ?? '');
      ws.on('error', () => {});
      ws.on('close', (code) => closes.push(code));
    });
    const port = (wss.address() as AddressInfo).port;
    const { checker, peer } = await checkedGroup([port], { type: 'websocket', httpSend: 'GET /ws/health HTTP/1.0\r\n\r\n' });
    expect(await checker.checkPeer(peer)).toEqual({ ok: true });
    await expect.poll(() => closes).toEqual([1000]);
    expect(paths).toEqual(['/ws/health']);
  });

  test('a 101 whose head ends its lines in bare LF is read as the proxy reads it', async () => {
    const srv = createServer((s) =>
      s.once('data', (d: Buffer) => {
        const key = /Sec-WebSocket-Key: (\S+)/.exec(d.toString('latin1'))![1]!;
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        s.write(`HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: ${accept}\n\n`);
      }),
    );
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'websocket' });
    expect(await checker.checkPeer(peer)).toEqual({ ok: true });
  });

  test.each([
    { name: 'a plain HTTP 200', reply: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', reason: 'websocket check returned status 200' },
    {
      name: 'a 101 with a wrong accept key',
      reply: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n',
      reason: 'websocket check got a wrong Sec-WebSocket-Accept',
    },
  ])('$name is a failure', async ({ reply, reason }) => {
    const srv = createServer((s) => s.once('data', () => s.end(reply)));
    const port = await listen(srv);
    onTestFinished(() => close(srv));
    const { checker, peer } = await checkedGroup([port], { type: 'websocket' });
    expect(await checker.checkPeer(peer)).toEqual({ ok: false, reason });
  });
});
