import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import type { Peer } from '../../src/upstream/peer.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { LocalStatus } from '../../src/core/status/local.js';
import type { UpstreamGroup as Group } from '../../src/upstream/group.js';

/** The status document of `groups` alone. */
function statusDocument(groups: Group[]) {
  return new LocalStatus({ groups: () => groups, httpServers: () => [], streamServers: () => [], cacheZones: () => [] }).document();
}
import { check, server, upstream } from './helpers.js';

const ctx = { clientAddress: '127.0.0.1', hashKey: null, tried: null };

function keys(group: UpstreamGroup, n: number): string {
  return Array.from({ length: n }, () => {
    const p = group.pick(ctx);
    if (p !== null) group.release(p, false);
    return p?.key ?? '-';
  }).join(' ');
}

describe('UpstreamGroup.create', () => {
  test('IP literals, IPv6 and unix paths skip DNS; host names give one peer per address', async () => {
    const asked: string[] = [];
    const resolve = async (host: string): Promise<string[]> => {
      asked.push(host);
      return ['10.0.0.1', '10.0.0.2'];
    };
    const g = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:9001'), server('[::1]:9002'), server('unix:/tmp/app.sock'), server('backend.test:80')]),
      new PeerRegistry(),
      { resolve },
    );
    expect(asked).toEqual(['backend.test']);
    expect(g.peers.map((p) => p.key)).toEqual(['127.0.0.1:9001', '[::1]:9002', 'unix:/tmp/app.sock', '10.0.0.1:80', '10.0.0.2:80']);
    expect(g.peers[1]!.host).toBe('::1');
    expect(g.peers[2]!.path).toBe('/tmp/app.sock');
    expect(g.name).toBe('app');
  });

  test('an unresolvable host is a config error at the server line', async () => {
    const resolve = async (): Promise<string[]> => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const err = await UpstreamGroup.create(upstream('app', [server('nowhere.test:80')]), new PeerRegistry(), { resolve }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe('host not found in upstream "nowhere.test:80"');
  });

  test('the default resolver uses dns.lookup (127.0.0.1 as a name resolves to itself)', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1')]), new PeerRegistry());
    expect(g.peers.map((p) => p.key)).toEqual(['127.0.0.1:1']);
  });
});

describe('UpstreamGroup.prepareNow', () => {
  test('literal addresses are prepared at once, as prepare() does; a line with a name to look up leaves it to prepare()', async () => {
    const cfg = upstream('app', [server('127.0.0.1:9001'), server('[::1]:9002', { backup: true }), server('unix:/tmp/app.sock')]);
    const now = UpstreamGroup.prepareNow(cfg, new PeerRegistry())!;
    const later = await UpstreamGroup.prepare(cfg, new PeerRegistry(), { resolve: async () => [] });
    for (const g of [now, later]) g.commit();
    expect(now.peers.map((p) => p.key)).toEqual(later.peers.map((p) => p.key));
    expect(now.backup.map((e) => e.peer.key)).toEqual(['[::1]:9002']);
    expect(now.tries).toBe(later.tries);
    expect(UpstreamGroup.prepareNow(upstream('app', [server('127.0.0.1:9001'), server('backend.test:80')]), new PeerRegistry())).toBeNull();
  });

  test('repeated lines of one address are peers of their own, in small groups and in large ones alike', async () => {
    for (const n of [3, 40]) {
      const lines = Array.from({ length: n }, (_, i) => server(i % 2 === 0 ? '127.0.0.1:1' : `127.0.0.1:${1000 + i}`));
      const g = await UpstreamGroup.create(upstream('app', lines), new PeerRegistry());
      const ids = g.peers.map((p) => p.id);
      expect(new Set(ids).size).toBe(n);
      expect(ids.filter((id) => id.startsWith('127.0.0.1:1#')).length).toBe(Math.ceil(n / 2) - 1);
      expect(ids[2]).toBe('127.0.0.1:1#2');
      expect(g.registryKeys).toEqual(ids.map((id) => `app ${id}`));
    }
  });
});

describe('UpstreamGroup.pick / release', () => {
  test('weighted round robin through the group, with accounting', async () => {
    const g = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:1', { weight: 5 }), server('127.0.0.1:2'), server('127.0.0.1:3')]),
      new PeerRegistry(),
    );
    expect(keys(g, 7)).toBe('127.0.0.1:1 127.0.0.1:1 127.0.0.1:2 127.0.0.1:1 127.0.0.1:3 127.0.0.1:1 127.0.0.1:1');
    expect(g.peers.map((p) => p.requests)).toEqual([5, 1, 1]);
    const p = g.pick(ctx)!;
    expect(p.activeConns).toBe(1);
    g.release(p, false);
    expect(p.activeConns).toBe(0);
  });

  test.each([
    { name: 'down peers are skipped', servers: [server('127.0.0.1:1', { down: true }), server('127.0.0.1:2')], expected: '127.0.0.1:2 127.0.0.1:2' },
    {
      name: 'backup only while every primary is unavailable',
      servers: [server('127.0.0.1:1'), server('127.0.0.1:2', { backup: true })],
      expected: '127.0.0.1:1 127.0.0.1:1',
    },
    {
      name: 'backup takes over when primaries are down',
      servers: [server('127.0.0.1:1', { down: true }), server('127.0.0.1:2', { backup: true }), server('127.0.0.1:3', { backup: true })],
      expected: '127.0.0.1:2 127.0.0.1:3',
    },
    { name: 'all down gives null', servers: [server('127.0.0.1:1', { down: true }), server('127.0.0.1:2', { down: true })], expected: '- -' },
  ])('$name', async ({ servers, expected }) => {
    const g = await UpstreamGroup.create(upstream('app', servers), new PeerRegistry());
    expect(keys(g, 2)).toBe(expected);
  });

  test('hash methods ignore backup servers', async () => {
    const g = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:1', { down: true }), server('127.0.0.1:2', { backup: true })], { method: { kind: 'ip_hash' } }),
      new PeerRegistry(),
    );
    expect(g.backup).toEqual([]);
    expect(g.peers).toHaveLength(1);
    expect(g.pick(ctx)).toBeNull();
    expect(g.allDown()).toBe(true);
  });

  test('max_conns: a full peer is skipped until a connection is released', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1', { maxConns: 1 }), server('127.0.0.1:2', { maxConns: 1 })]), new PeerRegistry());
    const a = g.pick(ctx)!;
    const b = g.pick(ctx)!;
    expect([a.key, b.key]).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
    expect(g.pick(ctx)).toBeNull();
    g.release(b, false);
    expect(g.pick(ctx)).toBe(b);
  });

  test('tried peers are not picked again; then null', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1'), server('127.0.0.1:2')]), new PeerRegistry());
    const tried = new Set<Peer>();
    const first = g.pick({ ...ctx, tried })!;
    tried.add(first);
    const second = g.pick({ ...ctx, tried })!;
    expect(second).not.toBe(first);
    tried.add(second);
    expect(g.pick({ ...ctx, tried })).toBeNull();
  });

  test('a failure takes the peer out for fail_timeout (max_fails=1), then one probe goes through', async () => {
    let now = 1_000_000;
    const g = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:1', { failTimeoutMs: 10_000 }), server('127.0.0.1:2')]),
      new PeerRegistry(),
      { now: () => now },
    );
    const [a, b] = g.peers as [Peer, Peer];
    const entryA = g.entryOf(a)!;
    g.release(g.pick(ctx)!, true); // a fails
    expect(entryA.available(now)).toBe(false);
    expect(keys(g, 3)).toBe('127.0.0.1:2 127.0.0.1:2 127.0.0.1:2');
    now += 10_001;
    // a's effective weight was cut by the failure, so round robin comes back to it gradually
    let probe = g.pick(ctx)!;
    for (let i = 0; i < 5 && probe !== a; i++) {
      g.release(probe, false);
      probe = g.pick(ctx)!;
    }
    expect(probe).toBe(a);
    // while the probe is in flight everyone else goes to b
    expect(g.pick(ctx)).toBe(b);
    g.release(b, false);
    g.release(probe, false);
    expect(a.fails).toBe(0);
    expect(entryA.available(now)).toBe(true);
  });

  test('a group of one peer is never taken out by passive checks', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1')]), new PeerRegistry());
    for (let i = 0; i < 5; i++) g.release(g.pick(ctx)!, true);
    expect(g.pick(ctx)?.key).toBe('127.0.0.1:1');
    expect(g.allDown()).toBe(false);
  });

  test('allDown follows active health and down flags', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1'), server('127.0.0.1:2', { down: true })]), new PeerRegistry());
    expect(g.allDown()).toBe(false);
    g.peers[0]!.healthy = false;
    expect(g.allDown()).toBe(true);
    expect(g.pick(ctx)).toBeNull();
  });
});

describe('state across reloads', () => {
  test('re-creating a group from the same registry keeps peers, counters and health', async () => {
    const registry = new PeerRegistry();
    const cfg = upstream('app', [server('127.0.0.1:1'), server('127.0.0.1:2')], { check: check({ defaultDown: true }) });
    const g1 = await UpstreamGroup.create(cfg, registry);
    // default_down: new peers start down
    expect(g1.peers.map((p) => p.healthy)).toEqual([false, false]);
    g1.peers[0]!.healthy = true;
    g1.peers[0]!.requests = 42;
    const cfg2 = upstream('app', [server('127.0.0.1:1', { weight: 3 }), server('127.0.0.1:3')], { check: check({ defaultDown: true }) });
    const g2 = await UpstreamGroup.create(cfg2, registry);
    expect(g2.peers[0]).toBe(g1.peers[0]);
    expect(g2.peers[0]!.healthy).toBe(true);
    expect(g2.peers[0]!.requests).toBe(42);
    expect(g2.entries[0]!.params.weight).toBe(3);
    expect(g2.peers[1]!.healthy).toBe(false);
    const dropped = registry.retain(g2.registryKeys);
    expect(dropped.map((p) => p.key)).toEqual(['127.0.0.1:2']);
    expect(dropped[0]!.retired).toBe(true);
    expect(registry.size).toBe(2);
  });

  test('removing check makes peers healthy; the same address in another upstream is another peer', async () => {
    const registry = new PeerRegistry();
    const g1 = await UpstreamGroup.create(upstream('a', [server('127.0.0.1:1')], { check: check({ defaultDown: true }) }), registry);
    const other = await UpstreamGroup.create(upstream('b', [server('127.0.0.1:1')]), registry);
    expect(other.peers[0]).not.toBe(g1.peers[0]);
    const g2 = await UpstreamGroup.create(upstream('a', [server('127.0.0.1:1')]), registry);
    expect(g2.peers[0]).toBe(g1.peers[0]);
    expect(g2.peers[0]!.healthy).toBe(true);
    expect(g2.peers[0]!.activelyChecked).toBe(false);
  });
});

describe('parameters belong to the group, state to the peer', () => {
  test('a reload keeps the Peer and its counters; the parameters are each group\'s; a new weight restarts smooth RR', async () => {
    const registry = new PeerRegistry();
    const g1 = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1', { weight: 2, maxFails: 3 }), server('127.0.0.1:2')]), registry);
    const [a, b] = g1.peers as [Peer, Peer];
    a.requests = 5;
    a.currentWeight = 7;
    b.currentWeight = 3;
    const g2 = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:1', { weight: 4, maxFails: 0, down: true }), server('127.0.0.1:2')]),
      registry,
    );
    expect(g2.peers).toEqual([a, b]);
    expect(a.requests).toBe(5);
    const paramsOf = (g: UpstreamGroup) => g.entries.map((e) => [e.params.weight, e.params.maxFails, e.params.down]);
    expect(paramsOf(g2)).toEqual([[4, 0, true], [1, 1, false]]);
    // the config that served before keeps seeing its own parameters
    expect(paramsOf(g1)).toEqual([[2, 3, false], [1, 1, false]]);
    expect(Object.isFrozen(g2.entries[0]!.params)).toBe(true);
    // a weight change restarts the smooth RR state; an unchanged weight keeps it
    expect([a.currentWeight, a.effectiveWeight]).toEqual([0, 4]);
    expect([b.currentWeight, b.effectiveWeight]).toEqual([3, 1]);
    const other = await UpstreamGroup.create(upstream('other', [server('127.0.0.1:1')]), registry);
    expect(other.peers[0]).not.toBe(a);
    expect(registry.size).toBe(3);
  });

  test('an unchanged weight keeps the round-robin rotation going across a reload (nginx would start it over)', async () => {
    const registry = new PeerRegistry();
    const cfg = () => upstream('app', [server('127.0.0.1:1', { weight: 5 }), server('127.0.0.1:2'), server('127.0.0.1:3')]);
    const g1 = await UpstreamGroup.create(cfg(), registry);
    expect(keys(g1, 3)).toBe('127.0.0.1:1 127.0.0.1:1 127.0.0.1:2');
    const g2 = await UpstreamGroup.create(cfg(), registry);
    expect(keys(g2, 4)).toBe('127.0.0.1:1 127.0.0.1:3 127.0.0.1:1 127.0.0.1:1');
  });

  test('prepare writes nothing shared; commit registers new peers and applies default_down; the old group keeps its own `down`', async () => {
    const registry = new PeerRegistry();
    const running = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:1'), server('127.0.0.1:2')], { check: check() }), registry);
    expect(keys(running, 4)).toBe('127.0.0.1:1 127.0.0.1:2 127.0.0.1:1 127.0.0.1:2');
    const [a, b] = running.peers as [Peer, Peer];
    a.lastError = 'timed out';
    const state = () => running.peers.map((p) => ({ ...p }));
    const before = state();

    const next = await UpstreamGroup.prepare(
      upstream('app', [server('127.0.0.1:1', { down: true, weight: 3, maxConns: 1 }), server('127.0.0.1:2'), server('127.0.0.1:3')], {
        check: check({ type: 'http', defaultDown: true }),
      }),
      registry,
    );
    expect(next.peers.slice(0, 2)).toEqual([a, b]);
    expect(state()).toEqual(before);
    expect(registry.size).toBe(2);
    expect(next.pick(ctx)).toBeNull();
    // the running group serves on with its own parameters
    expect(keys(running, 2)).toBe('127.0.0.1:1 127.0.0.1:2');
    expect(statusDocument([running]).upstreams[0]!.peers.map((p) => [p.state, p.weight, p.check?.type ?? null])).toEqual([
      ['up', 1, 'tcp'],
      ['up', 1, 'tcp'],
    ]);

    next.commit();
    const c = next.peers[2]!;
    expect(registry.get('app', '127.0.0.1:3')).toBe(c);
    // default_down applies to the peer new to checking; a and b keep their verdict
    expect([a.healthy, b.healthy, c.healthy]).toEqual([true, true, false]);
    expect(keys(next, 2)).toBe('127.0.0.1:2 127.0.0.1:2');
    expect(statusDocument([next]).upstreams[0]!.peers.map((p) => [p.state, p.weight, p.check?.type ?? null])).toEqual([
      // a `down` peer is disabled and never probed: no check shown
      ['disabled', 3, null],
      ['up', 1, 'http'],
      ['down', 1, 'http'],
    ]);
    // requests still finishing on the old config (retries) see its parameters: a is not down there
    expect(running.entryOf(a)!.params.down).toBe(false);
    expect(keys(running, 2)).toContain('127.0.0.1:1');
  });
});
