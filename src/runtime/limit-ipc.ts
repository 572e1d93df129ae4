/**
 * limit_req / limit_conn zones and stub_status with worker processes (HACKING.md "Limits across
 * worker processes"). A zone is one zone, as nginx's shared memory: the primary (which serves no
 * traffic and outlives every worker and reload) keeps the zones in a LocalLimits, and a worker
 * asks it over the cluster IPC channel, the same channel the TLS session cache uses. A decision
 * is one message each way (answered by request id); giving back limit_conn holds is one message
 * with no answer. The primary counts each worker's holds, so a worker that dies gives its holds
 * back. A single process keeps LocalLimits in itself and pays no IPC.
 *
 * stub_status: the asking worker asks the primary, which asks every worker for its counters and
 * answers with the sum (a worker that does not answer within a second is left out).
 */
import type { LimitConnCheck } from '../core/limits/limit-conn.js';
import { CONN_ACQUIRED } from '../core/limits/limit-conn.js';
import { LIMIT_DECLINED, type LimitReqCheck, type LimitReqDecision } from '../core/limits/limit-req.js';
import { LocalLimits, limitClockMs, type ConnAnswer, type LimitService } from '../core/limits/service.js';
import { localCounts, sumCounts, type StatusCounts } from '../core/connection-stats.js';

/** What a worker asks the primary (part of WorkerMessage). */
export type LimitRequest =
  | { type: 'limitReq'; reqId: number; checks: LimitReqCheck[] }
  | { type: 'limitConn'; reqId: number; checks: LimitConnCheck[] }
  | { type: 'limitConnRelease'; checks: LimitConnCheck[] }
  | { type: 'statusGet'; reqId: number }
  /** A worker's own counters, for a collection the primary started. */
  | { type: 'statusCounts'; reqId: number; counts: StatusCounts };

/** What the primary says about limits (part of PrimaryMessage). */
export type LimitAnswer =
  | { type: 'limitReqAnswer'; reqId: number; decision: LimitReqDecision }
  | { type: 'limitConnAnswer'; reqId: number; answer: ConnAnswer }
  | { type: 'statusCollect'; reqId: number }
  | { type: 'status'; reqId: number; counts: StatusCounts };

interface Waiting {
  readonly done: (answer: never, arg: unknown) => void;
  readonly arg: unknown;
  /** When it was asked (the sweep answers `fallback` past DECISION_TIMEOUT_MS). */
  readonly askedMs: number;
  /** What a request gets when the primary does not answer in time. */
  readonly fallback: () => unknown;
  /** limit_conn's checks: a late "acquired" is given back at once. */
  readonly checks: readonly LimitConnCheck[] | null;
}

/**
 * How long a worker waits for the primary's decision. A primary that does not answer (stalled)
 * must not hold requests forever: past this, a limit lets the request through (it fails open,
 * logged once per sweep) and a late answer is reconciled (a limit_conn hold it granted goes back).
 */
const DECISION_TIMEOUT_MS = 3000;
const PASSED_UNDECIDED: LimitReqDecision = { outcome: LIMIT_DECLINED, excess: 0, index: 0, delayMs: 0 };

/** A worker's LimitService: every decision is the primary's. */
/** Timed-out limit_conn asks remembered for a late grant; past it the oldest are dropped. */
const MAX_LATE = 10_000;

export class WorkerLimits implements LimitService {
  readonly #send: (msg: LimitRequest) => void;
  readonly #waiting = new Map<number, Waiting>();
  /** limit_conn asks that timed out: a late grant is given back. */
  readonly #late = new Map<number, readonly LimitConnCheck[]>();
  /** Checks let through without a hold (the primary did not answer): nothing to give back. */
  readonly #unheld = new WeakSet<readonly LimitConnCheck[]>();
  #sweep: NodeJS.Timeout | null = null;
  #nextId = 1;
  readonly #onTimeout: (waited: number) => void;

  /** `onTimeout(n)`: n decisions were not answered in time (for the error log). */
  constructor(send: (msg: LimitRequest) => void, onTimeout: (waited: number) => void = () => {}) {
    this.#send = send;
    this.#onTimeout = onTimeout;
  }

  #wait(done: (answer: never, arg: unknown) => void, arg: unknown, fallback: () => unknown, checks: readonly LimitConnCheck[] | null = null): number {
    const reqId = this.#nextId++;
    this.#waiting.set(reqId, { done, arg, askedMs: Date.now(), fallback, checks });
    if (this.#sweep === null) {
      this.#sweep = setInterval(WorkerLimits.#sweepLate, DECISION_TIMEOUT_MS / 3, this);
      this.#sweep.unref();
    }
    return reqId;
  }

  limitReq<A>(checks: readonly LimitReqCheck[], done: (d: LimitReqDecision, arg: A) => void, arg: A): null {
    this.#send({ type: 'limitReq', reqId: this.#wait(done as (a: never, arg: unknown) => void, arg, () => PASSED_UNDECIDED), checks: [...checks] });
    return null;
  }

  acquireConn<A>(checks: readonly LimitConnCheck[], done: (a: ConnAnswer, arg: A) => void, arg: A): null {
    const fallback = (): ConnAnswer => {
      this.#unheld.add(checks);
      return { refused: CONN_ACQUIRED, zoneFull: false };
    };
    this.#send({ type: 'limitConn', reqId: this.#wait(done as (a: never, arg: unknown) => void, arg, fallback, checks), checks: [...checks] });
    return null;
  }

  releaseConn(checks: readonly LimitConnCheck[]): void {
    if (this.#unheld.has(checks)) return;
    this.#send({ type: 'limitConnRelease', checks: [...checks] });
  }

  /** stub_status's counts, summed by the primary over every worker (this worker's own when it does not answer). */
  counts(done: (c: StatusCounts) => void): null {
    this.#send({ type: 'statusGet', reqId: this.#wait(done as (a: never, arg: unknown) => void, null, localCounts) });
    return null;
  }

  /** Decisions past DECISION_TIMEOUT_MS get their fallback. */
  static #sweepLate(w: WorkerLimits): void {
    const cutoff = Date.now() - DECISION_TIMEOUT_MS;
    let late = 0;
    for (const [reqId, entry] of w.#waiting) {
      if (entry.askedMs > cutoff) continue;
      w.#waiting.delete(reqId);
      if (entry.checks !== null) {
        w.#late.set(reqId, entry.checks);
        // A primary that never answers must not grow this without end: the oldest are forgotten.
        if (w.#late.size > MAX_LATE) w.#late.delete(w.#late.keys().next().value!);
      }
      late++;
      (entry.done as (a: unknown, arg: unknown) => void)(entry.fallback(), entry.arg);
    }
    if (late > 0) w.#onTimeout(late);
    if (w.#waiting.size === 0 && w.#sweep !== null) {
      clearInterval(w.#sweep);
      w.#sweep = null;
    }
  }

  /** A message from the primary; false when it is not about limits. */
  answered(msg: { type: string }): boolean {
    const m = msg as LimitAnswer;
    switch (m.type) {
      case 'statusCollect':
        this.#send({ type: 'statusCounts', reqId: m.reqId, counts: localCounts() });
        return true;
      case 'limitReqAnswer':
        this.#settle(m.reqId, m.decision);
        return true;
      case 'limitConnAnswer':
        this.#settle(m.reqId, m.answer);
        return true;
      case 'status':
        this.#settle(m.reqId, m.counts);
        return true;
      default:
        return false;
    }
  }

  #settle(reqId: number, answer: unknown): void {
    const w = this.#waiting.get(reqId);
    if (w === undefined) {
      // Answered after its fallback: a hold the primary granted meanwhile goes back.
      const checks = this.#late.get(reqId);
      this.#late.delete(reqId);
      if (checks !== undefined && (answer as ConnAnswer).refused === CONN_ACQUIRED) this.#send({ type: 'limitConnRelease', checks: [...checks] });
      return;
    }
    this.#waiting.delete(reqId);
    (w.done as (a: unknown, arg: unknown) => void)(answer, w.arg);
  }
}

/** How long the primary waits for the workers' counters. */
const COLLECT_TIMEOUT_MS = 1000;

/** The primary's side: the zones, each worker's holds, stub_status collections. */
export class PrimaryLimits {
  readonly #zones = new LocalLimits();
  /** Holds per worker id: zone NUL key → count. */
  readonly #holds = new Map<number, Map<string, number>>();
  readonly #collections = new Map<number, { asker: number; askerReqId: number; counts: StatusCounts[]; left: number; timer: NodeJS.Timeout }>();
  #nextCollection = 1;

  /**
   * A worker's message (false when it is not about limits). `reply(workerId, msg)` sends to one
   * worker; `workers()` lists the ids to collect counters from.
   */
  handle(workerId: number, msg: { type: string }, reply: (workerId: number, answer: LimitAnswer) => void, workers: () => number[]): boolean {
    const m = msg as LimitRequest;
    switch (m.type) {
      case 'limitReq':
        reply(workerId, { type: 'limitReqAnswer', reqId: m.reqId, decision: this.#zones.req.decide(m.checks, limitClockMs()) });
        return true;
      case 'limitConn': {
        const answer = this.#zones.conn.acquire(m.checks);
        if (answer.refused === CONN_ACQUIRED) this.#note(workerId, m.checks, 1);
        reply(workerId, { type: 'limitConnAnswer', reqId: m.reqId, answer });
        return true;
      }
      case 'limitConnRelease':
        this.#zones.conn.release(m.checks);
        this.#note(workerId, m.checks, -1);
        return true;
      case 'statusGet':
        this.#collect(workerId, m.reqId, reply, workers());
        return true;
      case 'statusCounts': {
        const c = this.#collections.get(m.reqId);
        if (c !== undefined) {
          c.counts.push(m.counts);
          if (--c.left === 0) this.#finish(m.reqId, reply);
        }
        return true;
      }
      default:
        return false;
    }
  }

  #note(workerId: number, checks: readonly LimitConnCheck[], delta: number): void {
    let h = this.#holds.get(workerId);
    if (h === undefined) this.#holds.set(workerId, (h = new Map()));
    for (const c of checks) {
      if (c.key === '') continue;
      const k = `${c.zone}\0${c.key}`;
      const n = (h.get(k) ?? 0) + delta;
      if (n <= 0) h.delete(k);
      else h.set(k, n);
    }
  }

  /** A worker is gone: the holds it had go back. */
  workerGone(workerId: number): void {
    const h = this.#holds.get(workerId);
    this.#holds.delete(workerId);
    if (h === undefined) return;
    for (const [k, n] of h) {
      const nul = k.indexOf('\0');
      for (let i = 0; i < n; i++) this.#zones.conn.releaseKey(k.slice(0, nul), k.slice(nul + 1));
    }
  }

  #collect(asker: number, askerReqId: number, reply: (workerId: number, answer: LimitAnswer) => void, workers: number[]): void {
    const reqId = this.#nextCollection++;
    const timer = setTimeout(() => this.#finish(reqId, reply), COLLECT_TIMEOUT_MS);
    timer.unref();
    this.#collections.set(reqId, { asker, askerReqId, counts: [], left: workers.length, timer });
    for (const id of workers) reply(id, { type: 'statusCollect', reqId });
    if (workers.length === 0) this.#finish(reqId, reply);
  }

  #finish(reqId: number, reply: (workerId: number, answer: LimitAnswer) => void): void {
    const c = this.#collections.get(reqId);
    if (c === undefined) return;
    this.#collections.delete(reqId);
    clearTimeout(c.timer);
    reply(c.asker, { type: 'status', reqId: c.askerReqId, counts: sumCounts(c.counts) });
  }
}
