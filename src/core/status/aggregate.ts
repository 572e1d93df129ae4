/**
 * One truth across worker processes (HACKING.md "Status across worker processes"): each worker
 * reports the growth of its counters since its last report (ReportedCounters.delta), the primary
 * adds every report into its totals (StatusTotals), which therefore never go backwards (a worker
 * that dies or is replaced takes nothing away: it loses at most what it had not reported yet), and
 * merges them with the workers' latest gauges and its own health checks into one sample
 * (StatusTotals.merge), from which any worker builds the same document.
 */
import { sumCounts } from '../connection-stats.js';
import type { CacheSample, CounterSample, PeerHealthSample, PeerSample, ProcessSample, StatusSample } from './sample.js';

type Kind = 'peers' | 'servers' | 'streams' | 'listens' | 'caches';
const KINDS: readonly Kind[] = ['peers', 'servers', 'streams', 'listens', 'caches'];

/**
 * A worker's report: the growth of the counters of the keys that changed since its previous
 * report (a counter grew, or a gauge or health field differs), and the keys that left since then.
 * A key that did not change is left out, so a quiet worker's report stays small however many peers
 * the config has (10,000 upstreams: every report carried 20,000 peers, changed or not).
 */
export interface StatusReport extends StatusSample {
  readonly gone: Record<Kind, string[]>;
}

type Sampled = CounterSample | PeerSample | CacheSample;

/** A worker's side: what it reported last, per kind and key. */
export class ReportedCounters {
  readonly #last: Record<Kind, Map<string, Sampled>> = { peers: new Map(), servers: new Map(), streams: new Map(), listens: new Map(), caches: new Map() };

  /**
   * `sample` as a StatusReport: every counter replaced by its growth since the previous call, the
   * keys that did not change left out. A key that left (a reload dropped it) is forgotten and
   * listed in `gone`, so if it comes back its counters count from zero again; a counter that
   * shrank (a new object under the same key) reports no growth and restarts from there.
   */
  delta(sample: StatusSample): StatusReport {
    const gone: Record<Kind, string[]> = { peers: [], servers: [], streams: [], listens: [], caches: [] };
    const out = { ...sample, peers: {}, servers: {}, streams: {}, listens: {}, caches: {}, gone } as Record<Kind, Record<string, Sampled>> & StatusReport;
    for (const kind of KINDS) {
      const last = this.#last[kind];
      const seen = new Set<string>();
      const all = sample[kind] as Record<string, Sampled>;
      // for-in, not Object.entries: no [key, value] array per key (30,000 keys with 10,000 upstreams)
      for (const key in all) {
        const s = all[key]!;
        seen.add(key);
        const before = last.get(key);
        // the very sample reported last time (an idle key's, sample.ts): nothing changed
        if (before === s) continue;
        const values = s.values;
        const d = new Array<number>(values.length);
        let grew = false;
        for (let i = 0; i < values.length; i++) {
          d[i] = Math.max(0, values[i]! - (before?.values[i] ?? 0));
          if (d[i]! > 0) grew = true;
        }
        last.set(key, s);
        if (before === undefined || grew || !sameFields(before, s)) out[kind][key] = { ...s, values: d };
      }
      for (const key of [...last.keys()]) {
        if (seen.has(key)) continue;
        last.delete(key);
        gone[kind].push(key);
      }
    }
    return out;
  }
}

/** Whether two samples of one key have the same gauges and health fields (every field but the counters). */
function sameFields(a: Sampled, b: Sampled): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (const f of Object.keys(y)) if (f !== 'values' && x[f] !== y[f]) return false;
  return true;
}

type LatestReport = { -readonly [K in keyof StatusSample]: StatusSample[K] };

/** The primary's side: the totals, and each worker's latest report (for its gauges). */
export class StatusTotals {
  readonly #totals: Record<Kind, Map<string, number[]>> = { peers: new Map(), servers: new Map(), streams: new Map(), listens: new Map(), caches: new Map() };
  /** Per worker, the last report of every key it still has (for its gauges; the counters in it are not read). */
  readonly #latest = new Map<number, LatestReport>();

  /** A worker's report (ReportedCounters.delta): its growth goes into the totals, its gauges replace the key's last ones. */
  add(workerId: number, report: StatusReport): void {
    for (const kind of KINDS) {
      const totals = this.#totals[kind];
      for (const [key, s] of Object.entries(report[kind] as Record<string, CounterSample>)) {
        const t = totals.get(key);
        if (t === undefined) totals.set(key, s.values.slice());
        else for (let i = 0; i < s.values.length; i++) t[i] = (t[i] ?? 0) + s.values[i]!;
      }
    }
    const latest = this.#latest.get(workerId);
    if (latest === undefined) {
      const { gone: _gone, ...first } = report;
      this.#latest.set(workerId, { ...first, peers: { ...first.peers }, servers: { ...first.servers }, streams: { ...first.streams }, listens: { ...first.listens }, caches: { ...first.caches } });
      return;
    }
    for (const kind of KINDS) {
      const keep = latest[kind] as Record<string, Sampled>;
      Object.assign(keep, report[kind]);
      for (const key of report.gone[kind]) delete keep[key];
    }
    latest.atMs = report.atMs;
    latest.process = report.process;
  }

  /** A worker exited: its gauges go (its reported counters stay in the totals). */
  workerGone(workerId: number): void {
    this.#latest.delete(workerId);
  }

  /**
   * One sample for every process: the totals as counters; gauges (active connections, requests in
   * progress) summed over the live workers; passive health as the worst any worker sees; the
   * active checks' verdicts and bookkeeping from `health` (the primary runs the checks), else from
   * the worker that saw the most state changes.
   */
  merge(process: Omit<ProcessSample, 'rssBytes' | 'heapUsedBytes' | 'connections'>, own: { rssBytes: number; heapUsedBytes: number },
    health: ReadonlyMap<string, PeerHealthSample>, now: number): StatusSample {
    const workers = [...this.#latest.values()];
    // A cache zone's disk figures are the same directory seen by every worker: the latest, not a sum.
    const caches: Record<string, CacheSample> = {};
    for (const [key, values] of this.#totals.caches) {
      let entries = 0;
      let sizeBytes = 0;
      for (const w of workers) {
        const c = w.caches?.[key];
        if (c === undefined) continue;
        entries = Math.max(entries, c.entries);
        sizeBytes = Math.max(sizeBytes, c.sizeBytes);
      }
      caches[key] = { values: values.slice(), entries, sizeBytes };
    }
    const counters = (kind: Exclude<Kind, 'peers' | 'caches'>): Record<string, CounterSample> => {
      const out: Record<string, CounterSample> = {};
      for (const [key, values] of this.#totals[kind]) {
        let active = 0;
        let reading = 0;
        for (const w of workers) {
          active += w[kind][key]?.active ?? 0;
          reading += w[kind][key]?.reading ?? 0;
        }
        out[key] = { values: values.slice(), active, reading };
      }
      return out;
    };
    const peers: Record<string, PeerSample> = {};
    for (const [key, values] of this.#totals.peers) {
      let active = 0;
      let fails = 0;
      let passiveDown = false;
      let best: PeerSample | undefined;
      for (const w of workers) {
        const p = w.peers[key];
        if (p === undefined) continue;
        active += p.active;
        fails = Math.max(fails, p.fails);
        passiveDown ||= p.passiveDown;
        if (best === undefined || p.stateChanges > best.stateChanges) best = p;
      }
      const h = health.get(key) ?? best ?? untouched(process.startedAtMs);
      peers[key] = { ...pickHealth(h), lastError: h.lastError ?? best?.lastError ?? null, values: values.slice(), active, fails, passiveDown };
    }
    let rssBytes = own.rssBytes;
    let heapUsedBytes = own.heapUsedBytes;
    for (const w of workers) {
      rssBytes += w.process.rssBytes;
      heapUsedBytes += w.process.heapUsedBytes;
    }
    return {
      atMs: now,
      peers,
      servers: counters('servers'),
      streams: counters('streams'),
      listens: counters('listens'),
      caches,
      process: { ...process, rssBytes, heapUsedBytes, connections: sumCounts(workers.map((w) => w.process.connections)) },
    };
  }
}

function pickHealth(h: PeerHealthSample): PeerHealthSample {
  return {
    healthy: h.healthy, wasUp: h.wasUp, stateSinceMs: h.stateSinceMs, stateChanges: h.stateChanges, downtimeMs: h.downtimeMs,
    riseCount: h.riseCount, fallCount: h.fallCount, checkedAt: h.checkedAt, lastResult: h.lastResult, lastOk: h.lastOk,
    latencyMs: h.latencyMs, lastError: h.lastError,
  };
}

/** A peer no live worker reports (they all restarted since): up since the start, no check yet. */
function untouched(sinceMs: number): PeerHealthSample {
  return {
    healthy: true, wasUp: true, stateSinceMs: sinceMs, stateChanges: 0, downtimeMs: 0, riseCount: 0, fallCount: 0,
    checkedAt: null, lastResult: null, lastOk: null, latencyMs: null, lastError: null,
  };
}
