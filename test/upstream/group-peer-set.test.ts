/**
 * The changeable peer set (UpstreamGroup.setAddresses, what `server name resolve` drives): peers
 * that stay keep their Peer and its state, new ones are registered, removed ones released and
 * retired, listeners are told, and every balancing method picks exactly as a group built fresh
 * with the final addresses would (hash and ketama rings rebuilt, weights from the server line).
 */
import { describe, expect, test } from 'vitest';
import type { BalanceMethod } from '../../src/config/types.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import type { PeerAddress } from '../../src/upstream/peer.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { server, upstream } from './helpers.js';

const tcp = (host: string, port = 80): PeerAddress => ({ kind: 'tcp', host, port });
/** A resolver for the first lookup: backend.test has `initial`. */
const resolveTo = (initial: string[]) => ({ resolve: async () => initial });

function picks(group: UpstreamGroup, method: BalanceMethod, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const p = group.pick({ clientAddress: `10.0.${i % 7}.${i}`, hashKey: method.kind === 'hash' ? `key-${i}` : null, tried: null });
    if (p !== null) group.release(p, false);
    return p?.key ?? '-';
  });
}

describe('UpstreamGroup.setAddresses', () => {
  test('staying peers keep their state; new ones join the registry, removed ones leave it; listeners are told', async () => {
    const registry = new PeerRegistry();
    const g = await UpstreamGroup.create(
      upstream('app', [server('backend.test:80', { resolve: true, weight: 2 }), server('127.0.0.1:9')]),
      registry, resolveTo(['10.0.0.1', '10.0.0.2']),
    );
    const stays = g.peers[1]!;
    const leaves = g.peers[0]!;
    stays.fails = 3;
    stays.requests = 7;
    const told: string[] = [];
    g.onPeersChange((added, removed) => told.push(`+${added.map((p) => p.key).join(',')} -${removed.map((p) => p.key).join(',')}`));

    expect(g.setAddresses(0, [tcp('10.0.0.2'), tcp('10.0.0.3')])).toBe(true);
    expect(g.peers.map((p) => p.key)).toEqual(['10.0.0.2:80', '10.0.0.3:80', '127.0.0.1:9']);
    expect(g.peers[0]).toBe(stays);
    expect(stays.fails).toBe(3);
    expect(stays.requests).toBe(7);
    expect(g.entryOf(g.peers[1]!)?.params.weight).toBe(2);
    expect(g.tries).toBe(3);
    expect(told).toEqual(['+10.0.0.3:80 -10.0.0.1:80']);
    expect(registry.get('app', '10.0.0.3:80')).toBe(g.peers[1]);
    expect(registry.has('app', '10.0.0.1:80')).toBe(false);
    expect(leaves.retired).toBe(true);
    // the smooth-RR state of a new peer starts at its weight
    expect(g.peers[1]!.effectiveWeight).toBe(2);

    // the same addresses in another order change nothing
    expect(g.setAddresses(0, [tcp('10.0.0.3'), tcp('10.0.0.2')])).toBe(false);
    expect(told).toHaveLength(1);
  });

  test('a release of a peer that left counts its connection down and nothing else', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('backend.test:80', { resolve: true }), server('127.0.0.1:9')]), new PeerRegistry(), resolveTo(['10.0.0.1']));
    const p = g.pick({ clientAddress: '', hashKey: null, tried: null })!;
    expect(p.key).toBe('10.0.0.1:80');
    g.setAddresses(0, []);
    expect(g.release(p, true)).toBe(false);
    expect(p.activeConns).toBe(0);
    expect(p.fails).toBe(0);
  });

  test('no address: nothing to pick, no tries, all down', async () => {
    const g = await UpstreamGroup.create(upstream('app', [server('backend.test:80', { resolve: true })]), new PeerRegistry(), resolveTo(['10.0.0.1']));
    g.setAddresses(0, []);
    expect(g.pick({ clientAddress: '', hashKey: null, tried: null })).toBeNull();
    expect(g.tries).toBe(0);
    expect(g.allDown()).toBe(true);
    g.setAddresses(0, [tcp('10.0.0.5')]);
    expect(g.pick({ clientAddress: '', hashKey: null, tried: null })?.key).toBe('10.0.0.5:80');
  });

  test('a `resolve` backup line gains its peers as backups', async () => {
    const g = await UpstreamGroup.create(
      upstream('app', [server('127.0.0.1:1'), server('backend.test:80', { resolve: true, backup: true })]),
      new PeerRegistry(), resolveTo(['10.0.0.1']),
    );
    g.setAddresses(1, [tcp('10.0.0.1'), tcp('10.0.0.2')]);
    expect(g.primary.map((e) => e.peer.key)).toEqual(['127.0.0.1:1']);
    expect(g.backup.map((e) => e.peer.key)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  const methods: BalanceMethod[] = [
    { kind: 'round_robin' },
    { kind: 'least_conn' },
    { kind: 'ip_hash' },
    { kind: 'hash', key: '$x', consistent: false },
    { kind: 'hash', key: '$x', consistent: true },
    { kind: 'random', two: false, leastConn: false },
    { kind: 'random', two: true, leastConn: true },
  ];
  test.each(methods)('%o picks as a group built with the final addresses', async (method) => {
    const seq = (): (() => number) => {
      let x = 7;
      return () => ((x = (x * 48271) % 2147483647) / 2147483647);
    };
    const servers = [server('backend.test:80', { resolve: true, weight: 2 }), server('127.0.0.1:9')];
    const changed = await UpstreamGroup.create(upstream('app', servers, { method }), new PeerRegistry(), { ...resolveTo(['10.0.0.1', '10.0.0.2']), random: seq() });
    changed.setAddresses(0, [tcp('10.0.0.2'), tcp('10.0.0.3'), tcp('10.0.0.4')]);
    const fresh = await UpstreamGroup.create(upstream('app', servers, { method }), new PeerRegistry(), { ...resolveTo(['10.0.0.2', '10.0.0.3', '10.0.0.4']), random: seq() });
    const got = picks(changed, method, 60);
    expect(got).toEqual(picks(fresh, method, 60));
    expect(new Set(got)).toContain('10.0.0.3:80');
    expect(got).not.toContain('10.0.0.1:80');
  });
});

test('a `resolve` backup line of a method without backups stays without peers', async () => {
  const g = await UpstreamGroup.create(
    upstream('app', [server('127.0.0.1:1'), server('backend.test:80', { resolve: true, backup: true })], { method: { kind: 'ip_hash' } }),
    new PeerRegistry(), resolveTo(['10.0.0.1']),
  );
  expect(g.setAddresses(1, [tcp('10.0.0.2')])).toBe(false);
  expect(g.peers.map((p) => p.key)).toEqual(['127.0.0.1:1']);
});
