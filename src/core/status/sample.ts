/**
 * A StatusSample is what one process knows at one moment, as plain data (it crosses the cluster
 * IPC channel): the flat counters of every peer (by registry key), http server block, stream
 * server and listening socket (by StatusRegistry key), their gauges, and the peers' health. The
 * status document (build.ts) is made from one sample and this process's config; with worker
 * processes the primary merges the workers' samples into one (aggregate.ts) first.
 */
import v8 from 'node:v8';
import type { StatusCounts } from '../connection-stats.js';
import { localCounts } from '../connection-stats.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { CacheZoneStats, ListenStats, ServerStats, StreamServerStats } from './server-stats.js';
import { HISTOGRAM_SLOTS, type PeerStats } from '../../upstream/stats.js';
import { emptyTotals, getTotals, upstreamOfRegistryKey, type HistoryTotals, type Totals } from './history.js';

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

type GroupEntry = UpstreamGroup['entries'][number];

/** A passive penalty ends by itself: the peer's state bookkeeping learns it when sampled. Returns passiveDown. */
function notePeerState(entry: GroupEntry, now: number): boolean {
  const peer = entry.peer;
  const passiveDown = entry.passivelyDown(now);
  if (!entry.params.down) {
    const up = peer.healthy && !passiveDown;
    const endedAt = peer.passiveCheckedAt + entry.params.failTimeoutMs;
    peer.noteState(up, up && !peer.wasUp && Number.isFinite(endedAt) ? Math.min(now, Math.max(peer.stateSinceMs, endedAt)) : now);
  }
  return passiveDown;
}

/** No try has ended at the peer: every ended try counts in `requests` (accountAttempt), so all its counters are zero. */
function untried(s: PeerStats): boolean {
  return s.requests === 0;
}

/**
 * The history's totals of this process now, summed from the live counters: what
 * totalsOfSample(sampleLocal(...)) gives, without a PeerSample and two flat copies per peer
 * (10,000 upstreams: a sample held the serving thread ~0.25 s every HISTORY_INTERVAL_MS).
 */
export function historyTotalsLocal(groups: readonly UpstreamGroup[], servers: Iterable<[string, ServerStats]>, now: number = Date.now()): HistoryTotals {
  const upstreams = new Map<string, Totals>();
  const seen = new Set<string>();
  for (const g of groups) {
    const keys = g.registryKeys;
    const entries = g.entries;
    for (let i = 0; i < entries.length; i++) {
      const key = keys[i];
      const entry = entries[i]!;
      const s = entry.peer.stats;
      // A peer never tried adds nothing and has no passive penalty to end: on a config of 10,000
      // upstreams of which a few take traffic, this is what keeps a point from costing ~80 ms
      // of the serving thread every HISTORY_INTERVAL_MS (HACKING.md "Cost as work grows").
      if (key === undefined || untried(s) || seen.has(key)) continue;
      seen.add(key);
      notePeerState(entry, now);
      const t = getTotals(upstreams, upstreamOfRegistryKey(key));
      t.requests += s.requests;
      t.errors += s.responses[5]! + s.connectFailures + s.timeouts;
      const slots = s.responseTime.slots;
      for (let j = 0; j < HISTOGRAM_SLOTS; j++) t.latency[j]! += slots[j]!;
    }
  }
  const total = emptyTotals();
  const perServer = new Map<string, number>();
  for (const [key, s] of servers) {
    if (s.requests === 0) continue;
    total.requests += s.requests;
    total.errors += s.responses[5]!;
    perServer.set(key, s.requests);
  }
  return { atMs: now, upstreams, servers: total, perServer };
}

/**
 * The sample of a peer never tried and idle, made once and given again while its health fields
 * stay the same; likewise a server block that never answered. A worker process samples every
 * STATUS_POLL_MS (runtime/status-ipc.ts), and with 10,000 upstreams making 30,000 such objects
 * (a counter array each) held each worker 0.6-0.9 s every 2.5 s; the same object again is also
 * how ReportedCounters.delta knows at once that nothing changed. Samples are never written to.
 */
const idlePeers = new WeakMap<object, PeerSample>();
const idleServers = new WeakMap<object, CounterSample>();

type HealthFields = Parameters<typeof healthSampleOf>[0];

function sameHealth(s: PeerSample, p: HealthFields): boolean {
  return s.healthy === p.healthy && s.wasUp === p.wasUp && s.stateSinceMs === p.stateSinceMs && s.stateChanges === p.stateChanges
    && s.downtimeMs === p.downtimeMs && s.riseCount === p.riseCount && s.fallCount === p.fallCount && s.checkedAt === p.checkedAt
    && s.lastResult === p.lastCheckResult && s.lastOk === p.lastCheckOk && s.latencyMs === p.lastCheckLatencyMs && s.lastError === p.lastError;
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
      const passiveDown = notePeerState(entry, now);
      const idle = untried(peer.stats) && peer.activeConns === 0 && peer.fails === 0 && !passiveDown;
      const known = idle ? idlePeers.get(peer) : undefined;
      if (known !== undefined && sameHealth(known, peer)) {
        peers[key] = known;
        return;
      }
      const s = { ...healthSampleOf(peer), values: peer.stats.values(), active: peer.activeConns, fails: peer.fails, passiveDown };
      if (idle) idlePeers.set(peer, s);
      peers[key] = s;
    });
  }
  const counters = <T extends { values(): number[] }>(it: Iterable<[string, T]>, active: (s: T) => number): Record<string, CounterSample> => {
    const out: Record<string, CounterSample> = {};
    for (const [key, s] of it) out[key] = { values: s.values(), active: active(s) };
    return out;
  };
  const servers: Record<string, CounterSample> = {};
  for (const [key, s] of src.servers()) {
    // a block that never answered has all-zero counters (requestEnded counts each)
    const idle = s.requests === 0 && s.writing === 0;
    let sample = idle ? idleServers.get(s) : undefined;
    if (sample === undefined) {
      sample = { values: s.values(), active: s.writing };
      if (idle) idleServers.set(s, sample);
    }
    servers[key] = sample;
  }
  const caches: Record<string, CacheSample> = {};
  for (const [name, c] of src.caches()) caches[name] = { values: c.values(), entries: c.entries, sizeBytes: c.sizeBytes };
  const mem = memoryFigures();
  return {
    atMs: now,
    peers,
    servers,
    streams: counters(src.streams(), (s) => s.active),
    listens: listenCounters(src.listens()),
    caches,
    process: { ...src.process(), ...mem, connections: localCounts() },
  };
}

let lastRssBytes = 0;

/**
 * The process's rss and V8 heap in use. Reading rss opens /proc/self/statm, which throws when every
 * descriptor is in use (EMFILE): a status poll must not crash the process then (a worker did, in
 * test/integration/workers.test.ts's nofile=3 window), so the last rss read is reported.
 */
export function memoryFigures(): { rssBytes: number; heapUsedBytes: number } {
  try {
    lastRssBytes = process.memoryUsage.rss();
  } catch {
    // EMFILE: keep the last figure
  }
  return { rssBytes: lastRssBytes, heapUsedBytes: v8.getHeapStatistics().used_heap_size };
}
