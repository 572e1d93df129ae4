import { describe, expect, test } from 'vitest';
import { notePick, noteOutcome, passivelyDown } from '../../../src/upstream/health/passive.js';
import type { PeerEntry } from '../../../src/upstream/entry.js';
import { entries } from '../helpers.js';

function peer(maxFails: number, failTimeoutMs = 10_000): PeerEntry {
  return entries([1], { maxFails, failTimeoutMs })[0]!;
}

type Step = [at: number, event: 'pick' | 'ok' | 'fail'];

/** Replays picks and outcomes, then reports whether the peer is passively down at each probe time. */
function replay(p: PeerEntry, steps: Step[], probes: number[]): boolean[] {
  for (const [at, event] of steps) {
    if (event === 'pick') notePick(p, at);
    else noteOutcome(p, event === 'fail', at);
  }
  return probes.map((t) => passivelyDown(p, t));
}

describe('max_fails / fail_timeout', () => {
  test.each<{ name: string; maxFails: number; steps: Step[]; probes: number[]; down: boolean[] }>([
    {
      name: 'max_fails=1: out for fail_timeout after one failure',
      maxFails: 1,
      steps: [[0, 'pick'], [100, 'fail']],
      probes: [100, 5_000, 10_100, 10_101],
      down: [true, true, true, false],
    },
    {
      name: 'max_fails=3: two failures keep it in, the third takes it out',
      maxFails: 3,
      steps: [[0, 'pick'], [1, 'fail'], [0, 'pick'], [2, 'fail']],
      probes: [3],
      down: [false],
    },
    {
      name: 'max_fails=2: failures further apart than fail_timeout do not add up',
      maxFails: 2,
      steps: [[0, 'pick'], [0, 'fail'], [10_500, 'pick'], [10_500, 'fail']],
      probes: [10_501],
      down: [false],
    },
    {
      name: 'max_fails=2: two failures inside the window take it out from the last failure',
      maxFails: 2,
      steps: [[0, 'pick'], [0, 'fail'], [6_000, 'pick'], [6_000, 'fail']],
      probes: [6_001, 16_000, 16_001],
      down: [true, true, false],
    },
    {
      name: 'max_fails=0 disables passive checks',
      maxFails: 0,
      steps: [[0, 'pick'], [1, 'fail'], [2, 'fail'], [3, 'fail']],
      probes: [4],
      down: [false],
    },
  ])('$name', ({ maxFails, steps, probes, down }) => {
    expect(replay(peer(maxFails), steps, probes)).toEqual(down);
  });

  test('after the penalty one probe goes through; its failure restarts the penalty', () => {
    const p = peer(1);
    replay(p, [[0, 'pick'], [0, 'fail']], []);
    expect(passivelyDown(p, 10_001)).toBe(false);
    notePick(p, 10_001); // the probe
    expect(passivelyDown(p, 10_002)).toBe(true); // nobody else meanwhile
    noteOutcome(p, true, 10_050);
    expect(p.peer.fails).toBe(2);
    expect(passivelyDown(p, 20_050)).toBe(true);
    expect(passivelyDown(p, 20_051)).toBe(false);
  });

  test('a success resets fails only when its request started in a later window', () => {
    const p = peer(3);
    notePick(p, 0);
    noteOutcome(p, true, 1); // failure
    noteOutcome(p, false, 2); // a request picked before the failure succeeds: no reset
    expect(p.peer.fails).toBe(1);
    notePick(p, 5_000); // still inside fail_timeout of the failure
    noteOutcome(p, false, 5_001);
    expect(p.peer.fails).toBe(1);
    notePick(p, 20_000); // first pick after fail_timeout opens a new window
    noteOutcome(p, false, 20_001);
    expect(p.peer.fails).toBe(0);
  });

  test('fake timers: the peer comes back by itself once fail_timeout passed', async () => {
    const { vi } = await import('vitest');
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      const p = peer(1, 3_000);
      notePick(p, Date.now());
      noteOutcome(p, true, Date.now());
      expect(p.available(Date.now())).toBe(false);
      vi.advanceTimersByTime(3_000);
      expect(p.available(Date.now())).toBe(false);
      vi.advanceTimersByTime(1);
      expect(p.available(Date.now())).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
