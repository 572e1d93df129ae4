import { describe, expect, test } from 'vitest';
import { CLASS_SLOTS, HISTOGRAM_SLOTS, PEER_SLOTS, PeerStats, accountAttempt } from '../../src/upstream/stats.js';
import { ServerStats } from '../../src/core/status/server-stats.js';
import { Peer } from '../../src/upstream/peer.js';
import type { UpstreamAttempt } from '../../src/upstream/attempts.js';

/** A finished try on `peer` that got a `status` response after 30 ms. */
function attempt(peer: Peer, status: number): UpstreamAttempt {
  return { peer, accounted: false, bytesSent: 10, bytesReceived: 20, timedOut: false, connectMs: 1, headerMs: 5, endMs: 30, startMs: 0, status } as unknown as UpstreamAttempt;
}

describe('counters made on first use', () => {
  test('a peer that counted leaves every other peer at zero (the zeros shown before a first count are shared, never written)', () => {
    const busy = new Peer('app', { kind: 'tcp', host: '127.0.0.1', port: 1 });
    const idle = new Peer('app', { kind: 'tcp', host: '127.0.0.1', port: 2 });
    const later = new PeerStats();
    expect(idle.stats.values()).toEqual(new Array(PEER_SLOTS).fill(0));
    accountAttempt(attempt(busy, 503), true, 30, false);
    accountAttempt(attempt(busy, 200), true, 30, false);
    expect([...busy.stats.responses]).toEqual([0, 0, 1, 0, 0, 1]);
    expect(busy.stats.responseTime.slots[HISTOGRAM_SLOTS - 1]).toBe(2);
    for (const s of [idle.stats, later]) {
      expect([...s.responses]).toEqual(new Array(CLASS_SLOTS).fill(0));
      expect([...s.responseTime.slots]).toEqual(new Array(HISTOGRAM_SLOTS).fill(0));
      expect(s.values()).toEqual(new Array(PEER_SLOTS).fill(0));
    }
  });

  test('server blocks: the same', () => {
    const busy = new ServerStats();
    const idle = new ServerStats();
    busy.requestEnded(404, 100, 200, 0.002);
    busy.requestEnded(444, 100, 0, 0.002);
    expect([...busy.responses]).toEqual([1, 0, 0, 0, 1, 0]);
    expect(busy.requestTime.slots[1]).toBe(2);
    expect([...idle.responses]).toEqual(new Array(CLASS_SLOTS).fill(0));
    expect([...idle.requestTime.slots]).toEqual(new Array(HISTOGRAM_SLOTS).fill(0));
    expect(new ServerStats().values().every((v) => v === 0)).toBe(true);
  });
});
