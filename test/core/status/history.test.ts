import { expect, test } from 'vitest';
import { emptyTotals, StatusHistoryRing, type HistoryTotals, type Totals } from '../../../src/core/status/history.js';

function totals(atMs: number, upstreams: Record<string, { requests: number; errors?: number; slot0?: number }>, servers: Record<string, number> = {}): HistoryTotals {
  const map = new Map<string, Totals>();
  for (const [name, u] of Object.entries(upstreams)) {
    const t = emptyTotals();
    t.requests = u.requests;
    t.errors = u.errors ?? 0;
    t.latency[0] = u.slot0 ?? u.requests;
    map.set(name, t);
  }
  const all = emptyTotals();
  for (const n of Object.values(servers)) all.requests += n;
  return { atMs, upstreams: map, servers: all, perServer: new Map(Object.entries(servers)) };
}

test('a history point holds only the upstreams with a try in its interval', () => {
  const ring = new StatusHistoryRing();
  ring.recordTotals(totals(0, { busy: { requests: 0 }, once: { requests: 0 } }));
  ring.recordTotals(totals(5000, { busy: { requests: 10, errors: 2 }, once: { requests: 5 } }));
  ring.recordTotals(totals(10_000, { busy: { requests: 20, errors: 2 }, once: { requests: 5 } }));
  const [first, second] = ring.samples;
  expect(first!.upstreams).toEqual({
    busy: expect.objectContaining({ requestRate: 2, errorRate: 0.4 }),
    once: expect.objectContaining({ requestRate: 1, errorRate: 0 }),
  });
  // `once` took nothing in the second interval: left out, not a row of zeros
  expect(Object.keys(second!.upstreams)).toEqual(['busy']);
  expect(second!.upstreams.busy).toMatchObject({ requestRate: 2, errorRate: 0 });
});

test('an interval where only latency observations moved still makes a point for the upstream', () => {
  const ring = new StatusHistoryRing();
  ring.recordTotals(totals(0, { slow: { requests: 3, slot0: 2 } }));
  ring.recordTotals(totals(5000, { slow: { requests: 3, slot0: 3 } }));
  expect(ring.samples[0]!.upstreams.slow).toMatchObject({ requestRate: 0 });
  expect(ring.samples[0]!.upstreams.slow!.p50Ms).not.toBeNull();
});

test('an upstream first seen in an interval counts from zero; a server block at rest has rate 0', () => {
  const ring = new StatusHistoryRing();
  ring.recordTotals(totals(0, {}, { a: 4 }));
  ring.recordTotals(totals(5000, { fresh: { requests: 5 } }, { a: 4, b: 10 }));
  expect(ring.samples[0]!.upstreams.fresh).toMatchObject({ requestRate: 1 });
  expect(ring.serverRate('a')).toBe(0);
  expect(ring.serverRate('b')).toBe(2);
  expect(ring.serverRate('never')).toBe(0);
});
