/**
 * The status document (issue 16): what `check_status` shows, one data model for the HTML page,
 * `?format=json` (this shape, documented in the README) and Prometheus. Counters are totals since
 * the process group started (kept across reloads for peers, servers and listeners that stay; with
 * worker processes the primary owns the totals, so every fetch from every worker agrees and no
 * counter goes backwards). Gauges (active connections, state) are current values, summed over
 * workers. Field names are stable: add fields, never rename them (bump `schema` if one must go).
 *
 * Times are ISO strings (`...At`), durations milliseconds (`...Ms`), sizes bytes (`...Bytes`).
 */

/** Bump only when a field is removed or changes meaning. */
export const STATUS_SCHEMA = 2;

/**
 * Responses by status class; `xxx` counts requests that ended without a response (client gone,
 * 444), and for a peer the tries that got no response head from it (connect failure, timeout).
 */
export interface ResponseClasses {
  readonly '1xx': number;
  readonly '2xx': number;
  readonly '3xx': number;
  readonly '4xx': number;
  readonly '5xx': number;
  readonly xxx: number;
}

/**
 * A latency histogram in seconds, Prometheus-style but not cumulative: `counts[i]` observations
 * fell in (bounds[i-1], bounds[i]], the last entry (index bounds.length) above the last bound.
 * Every histogram of one kind shares LATENCY_BOUNDS_S, so they add up across workers.
 */
export interface Histogram {
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  /** Sum of the observations, seconds. */
  readonly sum: number;
  readonly count: number;
}

/** Upper bounds (seconds) of every latency histogram: 1 ms to 60 s (defined beside the counters, upstream/stats.ts). */
export { LATENCY_BOUNDS_S } from '../../upstream/stats.js';

/**
 * up: takes traffic. down: failed active checks. passive-down: max_fails reached within
 * fail_timeout. disabled: `down` in the config (never probed, not a failure). A backup peer
 * that is idle because the primaries are up is `up` (or `down` if its checks fail) but never
 * counted as a failure in the summary (UpstreamStatus.total leaves it out unless it serves).
 */
export type PeerState = 'up' | 'down' | 'passive-down' | 'disabled';

export interface PeerCheck {
  /** `check type=`: tcp, http, ssl_hello, websocket. */
  readonly type: string;
  /** The configured thresholds... */
  readonly riseThreshold: number;
  readonly fallThreshold: number;
  /** ...and the current run of consecutive successes / failures (they reset each other). */
  readonly consecutiveOk: number;
  readonly consecutiveFailed: number;
  /** null before the first check finished. */
  readonly lastAt: string | null;
  /** HAProxy-like result code: "L7 200", "L7 503", "L4 connect refused", "L4 timeout", "L6 handshake failed", "timeout". */
  readonly lastResult: string | null;
  readonly lastOk: boolean | null;
  readonly lastLatencyMs: number | null;
}

export interface PeerStatus {
  /** The peer's id: its address, with `#n` for the n-th line of the same address. */
  readonly key: string;
  readonly state: PeerState;
  /** When the peer entered `state` (start of the process group for a peer never changed). */
  readonly stateSince: string;
  /** How many times `state` changed between up and not up. */
  readonly stateChanges: number;
  /** Total time spent down or passive-down (not disabled), ms, the current period included. */
  readonly downtimeMs: number;
  /** The `server` line as configured. */
  readonly weight: number;
  readonly backup: boolean;
  readonly down: boolean;
  /** 0 = no limit. */
  readonly maxConns: number;
  readonly maxFails: number;
  readonly failTimeoutMs: number;
  /** null without `check` (and for `down` peers, never probed). */
  readonly check: PeerCheck | null;
  /** Last active check failure (nginx's words: "connect() failed (111: Connection refused)"); passive failures show in `fails`. */
  readonly lastError: string | null;
  /** Failures counted against max_fails in the current fail_timeout window. */
  readonly fails: number;
  readonly activeConnections: number;
  /** Connections opened to the peer (not reused from the keepalive pool). */
  readonly connections: number;
  /** HTTP requests / stream sessions sent to the peer (each retry counts where it went), counted when they end. */
  readonly requests: number;
  readonly responses: ResponseClasses;
  /** Bytes written to / read from the peer. */
  readonly sentBytes: number;
  readonly receivedBytes: number;
  readonly connectFailures: number;
  readonly timeouts: number;
  /** Attempts on this peer that failed and were retried on another (proxy_next_upstream). */
  readonly retries: number;
  /** Time from sending the request to the end of the upstream response (HTTP), or session length (stream). */
  readonly responseTime: Histogram;
}

export interface UpstreamStatus {
  readonly name: string;
  readonly context: 'http' | 'stream';
  readonly peers: readonly PeerStatus[];
  /** Peers up, and peers that count (not disabled, not idle backups) for the summary. */
  readonly up: number;
  readonly total: number;
  /** A `redis_peers` upstream (issue 17): its redis block and key template; its peers are in one upstream per known key. Absent otherwise. */
  readonly redisPeers?: { readonly redis: string; readonly key: string };
  /** One key's group of a `redis_peers` upstream (named `upstream[key]`): the evaluated key. Absent otherwise. */
  readonly redisKey?: string;
}

export interface ConnectionGauges {
  readonly active: number;
  readonly reading: number;
  readonly writing: number;
  readonly idle: number;
}

/** One http `server {}` block, named by its first server_name ("_" or "" as written) and its listens. */
export interface ServerStatus {
  readonly name: string;
  readonly listen: readonly string[];
  /**
   * active: connections open on its listen addresses (shared by the blocks of one address);
   * reading: HTTP/1 connections on those addresses reading a head that came in pieces (a head
   * belongs to no block until it is read, so the address counts it, as stub_status's Reading);
   * writing: its requests in progress; idle: active - reading - writing.
   */
  readonly connections: ConnectionGauges;
  /** Connections accepted on its listen addresses in total (TLS handshakes / failures too). */
  readonly accepted: number;
  readonly requests: number;
  readonly responses: ResponseClasses;
  /** Bytes read from / written to clients. */
  readonly receivedBytes: number;
  readonly sentBytes: number;
  readonly tlsHandshakes: number;
  readonly tlsFailures: number;
  /** Requests per second over the last few seconds. */
  readonly requestRate: number;
  /** $request_time. */
  readonly requestTime: Histogram;
}

/** One `stream {}` / `tcp {}` server block. */
export interface StreamServerStatus {
  readonly listen: readonly string[];
  readonly protocol: 'tcp' | 'udp';
  /** Connections open on its listen addresses (a session is known to its block only once routed). */
  readonly activeSessions: number;
  readonly sessions: number;
  readonly receivedBytes: number;
  readonly sentBytes: number;
  readonly tlsHandshakes: number;
  readonly tlsFailures: number;
}

/** Filled once the cache exists (issue 15). */
export interface CacheZoneStatus {
  readonly name: string;
  readonly entries: number;
  readonly sizeBytes: number;
  readonly maxSizeBytes: number;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses), 0 before any lookup. */
  readonly hitRatio: number;
}

/** One `redis NAME {}` block (issue 17) as this process sees it. */
export interface RedisStatus {
  readonly name: string;
  /** "host:port" or "unix:/path". */
  readonly server: string;
  /** This instance's id towards the others (the value of the health_share leases it holds). */
  readonly instance: string;
  /** connecting: never reached yet; up; down: unreachable (known keys serve their last peers). */
  readonly state: 'connecting' | 'up' | 'down';
  readonly stateSince: string;
  /** Times the connection was lost (or could not be made) since the process group started. */
  readonly outages: number;
  readonly lastError: string | null;
  /** Keyspace notifications are on at the server (false: known keys are re-read every second); null before the first connect. */
  readonly notifications: boolean | null;
  /** The upstreams fed from this block, with their known keys and the list each was last read as. */
  readonly upstreams: readonly {
    readonly name: string;
    readonly context: 'http' | 'stream';
    readonly key: string;
    readonly keys: readonly { readonly key: string; readonly list: readonly string[] }[];
  }[];
}

export interface ProcessStatus {
  readonly version: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeMs: number;
  /** Configured worker processes (1 = single process) and how many run now. */
  readonly workers: number;
  readonly workersRunning: number;
  readonly reloads: number;
  readonly lastReloadAt: string | null;
  /** null before the first reload. */
  readonly lastReloadOk: boolean | null;
  readonly lastReloadError: string | null;
  /** Resident memory of the primary and every worker, summed. */
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** stub_status's counts over every process. */
  readonly connections: { readonly active: number; readonly accepts: number; readonly handled: number; readonly requests: number; readonly reading: number; readonly writing: number; readonly waiting: number };
}

/**
 * The last minutes, for the page's charts: one sample every `intervalMs` (oldest first), the
 * values per interval (rates, not totals), per upstream.
 */
export interface HistorySample {
  readonly at: string;
  /**
   * By the upstream's registry name: its name, `stream:` before a stream upstream's. errorRate: 5xx,
   * connect failures, timeouts. Only the upstreams with a try in the interval: one left out had
   * no traffic (rates 0, no latency), which keeps a point small when most upstreams are idle.
   */
  readonly upstreams: Readonly<Record<string, { readonly requestRate: number; readonly errorRate: number; readonly p50Ms: number | null; readonly p99Ms: number | null }>>;
  /** Every http server summed. */
  readonly requestRate: number;
  readonly errorRate: number;
}

export interface StatusHistory {
  readonly intervalMs: number;
  readonly samples: readonly HistorySample[];
}

export interface StatusDocument {
  readonly schema: typeof STATUS_SCHEMA;
  readonly generatedAt: string;
  readonly process: ProcessStatus;
  readonly upstreams: readonly UpstreamStatus[];
  readonly servers: readonly ServerStatus[];
  readonly streamServers: readonly StreamServerStatus[];
  readonly caches: readonly CacheZoneStatus[];
  /** `redis` blocks (issue 17); empty when the config has none. */
  readonly redis: readonly RedisStatus[];
  readonly history: StatusHistory;
}

/**
 * Where a status page gets the document: at once in a single process, from the primary (which
 * asks every worker) with worker processes. `done` may be called synchronously.
 */
export type StatusSource = (done: (doc: StatusDocument) => void) => void;
