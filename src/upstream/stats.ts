/**
 * The counters behind the status document (issue 16, core/status/document.ts): plain fields and
 * one Float64Array per histogram (made at its first observation), incremented where things
 * happen, never allocated per request.
 * They live here, below core/, because a Peer (which outlives reloads through the PeerRegistry)
 * carries its own; the http and stream servers' counters (core/status/) reuse the primitives.
 *
 * Every counter kind has a flat numeric form (`values`/`add`) so worker processes can send the
 * primary their deltas, and the primary can sum them, without naming each field twice.
 */
import type { UpstreamAttempt } from './attempts.js';

/** Upper bounds (seconds) of every latency histogram: 1 ms to 60 s (document.ts re-exports it). */
export const LATENCY_BOUNDS_S: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Slots of a flat histogram: one per bound, one above the last, then sum and count. */
export const HISTOGRAM_SLOTS = LATENCY_BOUNDS_S.length + 3;
const SUM = LATENCY_BOUNDS_S.length + 1;
const COUNT = LATENCY_BOUNDS_S.length + 2;

/**
 * The zeros every histogram and response count shows until its first observation: never written
 * (observe() and countResponse() write into an array of their own, made then). A 10,000-server
 * config has 20,000 peers and 10,000 server blocks, most of which never see a request, and each
 * Float64Array is ~200 bytes of heap (13 MB in all, before they were made on first use).
 */
const NO_SLOTS = new Float64Array(HISTOGRAM_SLOTS);

/** Not cumulative: counts[i] observations fell in (bounds[i-1], bounds[i]]. */
export class LatencyHistogram {
  #slots: Float64Array | null = null;

  /** Read-only: shared zeros until the first observation. */
  get slots(): Float64Array {
    return this.#slots ?? NO_SLOTS;
  }

  observe(seconds: number): void {
    const bounds = LATENCY_BOUNDS_S;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    const s = (this.#slots ??= new Float64Array(HISTOGRAM_SLOTS));
    s[i]!++;
    s[SUM] += seconds;
    s[COUNT]!++;
  }
}

/** The document's Histogram from flat slots (bucket counts, sum, count). */
export function histogramOf(slots: ArrayLike<number>, offset = 0): { bounds: readonly number[]; counts: number[]; sum: number; count: number } {
  const counts: number[] = [];
  for (let i = 0; i <= LATENCY_BOUNDS_S.length; i++) counts.push(slots[offset + i]!);
  return { bounds: LATENCY_BOUNDS_S, counts, sum: slots[offset + SUM]!, count: slots[offset + COUNT]! };
}

/** Responses by class: index 0 = xxx (no response), 1..5 = 1xx..5xx. */
export const CLASS_SLOTS = 6;

/** What `responses` shows until the first response: zeros, never written (see NO_SLOTS). */
export const NO_CLASSES = new Float64Array(CLASS_SLOTS);

export function classIndex(status: number): number {
  const c = Math.trunc(status / 100);
  return c >= 1 && c <= 5 ? c : 0;
}

export function responseClassesOf(v: ArrayLike<number>, offset: number): { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; xxx: number } {
  return { '1xx': v[offset + 1]!, '2xx': v[offset + 2]!, '3xx': v[offset + 3]!, '4xx': v[offset + 4]!, '5xx': v[offset + 5]!, xxx: v[offset]! };
}

/** Flat layout of PeerStats.values(). */
export const PEER_SLOT = {
  connections: 0,
  requests: 1,
  sentBytes: 2,
  receivedBytes: 3,
  connectFailures: 4,
  timeouts: 5,
  retries: 6,
  /** Checks run by this process (with workers, the primary's). */
  checks: 7,
  responses: 8,
  responseTime: 8 + CLASS_SLOTS,
} as const;
export const PEER_SLOTS = PEER_SLOT.responseTime + HISTOGRAM_SLOTS;

/** One peer's traffic counters (Peer.stats); they survive reloads with the Peer. */
export class PeerStats {
  /** Connections opened (not reused from the keepalive pool). */
  connections = 0;
  /** Requests / sessions whose try ended (Peer.requests counts picks). */
  requests = 0;
  sentBytes = 0;
  receivedBytes = 0;
  connectFailures = 0;
  timeouts = 0;
  retries = 0;
  checks = 0;
  #responses: Float64Array | null = null;
  readonly responseTime = new LatencyHistogram();

  /** Responses by class (classIndex). Read-only: shared zeros until the first one. */
  get responses(): Float64Array {
    return this.#responses ?? NO_CLASSES;
  }

  countResponse(classIndex: number): void {
    (this.#responses ??= new Float64Array(CLASS_SLOTS))[classIndex]!++;
  }

  /** The flat form (a copy), for deltas and sums across processes. */
  values(): number[] {
    const v = new Array<number>(PEER_SLOTS).fill(0);
    v[PEER_SLOT.connections] = this.connections;
    v[PEER_SLOT.requests] = this.requests;
    v[PEER_SLOT.sentBytes] = this.sentBytes;
    v[PEER_SLOT.receivedBytes] = this.receivedBytes;
    v[PEER_SLOT.connectFailures] = this.connectFailures;
    v[PEER_SLOT.timeouts] = this.timeouts;
    v[PEER_SLOT.retries] = this.retries;
    v[PEER_SLOT.checks] = this.checks;
    for (let i = 0; i < CLASS_SLOTS; i++) v[PEER_SLOT.responses + i] = this.responses[i]!;
    for (let i = 0; i < HISTOGRAM_SLOTS; i++) v[PEER_SLOT.responseTime + i] = this.responseTime.slots[i]!;
    return v;
  }
}

/**
 * A try on a peer ended (http: at the end of its request; stream: at the end of its session):
 * what it did goes to the peer's counters. A try that never connected is a connect failure unless
 * it timed out; `xxx` counts tries that got no response head from the peer (http only).
 */
export function accountAttempt(a: UpstreamAttempt, http: boolean, now: number, retried: boolean): void {
  const peer = a.peer;
  if (peer === null || a.accounted) return;
  a.accounted = true;
  const s = peer.stats;
  s.requests++;
  s.sentBytes += a.bytesSent;
  s.receivedBytes += a.bytesReceived;
  if (retried) s.retries++;
  if (a.timedOut) s.timeouts++;
  else if (a.connectMs < 0 && a.endMs >= 0) s.connectFailures++;
  if (http) s.countResponse(a.headerMs >= 0 || a.status === 101 ? classIndex(a.status) : 0);
  s.responseTime.observe((a.endMs >= 0 ? a.endMs : now - a.startMs) / 1000);
}

/** Every try of a request or session (see accountAttempt); a try followed by another was retried. */
export function accountAttempts(list: readonly UpstreamAttempt[], http: boolean, now: number = Date.now()): void {
  const n = list.length;
  if (n === 0) return;
  for (let i = 0; i < n; i++) accountAttempt(list[i]!, http, now, i < n - 1);
}

/** Element-wise a - b into a new array (a worker's delta since its last report). */
export function subtract(a: readonly number[], b: readonly number[] | undefined): number[] {
  if (b === undefined) return a.slice();
  const out = new Array<number>(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - (b[i] ?? 0);
  return out;
}

/** Element-wise into += d. */
export function addInto(into: number[], d: readonly number[]): void {
  for (let i = 0; i < d.length; i++) into[i] = (into[i] ?? 0) + d[i]!;
}
