import { describe, expect, test } from 'vitest';
import { createBalancer } from '../../../src/upstream/balancers/balancer.js';
import { ipHashBytes, ringHashes } from '../../../src/upstream/balancers/hash.js';
import type { PeerEntry } from '../../../src/upstream/entry.js';
import { ctx, entries, entry, letter, server } from '../helpers.js';

const ipHash = { kind: 'ip_hash' } as const;

describe('ip_hash', () => {
  test.each([
    { address: '192.168.1.77', bytes: [192, 168, 1] },
    { address: '::ffff:10.1.2.3', bytes: [10, 1, 2] },
    { address: '::1', bytes: [...Array<number>(15).fill(0), 1] },
    { address: '2001:db8::2:1', bytes: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1] },
    { address: '::ffff:1.2.3.4x', bytes: [0, 0, 0] },
    { address: '', bytes: [0, 0, 0] },
  ])('$address hashes bytes $bytes', ({ address, bytes }) => {
    expect(ipHashBytes(address)).toEqual(bytes);
  });

  test('nginx arithmetic: hash = (hash * 113 + octet) % 6271 from 89, modulo total weight', () => {
    // 10.0.0.x: ((89*113+10)%6271*113+0)%6271*113+0)%6271
    let h = 89;
    for (const b of [10, 0, 0]) h = (h * 113 + b) % 6271;
    const list = entries([1, 1, 1]);
    const expected = 'abc'[h % 3];
    expect(letter(createBalancer(ipHash, list).pick({ ...ctx, clientAddress: '10.0.0.9' }, () => true))).toBe(expected);
  });

  test('the same /24 always lands on the same peer; other networks spread', () => {
    const b = createBalancer(ipHash, entries([1, 1, 1, 1]));
    const pick = (ip: string): string => letter(b.pick({ ...ctx, clientAddress: ip }, () => true));
    const first = pick('203.0.113.1');
    for (let i = 2; i < 50; i++) expect(pick(`203.0.113.${i}`)).toBe(first);
    const seen = new Set<string>();
    for (let i = 0; i < 64; i++) seen.add(pick(`198.51.${i}.1`));
    expect(seen.size).toBe(4);
  });

  test('an unusable peer moves only its clients (rehash continues the chain)', () => {
    const b = createBalancer(ipHash, entries([1, 1, 1]));
    const before = new Map<string, string>();
    for (let i = 0; i < 100; i++) before.set(`10.${i}.0.1`, letter(b.pick({ ...ctx, clientAddress: `10.${i}.0.1` }, () => true)));
    for (const [ip, was] of before) {
      const now = letter(b.pick({ ...ctx, clientAddress: ip }, (p) => letter(p) !== 'b'));
      if (was !== 'b') expect(now).toBe(was);
      else expect(now).not.toBe('b');
    }
  });
});

describe('hash key', () => {
  const method = { kind: 'hash', key: '$request_uri', consistent: false } as const;

  test('the same key always gets the same peer; keys spread by weight', () => {
    const b = createBalancer(method, entries([1, 3]));
    const pick = (k: string): string => letter(b.pick({ ...ctx, hashKey: k }, () => true));
    expect(pick('/x')).toBe(pick('/x'));
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let i = 0; i < 4000; i++) counts[pick(`/item/${i}`)]!++;
    expect(counts.b! / 4000).toBeGreaterThan(0.7);
    expect(counts.b! / 4000).toBeLessThan(0.8);
  });

  test('an empty key falls back to round robin', () => {
    const b = createBalancer(method, entries([1, 1]));
    const seq = [1, 2, 3, 4].map(() => letter(b.pick({ ...ctx, hashKey: '' }, () => true))).join(' ');
    expect(seq).toBe('a b a b');
  });

  test('rehashes past unusable peers and gives null when none is usable', () => {
    const b = createBalancer(method, entries([1, 1, 1]));
    for (let i = 0; i < 50; i++) expect(letter(b.pick({ ...ctx, hashKey: `k${i}` }, (p) => letter(p) === 'c'))).toBe('c');
    expect(b.pick({ ...ctx, hashKey: 'k' }, () => false)).toBeNull();
  });
});

describe('hash key consistent (ketama ring)', () => {
  const method = { kind: 'hash', key: '$arg_id', consistent: true } as const;

  function ringPeers(n: number): PeerEntry[] {
    return Array.from({ length: n }, (_, i) => entry(server(`10.0.0.${i + 1}:80`)));
  }

  test('160 points per weight unit, chained as crc32(host \\0 port prev)', () => {
    const p = entry(server('10.0.0.1:80', { weight: 2 }));
    const hashes = ringHashes(p);
    expect(hashes).toHaveLength(320);
    expect(new Set(hashes).size).toBe(320);
    expect(ringHashes(p)).toEqual(hashes);
  });

  test('removing one of 10 peers moves only its share of 10,000 keys (~10%)', () => {
    const all = ringPeers(10);
    const full = createBalancer(method, all);
    const without = createBalancer(method, all.filter((_, i) => i !== 3));
    let moved = 0;
    for (let i = 0; i < 10_000; i++) {
      const k = `key-${i}`;
      const a = full.pick({ ...ctx, hashKey: k }, () => true)!;
      const b = without.pick({ ...ctx, hashKey: k }, () => true)!;
      if (a !== b) {
        moved++;
        // only keys of the removed peer may move
        expect(a).toBe(all[3]);
      }
    }
    expect(moved / 10_000).toBeGreaterThan(0.07);
    expect(moved / 10_000).toBeLessThan(0.13);
  });

  test('an unusable peer moves only its keys to the next point on the ring', () => {
    const all = ringPeers(5);
    const b = createBalancer(method, all);
    for (let i = 0; i < 2000; i++) {
      const k = `user${i}`;
      const was = b.pick({ ...ctx, hashKey: k }, () => true)!;
      const now = b.pick({ ...ctx, hashKey: k }, (p) => p !== all[0])!;
      if (was !== all[0]) expect(now).toBe(was);
      else expect(now).not.toBe(all[0]);
    }
    expect(b.pick({ ...ctx, hashKey: 'x' }, () => false)).toBeNull();
  });
});

/**
 * Golden answers from real nginx 1.x (ask-nginx): five servers 127.0.0.1:19001..19005; the
 * port each request was proxied to. Keeping nginx's arithmetic means a migration keeps affinity.
 */
describe('same choices as nginx', () => {
  function localPeers(weights: number[]): PeerEntry[] {
    return weights.map((weight, i) => entry(server(`127.0.0.1:${19001 + i}`, { weight })));
  }
  const keys = Array.from({ length: 12 }, (_, i) => `key${i}`);

  test('hash $arg_k consistent', () => {
    const b = createBalancer({ kind: 'hash', key: '$arg_k', consistent: true }, localPeers([1, 1, 1, 1, 1]));
    expect(keys.map((k) => b.pick({ ...ctx, hashKey: k }, () => true)!.peer.port)).toEqual([
      19004, 19003, 19005, 19002, 19003, 19004, 19004, 19004, 19001, 19002, 19005, 19004,
    ]);
  });

  test('hash $arg_k with weights 1,3,1,1,1', () => {
    const b = createBalancer({ kind: 'hash', key: '$arg_k', consistent: false }, localPeers([1, 3, 1, 1, 1]));
    expect(keys.map((k) => b.pick({ ...ctx, hashKey: k }, () => true)!.peer.port)).toEqual([
      19001, 19002, 19002, 19002, 19002, 19003, 19003, 19002, 19005, 19004, 19001, 19003,
    ]);
  });

  test('ip_hash with weights 1,3,1,2,1', () => {
    const b = createBalancer({ kind: 'ip_hash' }, localPeers([1, 3, 1, 2, 1]));
    const clients = ['127.0.0.1', '127.1.2.3', '127.5.6.7', '127.200.9.1'];
    expect(clients.map((a) => b.pick({ ...ctx, clientAddress: a }, () => true)!.peer.port)).toEqual([19001, 19002, 19002, 19004]);
  });
});
