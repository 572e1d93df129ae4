/**
 * `server name resolve` with a `resolver` (nginx 1.27.3's semantics), through the proxy and a real
 * DNS server (test/helpers/dns.ts) whose answers the tests change while the proxy runs: traffic
 * follows the answer without a reload, a peer that stays keeps its state (counters, its keep-alive
 * connection), a peer that leaves has its idle connections closed, a failed lookup keeps the last
 * good addresses, NXDOMAIN leaves the server without peers (502), and active checks and the status
 * page follow the peer set. Only 127.0.0.1 and ::1 carry traffic: the two addresses a name moves
 * between are 127.0.0.1:P and [::1]:P, one backend on each.
 */
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend, type HttpBackend } from '../helpers/backend.js';
import { startDnsServer } from '../helpers/dns.js';
import { configFrom } from '../helpers/proxy.js';
import { keepAliveAgent, send, startLoggedProxy, statusJson, type LoggedProxy } from './upstream-helpers.js';

/** Backend A on 127.0.0.1:P and backend B on [::1]:P (the same P; another P when ::1 has it taken). */
async function twinBackends(): Promise<[HttpBackend, HttpBackend]> {
  for (let attempt = 0; ; attempt++) {
    const a = await startHttpBackend('A');
    try {
      return [a, await startHttpBackend('B', undefined, { host: '::1', port: a.port })];
    } catch (error) {
      await a.close();
      if (attempt === 5) throw error;
    }
  }
}

/** Peer keys of `upstream` on the status page, with their request counts. */
async function peersOf(proxy: LoggedProxy, upstream: string): Promise<Record<string, { requests: number; state: string }>> {
  const doc = await statusJson(proxy.url('/status'));
  const up = doc.upstreams.find((u) => u.name === upstream);
  return Object.fromEntries((up?.peers ?? []).map((p) => [p.key, { requests: p.requests, state: p.state }]));
}

function openConnections(b: HttpBackend): Promise<number> {
  return new Promise((resolve) => b.server.getConnections((_e, n) => resolve(n)));
}

function logged(proxy: LoggedProxy, text: string): string[] {
  return proxy.logs.filter((l) => l.msg === text).map((l) => l.level);
}

describe('server name resolve (http)', () => {
  it('traffic follows the DNS answer without a reload; staying peers keep their state, leaving ones their idle connections', async () => {
    const [a, b] = await twinBackends();
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 1 } });
    const proxy = await startLoggedProxy(`http {
      resolver ${dns.address} valid=1s;
      resolver_timeout 1s;
      upstream app { server backend.test:${a.port} resolve; keepalive 4; }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_pass http://app; }
      }
    }`);
    const agent = keepAliveAgent(1);
    const get = () => send(proxy.url('/x'), { agent });
    for (let i = 0; i < 5; i++) expect((await get()).backend).toBe('A');
    const aKey = `127.0.0.1:${a.port}`;
    const bKey = `[::1]:${a.port}`;
    expect(await peersOf(proxy, 'app')).toEqual({ [aKey]: { requests: 5, state: 'up' } });
    // one upstream connection, kept alive between the requests
    expect(a.sockets).toBe(1);

    // the name gains ::1: both peers take requests; A's peer keeps its counter and its connection
    dns.table.set('backend.test', { addresses: ['127.0.0.1', '::1'], ttl: 1 });
    await expect.poll(async () => (await get()).backend, { timeout: 5000, interval: 50 }).toBe('B');
    for (let i = 0; i < 4; i++) await get();
    const both = await peersOf(proxy, 'app');
    expect(Object.keys(both).sort()).toEqual([aKey, bKey].sort());
    expect(both[aKey]!.requests).toBeGreaterThan(5);
    expect(a.sockets).toBe(1);

    // the name loses 127.0.0.1: only B serves, A's idle keep-alive connection is closed
    dns.table.set('backend.test', { addresses: ['::1'], ttl: 1 });
    await expect.poll(async () => Object.keys(await peersOf(proxy, 'app')), { timeout: 5000, interval: 50 }).toEqual([bKey]);
    await expect.poll(() => openConnections(a), { timeout: 2000 }).toBe(0);
    const bRequests = b.requests;
    for (let i = 0; i < 3; i++) expect((await get()).backend).toBe('B');
    expect(b.requests).toBe(bRequests + 3);

    // nginx's error line when a lookup fails; the last good address stays (and keeps serving)
    dns.table.set('backend.test', 'servfail');
    await expect.poll(() => logged(proxy, 'backend.test could not be resolved (2: Server failure)'), { timeout: 5000 }).toContain('error');
    expect((await get()).backend).toBe('B');
    expect(Object.keys(await peersOf(proxy, 'app'))).toEqual([bKey]);

    // NXDOMAIN: the name has no address now, the group answers 502
    dns.table.set('backend.test', 'nxdomain');
    await expect.poll(async () => (await get()).status, { timeout: 5000, interval: 50 }).toBe(502);
    expect(logged(proxy, 'backend.test could not be resolved (3: Host not found)')).toContain('error');
    expect(await peersOf(proxy, 'app')).toEqual({});

    // and an address again: back in service, no reload
    dns.table.set('backend.test', { addresses: ['127.0.0.1'], ttl: 1 });
    await expect.poll(async () => (await get()).backend, { timeout: 5000, interval: 50 }).toBe('A');
  });

  it('a name the DNS cannot answer at start gives 502 until it can; its peers join with the server\'s parameters', async () => {
    const [a] = await twinBackends();
    const dns = await startDnsServer({ 'backend.test': 'servfail' });
    const proxy = await startLoggedProxy(`http {
      resolver ${dns.address} valid=1s;
      resolver_timeout 1s;
      upstream app { server backend.test:${a.port} resolve weight=3 max_fails=2; server 127.0.0.1:1 down; }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_pass http://app; }
      }
    }`);
    expect((await send(proxy.url('/x'), { agent: false })).status).toBe(502);
    expect(logged(proxy, 'backend.test could not be resolved (2: Server failure)')).toContain('error');
    dns.table.set('backend.test', { addresses: ['127.0.0.1'], ttl: 1 });
    await expect.poll(async () => (await send(proxy.url('/x'), { agent: false })).backend, { timeout: 5000, interval: 50 }).toBe('A');
    const doc = await statusJson(proxy.url('/status'));
    const peer = doc.upstreams[0]!.peers.find((p) => p.key === `127.0.0.1:${a.port}`);
    expect(peer?.weight).toBe(3);
  });

  it('a reload while the DNS fails keeps the addresses the name had (nginx 1.27 keeps them across reloads)', async () => {
    const [a] = await twinBackends();
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 1 } });
    const config = (extra: string) => `http {
      resolver ${dns.address} valid=1s;
      resolver_timeout 1s;
      upstream app { server backend.test:${a.port} resolve; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } ${extra} }
    }`;
    const proxy = await startLoggedProxy(config(''));
    expect((await send(proxy.url('/x'), { agent: false })).backend).toBe('A');
    dns.table.set('backend.test', 'servfail');
    await proxy.runtime.reload(configFrom(config('location = /new { return 200 "new"; }')));
    expect((await send(proxy.url('/new'), { agent: false })).body).toBe('new');
    expect((await send(proxy.url('/x'), { agent: false })).backend).toBe('A');
  });

  it('active checks and the status page follow the peers a name gains and loses', async () => {
    const [a, b] = await twinBackends();
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 1 } });
    const proxy = await startLoggedProxy(`http {
      resolver ${dns.address} valid=1s;
      upstream app { server backend.test:${a.port} resolve; check interval=100 rise=1 fall=1 timeout=500 type=http; }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_pass http://app; }
      }
    }`);
    const aKey = `127.0.0.1:${a.port}`;
    const bKey = `[::1]:${a.port}`;
    await expect.poll(() => peersOf(proxy, 'app'), { timeout: 3000 }).toMatchObject({ [aKey]: { state: 'up' } });
    dns.table.set('backend.test', { addresses: ['::1'], ttl: 1 });
    // the new peer starts down (default_down) and is probed at once; the old one leaves the page
    await expect.poll(async () => Object.entries(await peersOf(proxy, 'app')).map(([k, v]) => `${k} ${v.state}`), { timeout: 5000 })
      .toEqual([`${bKey} up`]);
    const probesOfB = b.seen.length;
    expect(probesOfB).toBeGreaterThan(0);
    const probesOfA = a.seen.length;
    // A is no longer probed
    await expect.poll(() => b.seen.length, { timeout: 3000 }).toBeGreaterThan(probesOfB + 2);
    expect(a.seen.length).toBeLessThanOrEqual(probesOfA + 1);
  });
});

describe('proxy_pass http://$var with a resolver', () => {
  it('names in variables are asked of the location\'s resolver and asked again when their answer expires', async () => {
    const [a, b] = await twinBackends();
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 1 } });
    const proxy = await startLoggedProxy(`http {
      server { listen 127.0.0.1:0;
        resolver ${dns.address} valid=1s;
        resolver_timeout 1s;
        location / { proxy_pass http://$arg_n:${a.port}; }
      }
    }`);
    const get = () => send(proxy.url('/x?n=backend.test'), { agent: false });
    expect((await get()).backend).toBe('A');
    expect(dns.asked).toContain('backend.test A');
    dns.table.set('backend.test', { addresses: ['::1'], ttl: 1 });
    await expect.poll(async () => (await get()).backend, { timeout: 5000, interval: 100 }).toBe('B');
    expect(b.requests).toBeGreaterThan(0);
    dns.table.set('backend.test', 'nxdomain');
    await expect.poll(async () => (await get()).status, { timeout: 5000, interval: 100 }).toBe(502);
    // a name the resolver does not know: 502 and nginx's error line
    expect((await send(proxy.url('/x?n=missing.test'), { agent: false })).status).toBe(502);
    expect(logged(proxy, 'missing.test could not be resolved (3: Host not found)')).toEqual(['error']);
  });
});

describe('server name resolve (stream)', () => {
  it('a TCP upstream follows the DNS answer without a reload', async () => {
    const servers: net.Server[] = [];
    const serve = (name: string, host: string, port: number) =>
      new Promise<number>((resolve, reject) => {
        const s = net.createServer((socket) => {
          socket.on('error', () => {});
          socket.end(name);
        });
        s.once('error', reject);
        s.listen(port, host, () => resolve((s.address() as net.AddressInfo).port));
        servers.push(s);
      });
    onTestFinished(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))).then(() => {}));
    let port = 0;
    for (let attempt = 0; port === 0; attempt++) {
      const p = await serve('A', '127.0.0.1', 0);
      try {
        await serve('B', '::1', p);
        port = p;
      } catch (error) {
        if (attempt === 5) throw error;
      }
    }
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 1 } });
    const proxy = await startLoggedProxy(`stream {
      resolver ${dns.address} valid=1s;
      upstream s { server backend.test:${port} resolve; }
      server { listen 127.0.0.1:0; proxy_pass s; }
    }`);
    const read = () =>
      new Promise<string>((resolve) => {
        const c = net.connect(proxy.port, '127.0.0.1');
        let got = '';
        c.on('error', () => resolve(`error ${got}`));
        c.on('data', (d) => (got += d.toString()));
        c.on('close', () => resolve(got));
      });
    expect(await read()).toBe('A');
    dns.table.set('backend.test', { addresses: ['::1'], ttl: 1 });
    await expect.poll(read, { timeout: 5000, interval: 50 }).toBe('B');
    expect(await read()).toBe('B');
  });
});
