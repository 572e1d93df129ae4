/**
 * The counters of http server blocks, stream servers and listening sockets (the status document's
 * `servers` and `streamServers`). Kept by the runtime's StatusRegistry (registry.ts) by a key of
 * the block's name and listens, so a reload keeps them for blocks that stay. Plain increments at
 * the end of a request / session; the flat `values()` form is what workers report to the primary.
 */
import { CLASS_SLOTS, HISTOGRAM_SLOTS, LatencyHistogram, NO_CLASSES, classIndex } from '../../upstream/stats.js';

/** Flat layout of ServerStats.values(). */
export const SERVER_SLOT = { requests: 0, receivedBytes: 1, sentBytes: 2, responses: 3, requestTime: 3 + CLASS_SLOTS } as const;
export const SERVER_SLOTS = SERVER_SLOT.requestTime + HISTOGRAM_SLOTS;

/** One http `server {}` block's requests. */
export class ServerStats {
  requests = 0;
  /** Requests of this block in progress (a gauge). */
  writing = 0;
  receivedBytes = 0;
  sentBytes = 0;
  #responses: Float64Array | null = null;
  readonly requestTime = new LatencyHistogram();

  /** Responses by class (classIndex). Read-only: shared zeros until the first one (upstream/stats.ts NO_CLASSES). */
  get responses(): Float64Array {
    return this.#responses ?? NO_CLASSES;
  }

  /** A request this block answered ended: `status` 0 when nothing was sent (client gone, 444). */
  requestEnded(status: number, receivedBytes: number, sentBytes: number, seconds: number): void {
    this.requests++;
    this.receivedBytes += receivedBytes;
    this.sentBytes += sentBytes;
    // 444 closes without a response: counted with the requests that got none
    (this.#responses ??= new Float64Array(CLASS_SLOTS))[status === 444 ? 0 : classIndex(status)]!++;
    this.requestTime.observe(seconds);
  }

  values(): number[] {
    const v = new Array<number>(SERVER_SLOTS).fill(0);
    v[SERVER_SLOT.requests] = this.requests;
    v[SERVER_SLOT.receivedBytes] = this.receivedBytes;
    v[SERVER_SLOT.sentBytes] = this.sentBytes;
    for (let i = 0; i < CLASS_SLOTS; i++) v[SERVER_SLOT.responses + i] = this.responses[i]!;
    for (let i = 0; i < HISTOGRAM_SLOTS; i++) v[SERVER_SLOT.requestTime + i] = this.requestTime.slots[i]!;
    return v;
  }
}

/** Flat layout of StreamServerStats.values(). */
export const STREAM_SLOT = { sessions: 0, receivedBytes: 1, sentBytes: 2, tlsHandshakes: 3, tlsFailures: 4 } as const;
export const STREAM_SLOTS = 5;

/** One stream `server {}` block's sessions. */
export class StreamServerStats {
  sessions = 0;
  active = 0;
  receivedBytes = 0;
  sentBytes = 0;
  /** TLS on its `ssl` listens, counted once the session's server is known. */
  tlsHandshakes = 0;
  tlsFailures = 0;

  values(): number[] {
    return [this.sessions, this.receivedBytes, this.sentBytes, this.tlsHandshakes, this.tlsFailures];
  }
}

/** Flat layout of CacheZoneStats.values(). */
export const CACHE_SLOT = { hits: 0, misses: 1 } as const;

/**
 * One proxy_cache zone (kept across reloads by its name): lookups answered from the cache (HIT,
 * STALE, UPDATING, REVALIDATED) and not (MISS, EXPIRED, BYPASS), counted per request at its log;
 * entries and bytes on disk as the zone's manager found them at its last sweep (gauges: every
 * worker sweeps the same directory).
 */
export class CacheZoneStats {
  hits = 0;
  misses = 0;
  entries = 0;
  sizeBytes = 0;

  /** A request's $upstream_cache_status. */
  count(status: string): void {
    if (status === 'HIT' || status === 'STALE' || status === 'UPDATING' || status === 'REVALIDATED') this.hits++;
    else if (status === 'MISS' || status === 'EXPIRED' || status === 'BYPASS') this.misses++;
  }

  values(): number[] {
    return [this.hits, this.misses];
  }
}

/** Flat layout of ListenStats.values(). */
export const LISTEN_SLOT = { accepted: 0, tlsHandshakes: 1, tlsFailures: 2 } as const;
export const LISTEN_SLOTS = 3;

/** One listening socket (kept across reloads with its socket): connections accepted and open, TLS. */
export class ListenStats {
  accepted = 0;
  active = 0;
  /** Gauge: HTTP/1 connections reading a head that came in pieces (stub_status's Reading, per listen). */
  reading = 0;
  tlsHandshakes = 0;
  tlsFailures = 0;

  values(): number[] {
    return [this.accepted, this.tlsHandshakes, this.tlsFailures];
  }
}
