/**
 * The last minutes for the page's charts: every HISTORY_INTERVAL_MS the totals of a sample are
 * compared with the previous ones, and the difference becomes one HistorySample (rates per second,
 * p50/p99 from the histogram buckets filled in that interval). A ring of HISTORY_SAMPLES keeps
 * ten minutes. With worker processes the primary records the merged totals, so the charts agree
 * whichever worker answers.
 */
import { HISTOGRAM_SLOTS, LATENCY_BOUNDS_S, PEER_SLOT } from '../../upstream/stats.js';
import type { HistorySample, StatusHistory } from './document.js';
import { SERVER_SLOT } from './server-stats.js';
import type { StatusSample } from './sample.js';

export const HISTORY_INTERVAL_MS = 5000;
/** Ten minutes. */
export const HISTORY_SAMPLES = 120;

export interface Totals {
  requests: number;
  errors: number;
  latency: number[];
}

/** What one history point is the difference of: per-upstream totals and the http server blocks' counts. */
export interface HistoryTotals {
  readonly atMs: number;
  readonly upstreams: Map<string, Totals>;
  readonly servers: Totals;
  /** Requests of each http server block, by registry key. */
  readonly perServer: Map<string, number>;
}

/** The totals of a sample (the primary's merged sample, with worker processes). */
export function totalsOfSample(sample: StatusSample): HistoryTotals {
  const upstreams = new Map<string, Totals>();
  for (const [key, p] of Object.entries(sample.peers)) {
    const v = p.values;
    // a peer never tried adds nothing (historyTotalsLocal skips it too)
    if (v[PEER_SLOT.requests] === 0) continue;
    const t = getTotals(upstreams, upstreamOfRegistryKey(key));
    t.requests += v[PEER_SLOT.requests]!;
    t.errors += v[PEER_SLOT.responses + 5]! + v[PEER_SLOT.connectFailures]! + v[PEER_SLOT.timeouts]!;
    for (let i = 0; i < HISTOGRAM_SLOTS; i++) t.latency[i]! += v[PEER_SLOT.responseTime + i]!;
  }
  const servers = emptyTotals();
  const perServer = new Map<string, number>();
  for (const [key, s] of Object.entries(sample.servers)) {
    if (s.values[SERVER_SLOT.requests] === 0) continue;
    servers.requests += s.values[SERVER_SLOT.requests]!;
    servers.errors += s.values[SERVER_SLOT.responses + 5]!;
    perServer.set(key, s.values[SERVER_SLOT.requests]!);
  }
  return { atMs: sample.atMs, upstreams, servers, perServer };
}

/** An upstream's key in the history: its registry name ("app", "stream:db" for a stream upstream). */
export function upstreamOfRegistryKey(key: string): string {
  return key.slice(0, key.lastIndexOf(' '));
}

export class StatusHistoryRing {
  readonly #samples: HistorySample[] = [];
  #previous: HistoryTotals | null = null;
  /** Requests per second of each http server block over the last interval, by registry key. */
  readonly #serverRates = new Map<string, number>();

  get samples(): readonly HistorySample[] {
    return this.#samples;
  }

  /** The history as the document shows it (a copy). */
  view(): StatusHistory {
    return { intervalMs: HISTORY_INTERVAL_MS, samples: this.#samples.slice() };
  }

  /** An http server block's request rate over the last interval (0 before two samples). */
  serverRate(key: string): number {
    return this.#serverRates.get(key) ?? 0;
  }

  /** Take a sample's totals; from the second one on, the difference is a history point. */
  record(sample: StatusSample): void {
    this.recordTotals(totalsOfSample(sample));
  }

  /** As record, from totals summed without a sample (a single process: status/sample.ts historyTotalsLocal). */
  recordTotals(totals: HistoryTotals): void {
    const { upstreams, servers, perServer } = totals;
    const prev = this.#previous;
    this.#previous = totals;
    if (prev === null) return;
    const seconds = Math.max(0.001, (totals.atMs - prev.atMs) / 1000);
    this.#serverRates.clear();
    for (const [key, n] of perServer) {
      const r = rate(n - (prev.perServer.get(key) ?? 0), seconds);
      if (r > 0) this.#serverRates.set(key, r);
    }
    const perUpstream: Record<string, HistorySample['upstreams'][string]> = {};
    for (const [name, t] of upstreams) {
      const before = prev.upstreams.get(name) ?? NO_TOTALS;
      // An upstream with no try in the interval is left out of the point (its rates are 0 and it
      // has no latency): with 10,000 upstreams and a few busy, every point held 10,000 entries,
      // 120 points ~80 MB of heap and of every /status answer.
      if (!changed(t, before)) continue;
      const buckets = t.latency.map((n, i) => Math.max(0, n - before.latency[i]!));
      perUpstream[name] = {
        requestRate: rate(t.requests - before.requests, seconds),
        errorRate: rate(t.errors - before.errors, seconds),
        p50Ms: quantileMs(buckets, 0.5),
        p99Ms: quantileMs(buckets, 0.99),
      };
    }
    this.#samples.push({
      at: new Date(totals.atMs).toISOString(),
      upstreams: perUpstream,
      requestRate: rate(servers.requests - prev.servers.requests, seconds),
      errorRate: rate(servers.errors - prev.servers.errors, seconds),
    });
    if (this.#samples.length > HISTORY_SAMPLES) this.#samples.shift();
  }
}

/** Whether any counter moved between two totals of one upstream. */
function changed(t: Totals, before: Totals): boolean {
  if (t.requests !== before.requests || t.errors !== before.errors) return true;
  for (let i = 0; i < t.latency.length; i++) if (t.latency[i] !== before.latency[i]) return true;
  return false;
}

const NO_TOTALS: Totals = Object.freeze({ requests: 0, errors: 0, latency: Object.freeze(new Array<number>(HISTOGRAM_SLOTS).fill(0)) as number[] });

export function emptyTotals(): Totals {
  return { requests: 0, errors: 0, latency: new Array<number>(HISTOGRAM_SLOTS).fill(0) };
}

export function getTotals(map: Map<string, Totals>, key: string): Totals {
  let t = map.get(key);
  if (t === undefined) map.set(key, (t = emptyTotals()));
  return t;
}

/** Per second, never negative (a peer that left takes its counts along), 3 decimals. */
function rate(delta: number, seconds: number): number {
  return Math.round((Math.max(0, delta) / seconds) * 1000) / 1000;
}

/**
 * The q-quantile of non-cumulative bucket counts (the first LATENCY_BOUNDS_S.length + 1 slots),
 * interpolated linearly inside its bucket as Prometheus's histogram_quantile does; null without
 * observations. Above the last bound it is the last bound.
 */
export function quantileMs(buckets: readonly number[], q: number): number | null {
  const bounds = LATENCY_BOUNDS_S;
  let total = 0;
  for (let i = 0; i <= bounds.length; i++) total += buckets[i]!;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i <= bounds.length; i++) {
    const n = buckets[i]!;
    if (n > 0 && seen + n >= rank) {
      if (i === bounds.length) return bounds[bounds.length - 1]! * 1000;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const upper = bounds[i]!;
      return Math.round((lower + (upper - lower) * ((rank - seen) / n)) * 1e6) / 1000;
    }
    seen += n;
  }
  return bounds[bounds.length - 1]! * 1000;
}
