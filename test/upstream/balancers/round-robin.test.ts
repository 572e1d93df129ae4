import { describe, expect, test } from 'vitest';
import { createBalancer } from '../../../src/upstream/balancers/balancer.js';
import { noteOutcome } from '../../../src/upstream/health/passive.js';
import type { PeerEntry } from '../../../src/upstream/entry.js';
import { ctx, entries, letter } from '../helpers.js';

function sequence(weights: number[], n: number, eligible: (p: PeerEntry) => boolean = () => true): string {
  const list = entries(weights);
  const b = createBalancer({ kind: 'round_robin' }, list);
  return Array.from({ length: n }, () => letter(b.pick(ctx, eligible))).join(' ');
}

describe('smooth weighted round robin', () => {
  test.each([
    { weights: [5, 1, 1], n: 7, expected: 'a a b a c a a' },
    { weights: [5, 1, 1], n: 14, expected: 'a a b a c a a a a b a c a a' },
    { weights: [1, 1, 1], n: 6, expected: 'a b c a b c' },
    { weights: [2, 1], n: 6, expected: 'a b a a b a' },
    { weights: [1, 2], n: 6, expected: 'b a b b a b' },
    { weights: [3, 2], n: 5, expected: 'a b a b a' },
    { weights: [1], n: 3, expected: 'a a a' },
  ])('weights $weights → $expected', ({ weights, n, expected }) => {
    expect(sequence(weights, n)).toBe(expected);
  });

  test.each([
    { weights: [1, 1, 1], skip: 'b', expected: 'a c a c' },
    { weights: [5, 1, 1], skip: 'a', expected: 'b c b c' },
    { weights: [1, 1], skip: 'ab', expected: '- -' },
  ])('ineligible peers are skipped: $weights without $skip', ({ weights, skip, expected }) => {
    expect(sequence(weights, expected.split(' ').length, (p) => !skip.includes(letter(p)))).toBe(expected);
  });

  test('a failed peer loses weight/max_fails of effective weight and earns it back one per pick', () => {
    const list = entries([4, 4], { maxFails: 2 });
    const [a, b] = list as [PeerEntry, PeerEntry];
    const balancer = createBalancer({ kind: 'round_robin' }, list);
    noteOutcome(a, true, 0);
    expect(a.peer.effectiveWeight).toBe(2);
    const seq = Array.from({ length: 4 }, () => letter(balancer.pick(ctx, () => true))).join(' ');
    // a takes part with 2 then 3, then 4 — b gets more of the first picks than plain 1:1 would give
    expect(seq).toBe('b a b a');
    expect(a.peer.effectiveWeight).toBe(4);
    expect(b.peer.effectiveWeight).toBe(4);
  });
});
