/**
 * Fetches in progress per key in this process (CacheZone.fills), nginx's `updating` flag of a
 * cache node: an EXPIRED request marks its key (proxy_cache_use_stale updating answers others
 * with the entry meanwhile), and with proxy_cache_lock a MISS does too, while later misses of the
 * key wait for it (CacheLockWait) up to proxy_cache_lock_timeout.
 */
import type { LocationPlan } from '../plan.js';
import { BODY_NONE, type HttpRequest } from '../request.js';
import type { Exchange } from '../transport.js';
import type { CachePlan, CacheZone, Fill } from './plan.js';

/** The fill of `key` started less than `maxAgeMs` ago, else null. */
export function activeFill(zone: CacheZone, key: string, maxAgeMs: number): Fill | null {
  const fill = zone.fills.get(key);
  return fill === undefined || Date.now() - fill.sinceMs >= maxAgeMs ? null : fill;
}

/** This request fetches `key` now (a fill older than lock_age is taken over, its waiters kept). */
export function startFill(zone: CacheZone, key: string): void {
  const old = zone.fills.get(key);
  if (old !== undefined) old.sinceMs = Date.now();
  else zone.fills.set(key, { sinceMs: Date.now(), waiters: [] });
}

/** The fetch of `key` ended (stored or not): its waiters look the key up again, after this event. */
export function endFill(zone: CacheZone, key: string): void {
  const fill = zone.fills.get(key);
  if (fill === undefined) return;
  zone.fills.delete(key);
  // A copy: each waiter takes itself out of the list as it wakes.
  if (fill.waiters.length > 0) setImmediate(() => { for (const wake of fill.waiters.slice()) wake(); });
}

/** Whether a request may wait for another's fill (its body would be lost while it waits). */
export function mayWait(r: HttpRequest): boolean {
  return r.body === BODY_NONE;
}

export type Restart = (r: HttpRequest, plan: LocationPlan, cache: CachePlan, deadlineMs: number) => Exchange & { start(): void };

/** LOCK_TIMED_OUT as a deadline: the request goes upstream and does not store (nginx after proxy_cache_lock_timeout). */
export const LOCK_TIMED_OUT = -1;

/** A request waiting for another's fill of its key: then the lookup runs again (HIT, or its turn). */
export class CacheLockWait implements Exchange {
  readonly bodyDone = true;
  readonly #r: HttpRequest;
  readonly #plan: LocationPlan;
  readonly #cache: CachePlan;
  readonly #fill: Fill;
  readonly #deadlineMs: number;
  readonly #restart: Restart;
  readonly #wake = (): void => this.#again(this.#deadlineMs);
  #timer: NodeJS.Timeout | null = null;
  #done = false;

  constructor(r: HttpRequest, plan: LocationPlan, cache: CachePlan, fill: Fill, deadlineMs: number, restart: Restart) {
    this.#r = r;
    this.#plan = plan;
    this.#cache = cache;
    this.#fill = fill;
    this.#deadlineMs = deadlineMs;
    this.#restart = restart;
  }

  start(): void {
    this.#fill.waiters.push(this.#wake);
    this.#timer = setTimeout(() => this.#again(LOCK_TIMED_OUT), Math.max(0, this.#deadlineMs - Date.now()));
  }

  clientData(chunk: Buffer): number {
    return chunk.length;
  }

  clientDrain(): void {}

  clientClosed(): void {
    if (this.#done) return;
    this.#stop();
    if (this.#r.status === 0) this.#r.status = 499;
  }

  #stop(): void {
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const i = this.#fill.waiters.indexOf(this.#wake);
    if (i >= 0) this.#fill.waiters.splice(i, 1);
  }

  #again(deadlineMs: number): void {
    if (this.#done) return;
    this.#stop();
    const r = this.#r;
    const ex = this.#restart(r, this.#plan, this.#cache, deadlineMs);
    r.transport.exchange = ex;
    ex.start();
  }
}
