import crypto from 'node:crypto';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { startLoggedProxy } from './upstream-helpers.js';
import {
  connect,
  deadPort,
  listen,
  proxyTo,
  server,
  startStream,
  streamConfig,
  tcpServer,
  upstream,
} from '../tcp/stream-harness.js';

describe('tcp proxy', () => {
  /**
   * A backend that answers only after the client's FIN: the reply can only arrive over a
   * half-closed tunnel. `heard` is what it received.
   */
  const answersAfterFin = async (heard: Buffer[] = []): ReturnType<typeof tcpServer> => tcpServer(
    (s) => {
      s.on('data', (d: Buffer) => heard.push(d));
      s.on('end', () => {
        s.write('echo:');
        setImmediate(() => s.end(Buffer.concat(heard)));
      });
    },
    { allowHalfOpen: true },
  );

  it('with proxy_half_close on, echoes through the proxy and keeps the reverse direction open after the client half-closes', async () => {
    const backend = await answersAfterFin();
    const proxy = await startStream(
      streamConfig([upstream('be', backend.address)], [server({
        listens: [listen('k')], handler: proxyTo('be'), proxyHalfClose: true, accessLogs: [{ path: '/log', format: 'basic', loc: listen('k').loc }],
      })]),
    );
    const c = connect(proxy.port('k'));
    c.socket.write('hello ');
    c.socket.end('world');
    await c.ended;
    expect(c.received().toString()).toBe('echo:hello world');
    await c.closed;
    await expect.poll(() => proxy.logs.get('/log')?.length).toBe(1);
    expect(proxy.logs.get('/log')![0]).toMatch(/^127\.0\.0\.1 \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] TCP 200 16 11 \d+\.\d{3}\n$/);
    expect(proxy.groups.get('be')!.peers[0]!.activeConns).toBe(0);
  });

  it('with proxy_half_close off (nginx\'s default), the client\'s FIN ends the session once its bytes reached the upstream', async () => {
    // nginx 1.22, same backend: the client gets FIN and nothing else ("client disconnected,
    // bytes from/to client:11/0"); with proxy_half_close on it gets "echo:hello world".
    const heard: Buffer[] = [];
    const backend = await answersAfterFin(heard);
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be') })]));
    const c = connect(proxy.port('k'));
    c.socket.write('hello ');
    c.socket.end('world');
    await c.closed;
    expect(c.received().toString()).toBe('');
    await expect.poll(() => Buffer.concat(heard).toString()).toBe('hello world');
    expect(proxy.groups.get('be')!.peers[0]!.activeConns).toBe(0);
  });

  it('with proxy_half_close off, the upstream\'s FIN ends the session after its bytes reached the client', async () => {
    const backend = await tcpServer((s) => s.end('bye'));
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be') })]));
    const c = connect(proxy.port('k'));
    await c.closed;
    expect(c.received().toString()).toBe('bye');
  });

  it('carries 100 MB both ways intact (sha256) with backpressure', async () => {
    const backend = await tcpServer((s) => s.pipe(s), { allowHalfOpen: true });
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be'), proxyHalfClose: true })]));
    const c = connect(proxy.port('k'));
    const total = 100 * 1024 * 1024;
    const block = crypto.randomBytes(1024 * 1024);
    const sent = crypto.createHash('sha256');
    const received = crypto.createHash('sha256');
    let receivedBytes = 0;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => {
      receivedBytes += d.length;
      received.update(d);
    });
    let written = 0;
    const writeMore = (): void => {
      while (written < total) {
        const chunk = Buffer.from(block);
        chunk.writeUInt32BE(written / block.length, 0); // every block differs
        sent.update(chunk);
        written += chunk.length;
        if (!c.socket.write(chunk)) {
          c.socket.once('drain', writeMore);
          return;
        }
      }
      c.socket.end();
    };
    writeMore();
    await c.ended;
    expect(receivedBytes).toBe(total);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  }, 60_000);

  it('tries the next peer when a connect fails and counts the failure', async () => {
    const dead = await deadPort();
    const backend = await tcpServer((s) => s.end('alive'));
    const proxy = await startStream(
      streamConfig(
        [upstream('be', `127.0.0.1:${dead}`, backend.address)],
        [server({ listens: [listen('k')], handler: proxyTo('be'), accessLogs: [{ path: '/log', format: 'basic', loc: listen('k').loc }] })],
      ),
    );
    const c = connect(proxy.port('k'));
    await c.ended;
    expect(c.received().toString()).toBe('alive');
    const [deadPeer] = proxy.groups.get('be')!.peers;
    expect(deadPeer!.fails).toBe(1);
    await expect.poll(() => proxy.logs.get('/log')?.length).toBe(1);
  });

  it('closes the client (status 502) when no peer can be reached, or next_upstream is off', async () => {
    const dead = await deadPort();
    const backend = await tcpServer((s) => s.end('alive'));
    const logLoc = listen('k').loc;
    const proxy = await startStream(
      streamConfig(
        [upstream('be', `127.0.0.1:${dead}`, backend.address), upstream('gone', `127.0.0.1:${dead}`)],
        [
          server({ listens: [listen('off')], handler: proxyTo('be'), proxyNextUpstream: false, accessLogs: [{ path: '/off', format: 'basic', loc: logLoc }] }),
          server({ listens: [listen('gone')], handler: proxyTo('gone'), accessLogs: [{ path: '/gone', format: 'basic', loc: logLoc }] }),
        ],
      ),
    );
    const a = connect(proxy.port('off'));
    await a.closed;
    expect(a.received().length).toBe(0);
    const b = connect(proxy.port('gone'));
    await b.closed;
    await expect.poll(() => proxy.logs.get('/off')?.[0]).toContain(' TCP 502 0 0 ');
    await expect.poll(() => proxy.logs.get('/gone')?.[0]).toContain(' TCP 502 0 0 ');
  });

  it('logs why no peer was connected with the failure\'s code: the try that failed, then no live upstreams', async () => {
    const [a, b] = [await deadPort(), await deadPort()];
    const proxy = await startLoggedProxy(`stream { upstream gone { server 127.0.0.1:${a}; server 127.0.0.1:${b}; }
      server { listen 127.0.0.1:0; proxy_pass gone; } }`);
    const failures = () => proxy.logs.filter((l) => l.level === 'error').map((l) => [l['code'], l.msg, l['upstream']]);
    await connect(proxy.port).closed;
    await expect.poll(failures).toEqual([['TSP_ERR_UPSTREAM_CONNECT', 'connect failed', 'gone']]);
    // Both refused peers are out for fail_timeout (max_fails 1): nothing is tried.
    await connect(proxy.port).closed;
    await expect.poll(failures).toEqual([
      ['TSP_ERR_UPSTREAM_CONNECT', 'connect failed', 'gone'],
      ['TSP_ERR_NO_LIVE_UPSTREAM', 'no live upstreams', 'gone'],
    ]);
  });

  it('destroys both sides after proxy_timeout without traffic', async () => {
    let backendClosed = false;
    const backend = await tcpServer((s) => {
      s.write('hi');
      s.on('close', () => (backendClosed = true));
    });
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be'), proxyTimeoutMs: 300 })]));
    const c = connect(proxy.port('k'));
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(c.received().toString()).toBe('hi');
    await expect.poll(() => backendClosed).toBe(true);
    await expect.poll(() => proxy.site.activeSessions).toBe(0);
  });

  it('destroys the client when the upstream resets', async () => {
    const backend = await tcpServer((s) => s.on('data', () => s.resetAndDestroy()));
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be') })]));
    const c = connect(proxy.port('k'));
    c.socket.write('x');
    await c.closed;
    await expect.poll(() => proxy.site.activeSessions).toBe(0);
    expect(proxy.groups.get('be')!.peers[0]!.activeConns).toBe(0);
  });

  it('refuses clients denied by allow/deny (first match wins) with status 403', async () => {
    let reached = 0;
    const backend = await tcpServer((s) => {
      reached++;
      s.end('x');
    });
    const logLoc = listen('k').loc;
    const proxy = await startStream(
      streamConfig(
        [upstream('be', backend.address)],
        [
          server({
            listens: [listen('deny')],
            handler: proxyTo('be'),
            accessRules: [
              { action: 'allow', source: '10.0.0.0/8', loc: logLoc },
              { action: 'deny', source: '127.0.0.0/8', loc: logLoc },
              { action: 'allow', source: 'all', loc: logLoc },
            ],
            accessLogs: [{ path: '/deny', format: 'basic', loc: logLoc }],
          }),
          server({
            listens: [listen('allow')],
            handler: proxyTo('be'),
            accessRules: [
              { action: 'allow', source: '127.0.0.1', loc: logLoc },
              { action: 'deny', source: 'all', loc: logLoc },
            ],
          }),
        ],
      ),
    );
    const denied = connect(proxy.port('deny'));
    await denied.closed;
    expect(denied.received().length).toBe(0);
    await expect.poll(() => proxy.logs.get('/deny')?.[0]).toContain(' TCP 403 ');
    const allowed = connect(proxy.port('allow'));
    await allowed.ended;
    expect(allowed.received().toString()).toBe('x');
    expect(reached).toBe(1);
  });

  it('a recovered primary takes new connections back at once, while long sessions are still open (nginx)', async () => {
    // nginx 1.22 with `server A fail_timeout=1s; server B backup;`, sessions held open: after A
    // comes back, connections go to B until fail_timeout has passed, then every one to A
    // ("BBBBBBBBBBAAAAAAAAAAAAAAAAAAAA"); its stream module counts the connect as the peer's success.
    const open: net.Socket[] = [];
    const atA: net.Socket[] = [];
    onTestFinished(() => { for (const s of [...open, ...atA]) s.destroy(); });
    const a = await tcpServer((s) => {
      atA.push(s);
      s.write('A');
    });
    const b = await tcpServer((s) => {
      open.push(s);
      s.write('B');
    });
    const proxy = await startProxy(`stream {
      upstream u { server ${a.address} fail_timeout=300ms; server ${b.address} backup; }
      server { listen 127.0.0.1:0; proxy_pass u; } }`);
    /** A session that stays open: which backend greeted it. */
    const session = (): Promise<string> => new Promise((resolve) => {
      const c = net.connect(proxy.port(), '127.0.0.1');
      open.push(c);
      c.on('error', () => {});
      c.once('data', (d) => resolve(String(d)));
      c.once('close', () => resolve('closed'));
    });
    expect(await session()).toBe('A');
    const stopped = new Promise<void>((r) => a.server.close(() => r()));
    for (const s of atA.splice(0)) s.destroy();
    await stopped;
    expect([await session(), await session()]).toEqual(['B', 'B']);
    await new Promise<void>((r) => a.server.listen(a.port, '127.0.0.1', r));
    // the first session that reaches A again is the probe; it stays open
    await expect.poll(session, { interval: 50, timeout: 5000 }).toBe('A');
    const next: string[] = [];
    for (let i = 0; i < 5; i++) next.push(await session());
    expect(next.join('')).toBe('AAAAA');
  });
});
