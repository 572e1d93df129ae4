import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { CheckConfig } from '../../../src/config/types.js';
import { HealthChecker } from '../../../src/upstream/health/active.js';
import { CheckResponseReader, requestClosesConnection } from '../../../src/upstream/health/http-check.js';
import { UpstreamGroup } from '../../../src/upstream/group.js';
import { PeerRegistry } from '../../../src/upstream/registry.js';
import { check, server, upstream } from '../helpers.js';

const KEEP_SEND = 'GET /health HTTP/1.1\r\nConnection: keep-alive\r\nHost: x\r\n\r\n';
const HEAD_SEND = 'HEAD / HTTP/1.1\r\nConnection: keep-alive\r\nHost: x\r\n\r\n';

function read(text: string, opts: { head?: boolean; split?: number } = {}): CheckResponseReader {
  const reader = new CheckResponseReader(opts.head ?? false);
  const bytes = Buffer.from(text, 'latin1');
  const step = opts.split ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) expect(reader.feed(bytes.subarray(i, i + step))).toBeNull();
  return reader;
}

describe('CheckResponseReader', () => {
  const chunked =
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1A\r\n' + 'x'.repeat(26) + '\r\n0\r\nX-T: 1\r\n\r\n';

  test.each([1, 2, 3, 7, 1000])('chunked body fed %i bytes at a time is consumed exactly', (split) => {
    const r = read(chunked, { split });
    expect(r.head).toEqual({ status: 200, versionMinor: 1 });
    expect(r).toMatchObject({ complete: true, reusable: true, excess: 0 });
  });

  test('content-length body is consumed exactly; bytes beyond it count as excess', () => {
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc', { split: 2 })).toMatchObject({ complete: true, reusable: true, excess: 0 });
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP')).toMatchObject({ complete: true, excess: 4 });
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab')).toMatchObject({ complete: false, reusable: true });
  });

  test('HEAD, 204 and 304 have no body whatever the headers say', () => {
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', { head: true })).toMatchObject({ complete: true, reusable: true });
    expect(read('HTTP/1.1 204 No Content\r\n\r\n')).toMatchObject({ complete: true, reusable: true });
    expect(read('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n')).toMatchObject({ complete: true, reusable: true });
  });

  test('not reusable: no framing, Connection: close, HTTP/1.0 without keep-alive, unknown coding, 1xx, conflicting lengths', () => {
    expect(read('HTTP/1.1 200 OK\r\n\r\nbody')).toMatchObject({ reusable: false, complete: false });
    expect(read('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').reusable).toBe(false);
    expect(read('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').reusable).toBe(false);
    expect(read('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').reusable).toBe(true);
    expect(read('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n').reusable).toBe(false);
    expect(read('HTTP/1.1 100 Continue\r\n\r\n').reusable).toBe(false);
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n').reusable).toBe(false);
  });

  test('a broken chunk stream ends the response as not reusable; a bad status line is a failure', () => {
    expect(read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')).toMatchObject({ complete: true, reusable: false });
    expect(read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX')).toMatchObject({ complete: true, reusable: false });
    expect(new CheckResponseReader(false).feed(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toBe('invalid status line in check response');
    expect(new CheckResponseReader(false).feed(Buffer.from('HTTP/1.1 200 OK\r\n' + 'X: y\r\n'.repeat(4000)))).toBe(
      'check response head too large',
    );
  });

  // The proxy's own parsers read check replies (src/wire/): heads end lines in CRLF or a bare LF,
  // chunk framing is CRLF only, and a head they refuse past a valid status line is judged by its
  // status on a connection that is not reused.
  test('reads a reply as the proxy reads upstream responses', () => {
    expect(read('HTTP/1.1 200 OK\nContent-Length: 2\n\nok', { split: 3 })).toMatchObject({
      head: { status: 200, versionMinor: 1 }, complete: true, reusable: true, excess: 0,
    });
    expect(read('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n')).toMatchObject({ complete: true, reusable: false });
    expect(read('HTTP/1.1 500 Oops\r\nX : y\r\nContent-Length: 0\r\n\r\n')).toMatchObject({
      head: { status: 500, versionMinor: 1 }, complete: true, reusable: false,
    });
    expect(read('HTTP/1.1 200 OK\r\nX: a\rb')).toMatchObject({ head: { status: 200, versionMinor: 1 }, complete: true, reusable: false });
    expect(new CheckResponseReader(false).feed(Buffer.from('HTTP/2.0 200 OK\r\n'))).toBe('invalid status line in check response');
    expect(new CheckResponseReader(false).feed(Buffer.from('HTTP/1.1 200OK\r\n'))).toBe('invalid status line in check response');
  });

  test('requestClosesConnection', () => {
    expect(requestClosesConnection(KEEP_SEND)).toBe(false);
    expect(requestClosesConnection('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toBe(false);
    expect(requestClosesConnection('GET / HTTP/1.1\r\nConnection: close\r\n\r\n')).toBe(true);
    expect(requestClosesConnection('GET / HTTP/1.0\r\n\r\n')).toBe(true);
    expect(requestClosesConnection('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')).toBe(false);
  });
});

/** Listen on 127.0.0.1:0; counts connections and destroys them all on cleanup. */
async function listen(srv: Server | HttpServer): Promise<{ port: number; connections: () => number; open: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  srv.on('connection', (s: Socket) => {
    count++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        srv.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  );
  return { port: (srv.address() as AddressInfo).port, connections: () => count, open: () => sockets.size };
}

async function checker(port: number, cfg: Partial<CheckConfig>) {
  const registry = new PeerRegistry();
  const group = await UpstreamGroup.create(
    upstream('app', [server(`127.0.0.1:${port}`)], { check: check({ type: 'http', fall: 1, rise: 1, ...cfg }) }),
    registry,
  );
  const c = new HealthChecker(group, { random: () => 0, logger: { info: () => {}, warn: () => {} } });
  onTestFinished(() => c.stop());
  return { checker: c, peer: group.peers[0]!, registry };
}

async function checkTimes(c: HealthChecker, peer: Parameters<HealthChecker['checkPeer']>[0], n: number) {
  const results = [];
  for (let i = 0; i < n; i++) results.push(await c.checkPeer(peer));
  return results;
}

describe('check_keepalive_requests with a real HTTP server', () => {
  test.each([
    { n: 3, send: KEEP_SEND, connections: 2 },
    { n: 2, send: KEEP_SEND, connections: 3 },
    { n: 1, send: KEEP_SEND, connections: 5 },
    { n: 10, send: 'GET / HTTP/1.0\r\n\r\n', connections: 5 },
    { n: 3, send: HEAD_SEND, connections: 2 },
  ])('5 checks with check_keepalive_requests $n → $connections connections', async ({ n, send, connections }) => {
    const requests: string[] = [];
    const srv = createHttpServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.end('ok');
    });
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: n, httpSend: send });
    expect(await checkTimes(c, peer, 5)).toEqual(Array(5).fill({ ok: true }));
    expect(requests).toHaveLength(5);
    expect(s.connections()).toBe(connections);
  });

  test.each(['content-length', 'chunked'])('a %s body is consumed: the next check on the socket parses its own reply', async (framing) => {
    let i = 0;
    const srv = createHttpServer((_req, res) => {
      // alternate statuses so a check reading the previous body's leftovers would see a wrong verdict
      const status = i++ % 2 === 0 ? 200 : 500;
      if (framing === 'chunked') {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.write('HTTP/1.1 200 OK\r\n\r\n');
        res.write('x'.repeat(5000));
        res.end('tail');
      } else res.writeHead(status, { 'content-length': 9 }).end('HTTP/1.1 ');
    });
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND });
    const results = await checkTimes(c, peer, 4);
    expect(results.map((r) => r.ok)).toEqual([true, false, true, false]);
    expect(results[1]).toEqual({ ok: false, reason: 'check returned status 500' });
    expect(s.connections()).toBe(1);
  });

  test('a server that closes idle connections: checks still succeed, on fresh connections, with no failure counted', async () => {
    // closes each connection shortly after answering, while the client keeps it idle
    const srv = createHttpServer((req, res) => res.end('ok', () => setTimeout(() => req.socket.destroy(), 5)));
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND, fall: 1 });
    for (let i = 0; i < 4; i++) {
      expect(await c.checkPeer(peer)).toEqual({ ok: true });
      // wait until the server has dropped the idle connection
      await expect.poll(() => s.open(), { timeout: 5000 }).toBe(0);
    }
    expect(peer.fallCount).toBe(0);
    expect(peer.healthy).toBe(true);
    expect(s.connections()).toBe(4);
  });

  test('a kept connection closed just as it is reused: the check goes again on a fresh one', async () => {
    // the server answers once per connection, then silently closes it when the next request arrives
    let served = 0;
    const srv = createServer((sock) => {
      let answered = false;
      sock.on('data', () => {
        if (answered) return void sock.destroy();
        answered = true;
        served++;
        sock.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      });
    });
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND });
    expect(await checkTimes(c, peer, 3)).toEqual(Array(3).fill({ ok: true }));
    expect(served).toBe(3);
    expect(s.connections()).toBe(3);
    expect(peer.fallCount).toBe(0);
  });

  test('a connect failure on the fresh connection still counts', async () => {
    const srv = createHttpServer((_req, res) => res.end('ok'));
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND });
    expect(await c.checkPeer(peer)).toEqual({ ok: true });
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
    const result = await c.checkPeer(peer);
    expect(result).toEqual({ ok: false, reason: 'connect() failed (111: Connection refused)' });
    expect(peer.healthy).toBe(false);
  });

  test('a timeout applies to each check on a kept connection', async () => {
    let n = 0;
    const srv = createHttpServer((_req, res) => {
      if (n++ === 0) res.end('ok'); // the second request on the same connection never gets an answer
    });
    const s = await listen(srv);
    const { checker: c, peer } = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND, timeoutMs: 150 });
    expect(await c.checkPeer(peer)).toEqual({ ok: true });
    expect(await c.checkPeer(peer)).toEqual({ ok: false, reason: 'timed out' });
    expect(s.connections()).toBe(1);
    // the timed-out connection is not reused
    await expect.poll(() => s.open(), { timeout: 5000 }).toBe(0);
  });

  test('stop() and peer retirement destroy the idle kept connection', async () => {
    const srv = createHttpServer((_req, res) => res.end('ok'));
    const s = await listen(srv);
    const a = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND });
    expect(await a.checker.checkPeer(a.peer)).toEqual({ ok: true });
    expect(s.open()).toBe(1);
    a.checker.stop();
    await expect.poll(() => s.open(), { timeout: 5000 }).toBe(0);

    const b = await checker(s.port, { keepaliveRequests: 100, httpSend: KEEP_SEND, intervalMs: 20 });
    b.checker.start();
    await expect.poll(() => b.peer.riseCount, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(s.open()).toBe(1);
    b.registry.retain([]);
    await expect.poll(() => s.open(), { timeout: 5000 }).toBe(0);
  });
});
