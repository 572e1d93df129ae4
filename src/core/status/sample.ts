/**
 * A StatusSample is what one process knows at one moment, as plain data (it crosses the cluster
 * IPC channel): the flat counters of every peer (by registry key), http server block, stream
 * server and listening socket (by StatusRegistry key), their gauges, and the peers' health. The
 * status document (build.ts) is made from one sample and this process's config; with worker
 * processes the primary merges the workers' samples into one (aggregate.ts) first.
 */
import type { StatusCounts } from '../connection-stats.js';
import { localCounts } from '../connection-stats.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { CacheZoneStats, ListenStats, ServerStats, StreamServerStats } from './server-stats.js';

export interface PeerHealthSample {
  readonly healthy: boolean;
  readonly wasUp: boolean;
  readonly stateSinceMs: number;
  readonly stateChanges: number;
  readonly downtimeMs: number;
  readonly riseCount: number;
  readonly fallCount: number;
  readonly checkedAt: number | null;
  readonly lastResult: string | null;
  readonly lastOk: boolean | null;
  readonly latencyMs: number | null;
  readonly lastError: string | null;
}

export interface PeerSample extends PeerHealthSample {
  /** PeerStats.values(). */
  readonly values: number[];
  readonly active: number;
  readonly fails: number;
  /** max_fails reached within fail_timeout (under this process's group parameters). */
  readonly passiveDown: boolean;
}

export interface CounterSample {
  readonly values: number[];
  /** Gauge: requests in progress (servers), sessions (streams), open connections (listens). */
  readonly active: number;
  /** Gauge (listens): connections reading a request head. */
  readonly reading?: number;
}

/** A cache zone: hits and misses (CacheZoneStats.values()), and what is on disk (gauges: the last sweep). */
export interface CacheSample {
  readonly values: number[];
  readonly entries: number;
  readonly sizeBytes: number;
}

export interface ProcessSample {
  readonly pid: number;
  readonly startedAtMs: number;
  readonly workers: number;
  readonly workersRunning: number;
  readonly reloads: number;
  readonly lastReloadAtMs: number | null;
  readonly lastReloadOk: boolean | null;
  readonly lastReloadError: string | null;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly connections: StatusCounts;
}

export interface StatusSample {
  readonly atMs: number;
  readonly peers: Record<string, PeerSample>;
  readonly servers: Record<string, CounterSample>;
  readonly streams: Record<string, CounterSample>;
  readonly listens: Record<string, CounterSample>;
  readonly caches: Record<string, CacheSample>;
  readonly process: ProcessSample;
}

/** What a process samples: its current groups and the StatusRegistry's live counters. */
export interface SampleSources {
  groups(): readonly UpstreamGroup[];
  servers(): Iterable<[string, ServerStats]>;
  streams(): Iterable<[string, StreamServerStats]>;
  listens(): Iterable<[string, ListenStats]>;
  caches(): Iterable<[string, CacheZoneStats]>;
  process(): Omit<ProcessSample, 'rssBytes' | 'heapUsedBytes' | 'connections'>;
}

export function healthSampleOf(p: {
  healthy: boolean; wasUp: boolean; stateSinceMs: number; stateChanges: number; downtimeMs: number; riseCount: number; fallCount: number;
  checkedAt: number | null; lastCheckResult: string | null; lastCheckOk: boolean | null; lastCheckLatencyMs: number | null; lastError: string | null;
}): PeerHealthSample {
  return {
    healthy: p.healthy, wasUp: p.wasUp, stateSinceMs: p.stateSinceMs, stateChanges: p.stateChanges, downtimeMs: p.downtimeMs,
    riseCount: p.riseCount, fallCount: p.fallCount, checkedAt: p.checkedAt, lastResult: p.lastCheckResult, lastOk: p.lastCheckOk,
    latencyMs: p.lastCheckLatencyMs, lastError: p.lastError,
  };
}

function listenCounters(it: Iterable<[string, ListenStats]>): Record<string, CounterSample> {
  const out: Record<string, CounterSample> = {};
  for (const [key, s] of it) out[key] = { values: s.values(), active: s.active, reading: s.reading };
  return out;
}

/** This process's sample now. */
export function sampleLocal(src: SampleSources, now: number = Date.now()): StatusSample {
  const peers: Record<string, PeerSample> = {};
  for (const g of src.groups()) {
    const keys = g.registryKeys;
    g.entries.forEach((entry, i) => {
      const key = keys[i];
      if (key === undefined || peers[key] !== undefined) return;
      const peer = entry.peer;
      const passiveDown = entry.passivelyDown(now);
      // a passive penalty ends by itself: the state bookkeeping learns it here
      if (!entry.params.down) {
        const up = peer.healthy && !passiveDown;
        const endedAt = peer.passiveCheckedAt + entry.params.failTimeoutMs;
        peer.noteState(up, up && !peer.wasUp && Number.isFinite(endedAt) ? Math.min(now, Math.max(peer.stateSinceMs, endedAt)) : now);
      }
      peers[key] = { ...healthSampleOf(peer), values: peer.stats.values(), active: peer.activeConns, fails: peer.fails, passiveDown };
    });
  }
  const counters = <T extends { values(): number[] }>(it: Iterable<[string, T]>, active: (s: T) => number): Record<string, CounterSample> => {
    const out: Record<string, CounterSample> = {};
    for (const [key, s] of it) out[key] = { values: s.values(), active: active(s) };
    return out;
  };
  const caches: Record<string, CacheSample> = {};
  for (const [name, c] of src.caches()) caches[name] = { values: c.values(), entries: c.entries, sizeBytes: c.sizeBytes };
  const mem = process.memoryUsage();
  return {
    atMs: now,
    peers,
    servers: counters(src.servers(), (s) => s.writing),
    streams: counters(src.streams(), (s) => s.active),
    listens: listenCounters(src.listens()),
    caches,
    process: { ...src.process(), rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, connections: localCounts() },
  };
}
