import { describe, expect, test } from 'vitest';
import { createBalancer } from '../../../src/upstream/balancers/balancer.js';
import { ctx, entries, letter } from '../helpers.js';

function seq(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('random', () => {
  test.each([
    // weights 1,3 → a owns [0,1), b owns [1,4) of the total 4
    { r: 0.0, expected: 'a' },
    { r: 0.24, expected: 'a' },
    { r: 0.25, expected: 'b' },
    { r: 0.99, expected: 'b' },
  ])('weighted draw r=$r → $expected', ({ r, expected }) => {
    const b = createBalancer({ kind: 'random', two: false, leastConn: false }, entries([1, 3]), { random: () => r });
    expect(letter(b.pick(ctx, () => true))).toBe(expected);
  });

  test('weighted distribution follows the weights', () => {
    const b = createBalancer({ kind: 'random', two: false, leastConn: false }, entries([1, 3]));
    const counts = { a: 0, b: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) counts[letter(b.pick(ctx, () => true))]!++;
    expect(counts.b! / 4000).toBeGreaterThan(0.7);
    expect(counts.b! / 4000).toBeLessThan(0.8);
  });

  test('redraws when it lands on an ineligible peer', () => {
    const b = createBalancer({ kind: 'random', two: false, leastConn: false }, entries([1, 1, 1]), { random: seq([0.1, 0.5, 0.9]) });
    expect(letter(b.pick(ctx, (p) => letter(p) === 'c'))).toBe('c');
  });

  test('two: of two distinct draws the one with fewer connections per weight wins', () => {
    const list = entries([1, 1, 1]);
    list[0]!.peer.activeConns = 5;
    list[2]!.peer.activeConns = 1;
    // draws a, then a again (same peer, redrawn), then c
    const b = createBalancer({ kind: 'random', two: true, leastConn: true }, list, { random: seq([0.1, 0.2, 0.9]) });
    expect(letter(b.pick(ctx, () => true))).toBe('c');
  });

  test('two with one usable peer returns it', () => {
    const b = createBalancer({ kind: 'random', two: true, leastConn: false }, entries([1, 1]), { random: seq([0.1, 0.9]) });
    expect(letter(b.pick(ctx, (p) => letter(p) === 'b'))).toBe('b');
  });
});
