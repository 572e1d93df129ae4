import { describe, expect, test } from 'vitest';
import { createBalancer } from '../../../src/upstream/balancers/balancer.js';
import { ctx, entries, letter } from '../helpers.js';

describe('least_conn', () => {
  test.each([
    { weights: [1, 1, 1], conns: [3, 1, 2], expected: 'b' },
    { weights: [1, 1, 1], conns: [0, 0, 5], expected: 'a' },
    // conns/weight: 4/4 = 1 beats 2/1 = 2
    { weights: [4, 1], conns: [4, 2], expected: 'a' },
    { weights: [1, 4], conns: [1, 3], expected: 'b' },
  ])('weights $weights, conns $conns → $expected', ({ weights, conns, expected }) => {
    const list = entries(weights);
    list.forEach((e, i) => (e.peer.activeConns = conns[i]!));
    expect(letter(createBalancer({ kind: 'least_conn' }, list).pick(ctx, () => true))).toBe(expected);
  });

  test('ties are shared by smooth weighted round robin among the tied peers only', () => {
    const list = entries([2, 1, 1]);
    const [, , c] = list;
    c!.peer.activeConns = 1;
    const b = createBalancer({ kind: 'least_conn' }, list);
    // conns stay 0 for a and b (nothing is released or counted here), so a and b stay tied at 2:1
    const seq = Array.from({ length: 6 }, () => letter(b.pick(ctx, () => true))).join(' ');
    expect(seq).toBe('a b a a b a');
  });

  test('counts connections: picking and holding spreads load evenly', () => {
    const list = entries([1, 1, 1]);
    const b = createBalancer({ kind: 'least_conn' }, list);
    const got: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = b.pick(ctx, () => true)!;
      p.peer.activeConns++;
      got.push(letter(p));
    }
    // the round-robin weights of tied picks carry over (nginx), hence c before a in the second round
    expect(got.join(' ')).toBe('a b c c b a');
    list[1]!.peer.activeConns = 0;
    expect(letter(b.pick(ctx, () => true))).toBe('b');
  });

  test('skips ineligible peers even when they are least loaded', () => {
    const list = entries([1, 1]);
    list[1]!.peer.activeConns = 10;
    expect(letter(createBalancer({ kind: 'least_conn' }, list).pick(ctx, (p) => letter(p) !== 'a'))).toBe('b');
  });
});
