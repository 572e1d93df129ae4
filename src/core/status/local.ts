/**
 * The status of one process (a single-process proxy, or a worker asked by the primary): samples
 * its live counters, records the history every HISTORY_INTERVAL_MS, and answers a StatusSource
 * at once. With worker processes the site's StatusSource asks the primary instead (runtime/
 * status-ipc.ts), which merges every worker's sample; this class then only samples.
 */
import type { UpstreamGroup } from '../../upstream/group.js';
import type { HttpServerConfig } from '../../config/types.js';
import type { StreamServerConfig } from '../../config/stream-types.js';
import type { CacheZoneConfig } from '../../config/cache-types.js';
import { buildStatusDocument, type StatusStructure } from './build.js';
import type { RedisStatus, StatusDocument, StatusHistory, StatusSource } from './document.js';
import { HISTORY_INTERVAL_MS } from './history.js';
import { StatusRegistry } from './registry.js';
import { historyTotalsLocal, sampleLocal, type StatusSample } from './sample.js';

/** What the process is serving now (the runtime's current snapshot). */
export interface ServingView {
  groups(): readonly UpstreamGroup[];
  httpServers(): readonly HttpServerConfig[];
  streamServers(): readonly StreamServerConfig[];
  cacheZones(): readonly CacheZoneConfig[];
  /** The `redis` blocks' state (issue 17); absent: none. */
  redis?(): readonly RedisStatus[];
}

export class LocalStatus {
  readonly registry: StatusRegistry;
  readonly #view: ServingView;
  /** worker_processes as configured (1 in a single process). */
  workers = 1;
  #timer: NodeJS.Timeout | null = null;

  constructor(view: ServingView, registry: StatusRegistry = new StatusRegistry()) {
    this.#view = view;
    this.registry = registry;
  }

  sample(now: number = Date.now()): StatusSample {
    const r = this.registry;
    return sampleLocal({
      groups: () => this.#view.groups(),
      servers: () => r.servers(),
      streams: () => r.streams(),
      listens: () => r.listens(),
      caches: () => r.caches(),
      process: () => ({ pid: process.pid, startedAtMs: r.startedAtMs, workers: this.workers, workersRunning: this.workers, ...r.reload }),
    }, now);
  }

  /** The document from `sample` (this process's by default), with this process's view of the config. */
  document(sample: StatusSample = this.sample(), history: StatusHistory = this.registry.history.view(), serverRate?: (key: string) => number): StatusDocument {
    return buildStatusDocument(this.structure(serverRate), sample, history);
  }

  structure(serverRate: (key: string) => number = (key) => this.registry.history.serverRate(key)): StatusStructure {
    const redis = this.#view.redis?.();
    return {
      groups: this.#view.groups(), httpServers: this.#view.httpServers(), streamServers: this.#view.streamServers(), cacheZones: this.#view.cacheZones(), serverRate,
      ...(redis === undefined ? {} : { redis }),
    };
  }

  /** This process answers itself. */
  readonly source: StatusSource = (done) => done(this.document());

  /** Record the history every HISTORY_INTERVAL_MS (a single process; with workers the primary does). */
  startHistory(): void {
    if (this.#timer !== null) return;
    const record = (): void => this.registry.history.recordTotals(historyTotalsLocal(this.#view.groups(), this.registry.servers()));
    record();
    this.#timer = setInterval(record, HISTORY_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
