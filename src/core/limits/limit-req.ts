/**
 * limit_req's zones and nginx's leaky bucket (ngx_http_limit_req_module, 1.22), written once for
 * every process model: a single-process tsproxy decides in place, a worker asks the primary,
 * which runs this same code over its zones (runtime/limit-ipc.ts).
 *
 * Arithmetic as nginx: a rate is requests per second x 1000 (`r/m` divided by 60, truncated), an
 * entry's `excess` is in 1/1000 requests, time in integer milliseconds. A request finds its entry
 * (per zone, per key) and computes `excess = old - rate * ms / 1000 + 1000` (not below 0); above
 * `burst` it is rejected and changes nothing; else the last limit of the location records it, and
 * the earlier ones (which nginx only looks up first) record it after the decision. The delay is
 * the largest `(excess - delay) * 1000 / rate` over the limits.
 */

/** One limit_req of a location, as the decision needs it (numbers in nginx's units). */
export interface LimitReqCheck {
  /** The zone's name (limit_req_zone zone=name:size). */
  readonly zone: string;
  /** Entries the zone holds at most (from its size). */
  readonly maxEntries: number;
  /** Requests per second x 1000. */
  readonly rate: number;
  /** burst x 1000. */
  readonly burst: number;
  /** delay= x 1000; nodelay is "no delay up to any excess". */
  readonly delay: number;
  /** The key's value for this request ('' = not limited by this zone). */
  readonly key: string;
}

export const LIMIT_PASSED = 0;
export const LIMIT_DELAYED = 1;
export const LIMIT_REJECTED = 2;
/** No limit applied (every key was empty). */
export const LIMIT_DECLINED = 3;

export interface LimitReqDecision {
  readonly outcome: typeof LIMIT_PASSED | typeof LIMIT_DELAYED | typeof LIMIT_REJECTED | typeof LIMIT_DECLINED;
  /** The excess logged (1/1000 requests). */
  readonly excess: number;
  /** Index of the check the log line names. */
  readonly index: number;
  /** How long the request waits (ms), for LIMIT_DELAYED. */
  readonly delayMs: number;
}

/** nodelay: nginx sets delay to NGX_MAX_INT_T_VALUE / 1000. */
export const NO_DELAY = Number.MAX_SAFE_INTEGER;

interface Bucket {
  excess: number;
  last: number;
}

/** nginx expires an entry that has been idle for a minute (and is within its rate). */
const IDLE_EXPIRY_MS = 60_000;

/** A limit_req_zone: key → bucket, least recently used first (Map order is re-insertion order). */
export class LimitReqZone {
  readonly #buckets = new Map<string, Bucket>();

  get size(): number {
    return this.#buckets.size;
  }

  /** nginx's lookup: the excess this request would have; touches the entry (LRU). */
  find(key: string): Bucket | undefined {
    const b = this.#buckets.get(key);
    if (b !== undefined) {
      this.#buckets.delete(key);
      this.#buckets.set(key, b);
    }
    return b;
  }

  /** A new entry; when the zone is full the least recently used ones go (nginx's forced expiry). */
  add(key: string, now: number, maxEntries: number, rate: number): Bucket {
    this.#expire(now, rate, maxEntries);
    const b = { excess: 0, last: now };
    this.#buckets.set(key, b);
    return b;
  }

  /** nginx's ngx_http_limit_req_expire: idle entries that have drained go; a full zone loses its oldest. */
  #expire(now: number, rate: number, maxEntries: number): void {
    let n = 0;
    for (const [key, b] of this.#buckets) {
      // nginx looks at no more than 3 entries per new one (1 or 2 unless the zone is full).
      if (n++ >= 3 && this.#buckets.size < maxEntries) return;
      if (this.#buckets.size >= maxEntries) {
        this.#buckets.delete(key);
        continue;
      }
      const ms = now - b.last;
      if (ms < IDLE_EXPIRY_MS || b.excess - Math.trunc((rate * ms) / 1000) > 0) return;
      this.#buckets.delete(key);
    }
  }
}

/** The zones of a process (a single tsproxy, or the primary for its workers); kept across reloads. */
export class LimitReqZones {
  readonly #zones = new Map<string, LimitReqZone>();

  zone(name: string): LimitReqZone {
    let z = this.#zones.get(name);
    if (z === undefined) this.#zones.set(name, (z = new LimitReqZone()));
    return z;
  }

  /** ngx_http_limit_req_handler's decision for the limits of one request, at `now` (ms). */
  decide(checks: readonly LimitReqCheck[], now: number): LimitReqDecision {
    const last = checks.length - 1;
    let excess = 0;
    let found = false;
    // Lookup: every zone is looked at (a new entry is made, at excess 0); the last one records the request.
    for (let i = 0; i <= last; i++) {
      const c = checks[i]!;
      if (c.key === '') continue;
      found = true;
      const z = this.zone(c.zone);
      const b = z.find(c.key);
      if (b === undefined) {
        z.add(c.key, now, c.maxEntries, c.rate);
        excess = 0;
        continue;
      }
      excess = excessAt(b, c.rate, now);
      if (excess > c.burst) return { outcome: LIMIT_REJECTED, excess, index: i, delayMs: 0 };
      if (i === last) record(b, excess, now);
    }
    if (!found) return DECLINED;
    // Accounting (ngx_http_limit_req_account): the limits before the last record the request now.
    let index = last;
    let from = last - 1;
    let delayMs = 0;
    const l = checks[last]!;
    if (l.key === '') {
      excess = 0;
      from = last;
    } else if (excess > l.delay) {
      delayMs = Math.trunc(((excess - l.delay) * 1000) / l.rate);
    }
    for (let i = from; i >= 0; i--) {
      const e = checks[i]!;
      if (e.key === '') continue;
      const z = this.zone(e.zone);
      const b = z.find(e.key) ?? z.add(e.key, now, e.maxEntries, e.rate);
      const x = excessAt(b, e.rate, now);
      record(b, x, now);
      if (x <= e.delay) continue;
      const d = Math.trunc(((x - e.delay) * 1000) / e.rate);
      if (d > delayMs) {
        delayMs = d;
        excess = x;
        index = i;
      }
    }
    return { outcome: delayMs > 0 ? LIMIT_DELAYED : LIMIT_PASSED, excess, index, delayMs };
  }
}

const DECLINED: LimitReqDecision = { outcome: LIMIT_DECLINED, excess: 0, index: -1, delayMs: 0 };

function excessAt(b: Bucket, rate: number, now: number): number {
  let ms = now - b.last;
  // nginx: a clock that went back more than a minute counts as 1 ms, less as none.
  if (ms < -60_000) ms = 1;
  else if (ms < 0) ms = 0;
  const excess = b.excess - Math.trunc((rate * ms) / 1000) + 1000;
  return excess < 0 ? 0 : excess;
}

function record(b: Bucket, excess: number, now: number): void {
  b.excess = excess;
  if (now !== b.last) b.last = now;
}

/** nginx's way of printing an excess: "2.970". */
export function formatExcess(excess: number): string {
  return `${Math.trunc(excess / 1000)}.${String(excess % 1000).padStart(3, '0')}`;
}
