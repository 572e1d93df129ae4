/**
 * check_status with worker processes (HACKING.md "Status across worker processes"): the primary
 * owns the totals. Every STATUS_POLL_MS it asks each worker for the growth of its counters since
 * its last report (core/status/aggregate.ts), so a worker that dies loses at most that much; a
 * status fetch in any worker asks the primary, which polls every worker once more (waiting at
 * most COLLECT_TIMEOUT_MS), merges the totals with the workers' gauges and its own health checks,
 * and sends the merged sample and its history back; the asking worker renders it with its config.
 * Every fetch from every worker therefore shows the same totals, and they never go backwards.
 */
import { ReportedCounters, StatusTotals, type StatusReport } from '../core/status/aggregate.js';
import type { StatusHistory, StatusSource } from '../core/status/document.js';
import type { LocalStatus } from '../core/status/local.js';
import type { PeerHealthSample, StatusSample } from '../core/status/sample.js';
import { memoryFigures } from '../core/status/sample.js';
import { StatusRegistry } from '../core/status/registry.js';
import { HISTORY_INTERVAL_MS } from '../core/status/history.js';

/** What a worker says about status (part of WorkerMessage). */
export type StatusRequest =
  | { type: 'statusDocGet'; reqId: number }
  /** Its counters' growth since its last report; reqId 0 for the primary's timer poll. */
  | { type: 'statusReport'; reqId: number; sample: StatusReport };

/** What the primary says about status (part of PrimaryMessage). */
export type StatusAnswer =
  | { type: 'statusPoll'; reqId: number }
  | { type: 'statusDoc'; reqId: number; sample: StatusSample; history: StatusHistory; serverRates: Record<string, number> };

/** How often the primary takes the workers' counters (what a worker that dies may lose). */
export const STATUS_POLL_MS = 2500;
const COLLECT_TIMEOUT_MS = 1000;
/** A worker waits this long for the primary's document, then answers with its own counters. */
const ASK_TIMEOUT_MS = 3000;

/** A worker's side: reports its counters when polled, asks the primary for the document. */
export class WorkerStatus {
  readonly #send: (msg: StatusRequest) => void;
  readonly #reported = new ReportedCounters();
  readonly #waiting = new Map<number, { done: Parameters<StatusSource>[0]; timer: NodeJS.Timeout }>();
  #nextId = 1;
  /** This worker's LocalStatus (set once its Runtime started). */
  local: LocalStatus | null = null;

  constructor(send: (msg: StatusRequest) => void) {
    this.#send = send;
  }

  /** The site's StatusSource: the primary's merged document. */
  readonly source: StatusSource = (done) => {
    const reqId = this.#nextId++;
    const timer = setTimeout(() => {
      this.#waiting.delete(reqId);
      // the primary did not answer: this worker's own counters are better than nothing
      if (this.local !== null) done(this.local.document());
    }, ASK_TIMEOUT_MS);
    timer.unref();
    this.#waiting.set(reqId, { done, timer });
    this.#send({ type: 'statusDocGet', reqId });
  };

  /** A message from the primary; false when it is not about status. */
  answered(msg: { type: string }): boolean {
    const m = msg as StatusAnswer;
    switch (m.type) {
      case 'statusPoll':
        if (this.local !== null) this.#send({ type: 'statusReport', reqId: m.reqId, sample: this.#reported.delta(this.local.sample()) });
        return true;
      case 'statusDoc': {
        const w = this.#waiting.get(m.reqId);
        if (w === undefined || this.local === null) return true;
        this.#waiting.delete(m.reqId);
        clearTimeout(w.timer);
        const rates = m.serverRates;
        w.done(this.local.document(m.sample, m.history, (key) => rates[key] ?? 0));
        return true;
      }
      default:
        return false;
    }
  }
}

interface Collection {
  left: Set<number>;
  timer: NodeJS.Timeout;
  then: () => void;
}

/** The primary's side: the totals, the polls, the history, the reload record. */
export class PrimaryStatus {
  readonly registry = new StatusRegistry();
  readonly #totals = new StatusTotals();
  readonly #collections = new Map<number, Collection>();
  readonly #workers: number;
  readonly #health: () => ReadonlyMap<string, PeerHealthSample>;
  #nextId = 1;
  #timer: NodeJS.Timeout | null = null;
  #lastHistoryMs = 0;

  /** `workers`: worker_processes as configured; `health`: the primary's checked peers by registry key. */
  constructor(workers: number, health: () => ReadonlyMap<string, PeerHealthSample>) {
    this.#workers = workers;
    this.#health = health;
  }

  /** Poll every STATUS_POLL_MS; the history takes a point every HISTORY_INTERVAL_MS. */
  start(send: (workerId: number, msg: StatusAnswer) => void, workers: () => number[]): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => this.#collect(send, workers(), () => {
      const now = Date.now();
      if (now - this.#lastHistoryMs < HISTORY_INTERVAL_MS - STATUS_POLL_MS / 2) return;
      this.#lastHistoryMs = now;
      this.registry.history.record(this.#merged(workers().length, now));
    }), STATUS_POLL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const c of this.#collections.values()) clearTimeout(c.timer);
    this.#collections.clear();
  }

  /** A worker's message (false when it is not about status). */
  handle(workerId: number, msg: { type: string }, send: (workerId: number, msg: StatusAnswer) => void, workers: () => number[]): boolean {
    const m = msg as StatusRequest;
    switch (m.type) {
      case 'statusDocGet': {
        const live = workers();
        this.#collect(send, live, () => {
          const history = this.registry.history;
          const serverRates: Record<string, number> = {};
          const sample = this.#merged(live.length, Date.now());
          for (const key of Object.keys(sample.servers)) serverRates[key] = history.serverRate(key);
          send(workerId, { type: 'statusDoc', reqId: m.reqId, sample, history: history.view(), serverRates });
        });
        return true;
      }
      case 'statusReport': {
        this.#totals.add(workerId, m.sample);
        const c = this.#collections.get(m.reqId);
        if (c !== undefined) {
          c.left.delete(workerId);
          if (c.left.size === 0) this.#finish(m.reqId);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** A worker exited: its gauges go; what it reported stays counted. */
  workerGone(workerId: number): void {
    this.#totals.workerGone(workerId);
    for (const [id, c] of this.#collections) {
      if (c.left.delete(workerId) && c.left.size === 0) this.#finish(id);
    }
  }

  #collect(send: (workerId: number, msg: StatusAnswer) => void, workers: number[], then: () => void): void {
    const reqId = this.#nextId++;
    const timer = setTimeout(() => this.#finish(reqId), COLLECT_TIMEOUT_MS);
    timer.unref();
    this.#collections.set(reqId, { left: new Set(workers), timer, then });
    for (const id of workers) send(id, { type: 'statusPoll', reqId });
    if (workers.length === 0) this.#finish(reqId);
  }

  #finish(reqId: number): void {
    const c = this.#collections.get(reqId);
    if (c === undefined) return;
    this.#collections.delete(reqId);
    clearTimeout(c.timer);
    c.then();
  }

  #merged(running: number, now: number): StatusSample {
    const r = this.registry;
    return this.#totals.merge(
      { pid: process.pid, startedAtMs: r.startedAtMs, workers: this.#workers, workersRunning: running, ...r.reload },
      memoryFigures(),
      this.#health(),
      now,
    );
  }
}
