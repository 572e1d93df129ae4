import { describe, expect, test } from 'vitest';
import { ReportedCounters, StatusTotals } from '../../../src/core/status/aggregate.js';
import { StatusHistoryRing, quantileMs } from '../../../src/core/status/history.js';
import type { PeerSample, StatusSample } from '../../../src/core/status/sample.js';
import { PEER_SLOT, PEER_SLOTS, LATENCY_BOUNDS_S } from '../../../src/upstream/stats.js';

const PROCESS = { pid: 1, startedAtMs: 0, workers: 2, workersRunning: 2, reloads: 0, lastReloadAtMs: null, lastReloadOk: null, lastReloadError: null };
const COUNTS = { active: 1, accepts: 1, handled: 1, requests: 1, reading: 0, writing: 1, waiting: 0 };

function peer(requests: number, active = 0, extra: Partial<PeerSample> = {}): PeerSample {
  const values = new Array<number>(PEER_SLOTS).fill(0);
  values[PEER_SLOT.requests] = requests;
  return {
    values, active, fails: 0, passiveDown: false, healthy: true, wasUp: true, stateSinceMs: 0, stateChanges: 0, downtimeMs: 0,
    riseCount: 0, fallCount: 0, checkedAt: null, lastResult: null, lastOk: null, latencyMs: null, lastError: null, ...extra,
  };
}

function sample(peers: Record<string, PeerSample>, atMs = 0): StatusSample {
  return { atMs, peers, servers: {}, streams: {}, listens: {}, caches: {}, process: { ...PROCESS, rssBytes: 10, heapUsedBytes: 5, connections: COUNTS } };
}

const requestsOf = (s: StatusSample, key: string) => s.peers[key]!.values[PEER_SLOT.requests];

describe('counters across worker processes', () => {
  test('workers report growth; the totals never go backwards, also when a worker dies or restarts its counters', () => {
    const w1 = new ReportedCounters();
    const w2 = new ReportedCounters();
    const totals = new StatusTotals();
    const merge = () => totals.merge(PROCESS, { rssBytes: 1, heapUsedBytes: 1 }, new Map(), 0);
    totals.add(1, w1.delta(sample({ 'app a': peer(26, 1) })));
    totals.add(2, w2.delta(sample({ 'app a': peer(14, 2) })));
    expect(requestsOf(merge(), 'app a')).toBe(40);
    expect(merge().peers['app a']!.active).toBe(3);
    // asked again with nothing new: same totals
    totals.add(1, w1.delta(sample({ 'app a': peer(26, 0) })));
    totals.add(2, w2.delta(sample({ 'app a': peer(14, 0) })));
    expect(requestsOf(merge(), 'app a')).toBe(40);
    // worker 2 dies; its replacement counts from zero
    totals.workerGone(2);
    const w3 = new ReportedCounters();
    totals.add(3, w3.delta(sample({ 'app a': peer(1) })));
    expect(requestsOf(merge(), 'app a')).toBe(41);
    // a counter that shrank under the same key adds nothing, then counts on from there
    totals.add(1, w1.delta(sample({ 'app a': peer(5) })));
    expect(requestsOf(merge(), 'app a')).toBe(41);
    totals.add(1, w1.delta(sample({ 'app a': peer(7) })));
    expect(requestsOf(merge(), 'app a')).toBe(43);
    // memory and stub_status counts are summed over the live workers and the primary
    expect(merge().process).toMatchObject({ rssBytes: 21, workers: 2, connections: { active: 2, requests: 2 } });
  });

  test('a report carries only the keys that changed; the primary keeps the last gauges of the others and drops the keys that left', () => {
    const w1 = new ReportedCounters();
    const totals = new StatusTotals();
    const merge = () => totals.merge(PROCESS, { rssBytes: 1, heapUsedBytes: 1 }, new Map(), 0);
    const first = w1.delta(sample({ 'app a': peer(5, 2), 'app b': peer(1, 1) }));
    expect(Object.keys(first.peers).sort()).toEqual(['app a', 'app b']);
    totals.add(1, first);
    // nothing new: an empty report, and the merge still shows the gauges last reported
    const quiet = w1.delta(sample({ 'app a': peer(5, 2), 'app b': peer(1, 1) }));
    expect(quiet.peers).toEqual({});
    totals.add(1, quiet);
    expect(merge().peers['app a']).toMatchObject({ active: 2 });
    expect(requestsOf(merge(), 'app a')).toBe(5);
    // one counter grew, one gauge changed, one health field changed: each key is reported
    const moved = w1.delta(sample({ 'app a': peer(6, 2), 'app b': peer(1, 0, { fails: 1 }) }));
    expect(Object.keys(moved.peers).sort()).toEqual(['app a', 'app b']);
    totals.add(1, moved);
    expect(merge().peers['app b']).toMatchObject({ active: 0, fails: 1 });
    expect(requestsOf(merge(), 'app a')).toBe(6);
    // a reload dropped app b: listed as gone, its gauges leave the merge (its counted requests stay)
    const dropped = w1.delta(sample({ 'app a': peer(6, 2) }));
    expect(dropped.gone.peers).toEqual(['app b']);
    totals.add(1, dropped);
    expect(merge().peers['app b']).toMatchObject({ active: 0, fails: 0 });
    expect(requestsOf(merge(), 'app b')).toBe(1);
  });

  test("the primary's check verdicts win over the workers'; passive state is the worst a worker sees", () => {
    const totals = new StatusTotals();
    totals.add(1, new ReportedCounters().delta(sample({ 'app a': peer(1, 0, { passiveDown: true, fails: 2 }) })));
    totals.add(2, new ReportedCounters().delta(sample({ 'app a': peer(1, 0, { fails: 1 }) })));
    const health = new Map([['app a', { ...peer(0), healthy: false, lastResult: 'L4 timeout', checkedAt: 5, stateChanges: 3 }]]);
    const merged = totals.merge(PROCESS, { rssBytes: 0, heapUsedBytes: 0 }, health, 0).peers['app a']!;
    expect(merged).toMatchObject({ healthy: false, lastResult: 'L4 timeout', checkedAt: 5, stateChanges: 3, passiveDown: true, fails: 2 });
  });
});

describe('history', () => {
  test('one point per interval: rates per second and p50/p99 from the histogram growth', () => {
    const ring = new StatusHistoryRing();
    const withLatency = (requests: number, fast: number, slow: number) => {
      const p = peer(requests);
      p.values[PEER_SLOT.responses + 5] = requests / 10;
      p.values[PEER_SLOT.responseTime + LATENCY_BOUNDS_S.indexOf(0.01)] = fast;
      p.values[PEER_SLOT.responseTime + LATENCY_BOUNDS_S.indexOf(1)] = slow;
      return p;
    };
    ring.record(sample({ 'app 127.0.0.1:1': withLatency(0, 0, 0) }, 0));
    expect(ring.samples).toHaveLength(0);
    ring.record(sample({ 'app 127.0.0.1:1': withLatency(100, 98, 2), 'stream:db 127.0.0.1:2': peer(10) }, 5000));
    expect(ring.samples).toHaveLength(1);
    const point = ring.samples[0]!;
    expect(point.at).toBe('1970-01-01T00:00:05.000Z');
    expect(point.upstreams.app).toMatchObject({ requestRate: 20, errorRate: 2 });
    expect(point.upstreams.app!.p50Ms).toBeGreaterThan(5);
    expect(point.upstreams.app!.p50Ms).toBeLessThanOrEqual(10);
    expect(point.upstreams.app!.p99Ms).toBeGreaterThan(500);
    expect(point.upstreams['stream:db']).toMatchObject({ requestRate: 2, p50Ms: null });
    for (let i = 2; i < 200; i++) ring.record(sample({}, i * 5000));
    expect(ring.samples).toHaveLength(120);
  });

  test('quantiles interpolate inside the bucket; null without observations', () => {
    const buckets = new Array<number>(LATENCY_BOUNDS_S.length + 1).fill(0);
    expect(quantileMs(buckets, 0.5)).toBeNull();
    buckets[0] = 10;
    expect(quantileMs(buckets, 0.5)).toBe(0.5);
    buckets[LATENCY_BOUNDS_S.length] = 90;
    expect(quantileMs(buckets, 0.99)).toBe(60_000);
  });
});
