/**
 * Fetches in progress per key, for every worker process of a zone: nginx's `updating` flag of a
 * cache node, kept on disk (HACKING.md "proxy_cache", decision: lock files, not the primary).
 *
 * The request that fetches a key to store it owns `<entry>.lock`, created with O_EXCL (exactly
 * one creator in any process) and removed when its writer commits, aborts or decides not to
 * store. An EXPIRED request that finds another's lock answers with the entry under
 * proxy_cache_use_stale updating (UPDATING); a MISS that finds one younger than
 * proxy_cache_lock_age waits (CacheLockWait) until the lock is gone, then looks again (HIT), at
 * most proxy_cache_lock_timeout. A lock older than the age that applies is taken over by one
 * request: it renames the lock away (rename moves one file once, so one of several racing
 * takers gets it) and checks it removed the old lock, not a fresh one.
 *
 * CacheZone.fills is this process's view of the locks: the fills it owns (its waiters wake as
 * soon as the fill ends) and the fills of other processes some request here waits for (one
 * stat of the lock per POLL_MS per key, however many wait; nginx polls every 500 ms). A lookup
 * finding a young fill in the map costs no system call.
 */
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, renameSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { LocationPlan } from '../plan.js';
import { BODY_NONE, type HttpRequest } from '../request.js';
import type { Exchange } from '../transport.js';
import { unlinkQuietly } from './entry.js';
import type { CachePlan, CacheZone, Fill } from './plan.js';

/** How often a process looks whether another process's fill ended, while requests wait for it. */
const POLL_MS = 100;

/**
 * Make this request the fetcher of `key` (whose lock file is `lock`), unless another request (of
 * any process) fetches it since less than `maxAgeMs`: then that fill, and this request owns
 * nothing. null: this request owns the fill now (FillOptions.fill, ended by `endFill`).
 */
export function claimFill(zone: CacheZone, key: string, lock: string, maxAgeMs: number): { busy: Fill | null; own: Fill | null } {
  const now = Date.now();
  const known = zone.fills.get(key);
  if (known !== undefined && now - known.sinceMs < maxAgeMs) return { busy: known, own: null };
  for (let attempt = 0; attempt < 3; attempt++) {
    const created = createLock(lock);
    if (created !== null) return { busy: null, own: own(zone, key, lock, created) };
    const st = statQuietly(lock);
    if (st === undefined) continue; // removed meanwhile: try again
    if (now - st.mtimeMs < maxAgeMs) return { busy: watch(zone, key, lock, st.mtimeMs), own: null };
    if (!takeOver(zone, lock, st.ino, st.mtimeMs)) return { busy: watch(zone, key, lock, Date.now()), own: null };
  }
  // The lock keeps coming and going (or cannot be made): fetch without one.
  return { busy: null, own: null };
}

/** The fill `fill` of `key` ended (stored or not): its lock goes, its waiters look the key up again, after this event. */
export function endFill(zone: CacheZone, key: string, fill: Fill): void {
  if (fill.lockIno !== 0) {
    // Only the lock this fill made: one taken over since (past lock_age) is another's.
    const st = statQuietly(fill.lock);
    if (st !== undefined && st.ino === fill.lockIno && st.mtimeMs === fill.lockMtimeMs) unlinkQuietly(fill.lock);
  }
  if (zone.fills.get(key) !== fill) return;
  zone.fills.delete(key);
  wake(fill);
}

/** Whether a request may wait for another's fill (its body would be lost while it waits). */
export function mayWait(r: HttpRequest): boolean {
  return r.body === BODY_NONE;
}

/** O_EXCL: the lock's ino and mtime when this call made it, null when it exists already (or cannot be made). */
function createLock(lock: string): { ino: number; mtimeMs: number } | null {
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null;
    try {
      mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
      fd = openSync(lock, 'wx', 0o600);
    } catch {
      return null;
    }
  }
  try {
    const st = fstatSync(fd);
    return { ino: st.ino, mtimeMs: st.mtimeMs };
  } catch {
    return { ino: 0, mtimeMs: 0 };
  } finally {
    closeSync(fd);
  }
}

/**
 * Remove the lock whose ino and mtime were seen (too old). True when it is gone (removed by this
 * call or before it); false when the lock there now is a fresh one (another request took over
 * first), which stays.
 */
function takeOver(zone: CacheZone, lock: string, ino: number, mtimeMs: number): boolean {
  const aside = `${lock}.${process.pid}.${++zone.tempSerial}.tmp`;
  try {
    renameSync(lock, aside);
  } catch {
    return true; // someone removed it first
  }
  const st = statQuietly(aside);
  if (st !== undefined && (st.ino !== ino || st.mtimeMs !== mtimeMs)) {
    // A fresh lock moved by mistake: back where it was (unless yet another was made meanwhile).
    try {
      linkSync(aside, lock);
    } catch {
      // another lock is there: it stands
    }
    unlinkQuietly(aside);
    return false;
  }
  unlinkQuietly(aside);
  return true;
}

function own(zone: CacheZone, key: string, lock: string, created: { ino: number; mtimeMs: number }): Fill {
  const known = zone.fills.get(key);
  // A fill taken over keeps its waiters (they wait for whoever fetches the key).
  const fill: Fill = { sinceMs: Date.now(), waiters: known?.waiters ?? [], lock, lockIno: created.ino, lockMtimeMs: created.mtimeMs, poll: null };
  if (known?.poll) clearInterval(known.poll);
  zone.fills.set(key, fill);
  return fill;
}

/** Another process's fill, watched from here while requests of this process wait for it. */
function watch(zone: CacheZone, key: string, lock: string, sinceMs: number): Fill {
  const known = zone.fills.get(key);
  if (known !== undefined && known.lockIno === 0) {
    known.sinceMs = sinceMs;
    return known;
  }
  const fill: Fill = { sinceMs, waiters: known?.waiters ?? [], lock, lockIno: 0, lockMtimeMs: 0, poll: null };
  fill.poll = setInterval(poll, POLL_MS, zone, key, fill);
  fill.poll.unref();
  zone.fills.set(key, fill);
  return fill;
}

/** The watched lock is gone (or nobody here waits any more): the waiters look again. */
function poll(zone: CacheZone, key: string, fill: Fill): void {
  if (fill.waiters.length > 0 && statQuietly(fill.lock) !== undefined) return;
  clearInterval(fill.poll!);
  fill.poll = null;
  if (zone.fills.get(key) === fill) zone.fills.delete(key);
  wake(fill);
}

/** The file's stat, undefined when it is not there or cannot be read (a disk problem must not fail the request). */
function statQuietly(file: string): Stats | undefined {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function wake(fill: Fill): void {
  // A copy: each waiter takes itself out of the list as it wakes.
  if (fill.waiters.length > 0) setImmediate(() => { for (const w of fill.waiters.slice()) w(); });
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
