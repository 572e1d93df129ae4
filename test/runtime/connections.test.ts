import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { TunnelRegistry } from '../../src/runtime/connections.js';
import { diffConfigs } from '../../src/runtime/diff.js';
import { compileGlob } from '../../src/runtime/reload.js';

function cfg(text: string): Config {
  const r = loadConfig(text, 'c.conf');
  if (r.config === null) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

const base = (extra = '', name = 'a.test') => `http { server { listen 127.0.0.1:8080; server_name ${name};
  location /ws { proxy_pass http://127.0.0.1:9001; location /ws/deep { proxy_pass http://127.0.0.1:9002; } } ${extra} } }
  stream { server { listen 127.0.0.1:9000; proxy_pass 127.0.0.1:9003; } }`;

describe('route keys', () => {
  test('are stable across configs for unchanged routes and differ when server, location or upstream change', () => {
    const reg = new TunnelRegistry();
    const one = reg.index(cfg(base()));
    const two = reg.index(cfg(`# moved\n${base('location /other { return 204; }')}`));
    expect([...one].sort()).toEqual([...two].sort());
    expect(one.size).toBe(3);
    const renamed = reg.index(cfg(base('', 'b.test')));
    expect([...renamed].filter((k) => one.has(k))).toEqual([...one].filter((k) => k.startsWith('tcp|')));
    const c = cfg(base());
    reg.index(c);
    const loc = c.http!.servers[0]!.locations[0]!;
    expect(one.has(reg.keyOf({ kind: 'http', listen: '127.0.0.1:8080', node: loc, upstream: '127.0.0.1:9001' }))).toBe(true);
    expect(one.has(reg.keyOf({ kind: 'http', listen: '127.0.0.1:8080', node: loc, upstream: '127.0.0.1:9999' }))).toBe(false);
    expect(one.has(reg.keyOf({ kind: 'http', listen: '127.0.0.1:8080', node: loc.locations[0]!, upstream: '127.0.0.1:9002' }))).toBe(true);
  });
});

describe('closing vanished tunnels', () => {
  test('spread over the last 10% of the delay, in the order they opened; a route that comes back cancels', async () => {
    const server = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as net.AddressInfo).port;
    const reg = new TunnelRegistry();
    const c = cfg(base());
    const live = reg.index(c);
    const loc = c.http!.servers[0]!.locations[0]!;
    const ends: number[] = [];
    const sockets: net.Socket[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 4; i++) {
      const client = net.connect(port, '127.0.0.1');
      const upstream = net.connect(port, '127.0.0.1');
      for (const s of [client, upstream]) {
        s.on('error', () => {});
        onTestFinished(() => void s.destroy());
      }
      sockets.push(client);
      const route = { kind: 'http' as const, listen: '127.0.0.1:8080', node: i === 3 ? loc : {}, upstream: '127.0.0.1:9001' };
      const entry = reg.register(route, { client, upstream, websocket: false });
      client.once('finish', () => {
        ends[i] = Date.now() - t0;
        entry.unregister();
      });
    }
    expect(reg.retain(live, 1000)).toBe(3); // the fourth runs on a live route
    expect(reg.retain(new Set(), 1000)).toBe(4);
    expect(reg.retain(live, 1000)).toBe(3); // its route came back: cancelled
    await expect.poll(() => ends.filter((x) => x !== undefined).length, { timeout: 3000 }).toBe(3);
    expect(ends[0]).toBeGreaterThanOrEqual(880);
    expect(ends[2]! - ends[0]!).toBeGreaterThanOrEqual(60);
    expect(ends[1]).toBeLessThanOrEqual(ends[2]!);
    expect(ends[3]).toBeUndefined();
    expect(reg.size).toBe(1);
  });
});

describe('reload summary diff', () => {
  test('counts servers and upstreams added, changed and removed, ignoring positions', () => {
    const a = cfg('http { upstream u { server 127.0.0.1:1; } upstream v { server 127.0.0.1:2; } server { listen 127.0.0.1:1; server_name a; } server { listen 127.0.0.1:1; server_name b; } }');
    const b = cfg('\n\nhttp { upstream u { server 127.0.0.1:1; } upstream w { server 127.0.0.1:3; } server { listen 127.0.0.1:1; server_name a; } server { listen 127.0.0.1:1; server_name b; location / { return 204; } } server { listen 127.0.0.1:1; server_name c; } }');
    expect(diffConfigs(a, b)).toEqual({ servers: { added: 1, changed: 1, removed: 0 }, upstreams: { added: 1, changed: 0, removed: 1 } });
    expect(diffConfigs(a, a)).toEqual({ servers: { added: 0, changed: 0, removed: 0 }, upstreams: { added: 0, changed: 0, removed: 0 } });
  });
});

describe('include glob watching', () => {
  test('the watched directory and the files a glob names', () => {
    const g = compileGlob('/etc/tsproxy/conf.d/*.conf');
    expect(g.dir).toBe('/etc/tsproxy/conf.d');
    expect(g.depth).toBe(0);
    expect(g.matches('/etc/tsproxy/conf.d/site.conf')).toBe(true);
    expect(g.matches('/etc/tsproxy/conf.d/.site.conf.tmp')).toBe(false);
    expect(g.matches('/etc/tsproxy/conf.d/notes.txt')).toBe(false);
    expect(g.matches('/etc/tsproxy/conf.d/sub/x.conf')).toBe(false);
    const deep = compileGlob('/srv/sites/*/tsproxy.conf');
    expect(deep.dir).toBe('/srv/sites');
    expect(deep.depth).toBe(1);
    expect(deep.matches('/srv/sites/blog/tsproxy.conf')).toBe(true);
    expect(deep.matches('/srv/sites/blog/other.conf')).toBe(false);
  });
});
