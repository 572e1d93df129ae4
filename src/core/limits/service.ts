/**
 * Where a process's limit_req / limit_conn zones are: here (LocalLimits: a single-process tsproxy,
 * and the primary for its workers), or in the primary (runtime/limit-ipc.ts WorkerLimits). The
 * engines (http, stream) call a LimitService and do not know which: a local one answers at once
 * (the return value), a remote one returns null and calls `done(answer, arg)` when the primary
 * answered. `arg` is the caller's request or session, so no closure is made per call.
 */
import { LimitConnZones, type LimitConnCheck } from './limit-conn.js';
import { LimitReqZones, type LimitReqCheck, type LimitReqDecision } from './limit-req.js';

/** limit_conn's answer: -1 (CONN_ACQUIRED) or the index of the limit that refused. */
export interface ConnAnswer {
  readonly refused: number;
  readonly zoneFull: boolean;
}

export interface LimitService {
  limitReq<A>(checks: readonly LimitReqCheck[], done: (d: LimitReqDecision, arg: A) => void, arg: A): LimitReqDecision | null;
  acquireConn<A>(checks: readonly LimitConnCheck[], done: (a: ConnAnswer, arg: A) => void, arg: A): ConnAnswer | null;
  releaseConn(checks: readonly LimitConnCheck[]): void;
}

/** nginx's clock for the leaky bucket: integer milliseconds, monotonic. */
export function limitClockMs(): number {
  return Math.floor(performance.now());
}

/** Zones kept in this process (outlive reloads: the runtime keeps one). */
export class LocalLimits implements LimitService {
  readonly req = new LimitReqZones();
  readonly conn = new LimitConnZones();

  limitReq<A>(checks: readonly LimitReqCheck[]): LimitReqDecision {
    return this.req.decide(checks, limitClockMs());
  }

  acquireConn<A>(checks: readonly LimitConnCheck[]): ConnAnswer {
    return this.conn.acquire(checks);
  }

  releaseConn(checks: readonly LimitConnCheck[]): void {
    this.conn.release(checks);
  }
}

/** Bytes nginx's slab spends per key (rbtree node + counters + key, rounded to its 128-byte slots). */
const ENTRY_BYTES = 128;

/** How many keys a zone of `sizeBytes` holds. */
export function zoneEntries(sizeBytes: number): number {
  return Math.max(1, Math.floor(sizeBytes / ENTRY_BYTES));
}
