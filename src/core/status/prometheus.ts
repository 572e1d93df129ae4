/**
 * The status document in Prometheus' text exposition format (0.0.4), following its naming
 * conventions: counters end in `_total`, sizes in `_bytes`, durations in `_seconds`, the status
 * class is a `code` label ("2xx"), a family's HELP and TYPE come once before its samples, and
 * histograms are cumulative `_bucket{le=...}` series with `_sum` and `_count`. Families without
 * samples are left out (no cache zone: no cache families). The names that existed before the
 * document (tsproxy_upstream_peer_{up,active_connections,requests_total,fails}, with their
 * context/upstream/peer labels) keep their meaning.
 */
import type {
  CacheZoneStatus, Histogram, PeerStatus, RedisStatus, ResponseClasses, ServerStatus, StatusDocument, StreamServerStatus, UpstreamStatus,
} from './document.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type MetricType = 'gauge' | 'counter';

/** One family over a list of subjects: `value` gives one sample per subject, `values` several (extra labels first). */
interface Family<T> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly value?: (x: T) => number | null;
  readonly values?: (x: T) => readonly (readonly [labels: string, value: number])[];
}

/** A subject with its label text computed once (`upstream="app",peer="..."`). */
interface Labelled<T> {
  readonly labels: string;
  readonly item: T;
}

/** Label values: backslash, double quote and line feed are escaped (the format's only escapes). */
export function labelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function joinLabels(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

const CLASSES: readonly (keyof ResponseClasses)[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'xxx'];

function byClass(r: ResponseClasses): readonly (readonly [string, number])[] {
  return CLASSES.map((c) => [`code="${c}"`, r[c]] as const);
}

const seconds = (ms: number): number => ms / 1000;
const timestamp = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso) / 1000);
const flag = (b: boolean): number => (b ? 1 : 0);

class Exposition {
  readonly lines: string[] = [];

  family<T>(f: Family<T>, subjects: readonly Labelled<T>[]): void {
    const samples: string[] = [];
    for (const { labels, item } of subjects) {
      if (f.values !== undefined) {
        for (const [extra, v] of f.values(item)) samples.push(`${f.name}{${joinLabels(labels, extra)}} ${number(v)}`);
      } else {
        const v = f.value!(item);
        if (v !== null) samples.push(labels === '' ? `${f.name} ${number(v)}` : `${f.name}{${labels}} ${number(v)}`);
      }
    }
    if (samples.length === 0) return;
    this.lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...samples);
  }

  families<T>(list: readonly Family<T>[], subjects: readonly Labelled<T>[]): void {
    for (const f of list) this.family(f, subjects);
  }

  /** A histogram family: cumulative buckets up to +Inf, then the sum and the count. */
  histogram<T>(name: string, help: string, subjects: readonly Labelled<T>[], of: (x: T) => Histogram): void {
    if (subjects.length === 0) return;
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    for (const { labels, item } of subjects) {
      const h = of(item);
      let cumulative = 0;
      for (let i = 0; i < h.bounds.length; i++) {
        cumulative += h.counts[i] ?? 0;
        this.lines.push(`${name}_bucket{${joinLabels(labels, `le="${number(h.bounds[i]!)}"`)}} ${cumulative}`);
      }
      this.lines.push(
        `${name}_bucket{${joinLabels(labels, 'le="+Inf"')}} ${h.count}`,
        labels === '' ? `${name}_sum ${number(h.sum)}` : `${name}_sum{${labels}} ${number(h.sum)}`,
        labels === '' ? `${name}_count ${h.count}` : `${name}_count{${labels}} ${h.count}`,
      );
    }
  }
}

const PROCESS: readonly Family<StatusDocument['process']>[] = [
  { name: 'tsproxy_build_info', type: 'gauge', help: 'Always 1; the version is a label.', values: (p) => [[`version="${labelValue(p.version)}"`, 1]] },
  { name: 'tsproxy_process_start_time_seconds', type: 'gauge', help: 'When the process group started, seconds since the epoch.', value: (p) => timestamp(p.startedAt) },
  { name: 'tsproxy_process_uptime_seconds', type: 'gauge', help: 'Seconds since the process group started.', value: (p) => seconds(p.uptimeMs) },
  { name: 'tsproxy_process_reloads_total', type: 'counter', help: 'Configuration reloads (successful or not).', value: (p) => p.reloads },
  { name: 'tsproxy_process_last_reload_success', type: 'gauge', help: 'Whether the last reload succeeded (absent before the first reload).', value: (p) => (p.lastReloadOk === null ? null : flag(p.lastReloadOk)) },
  { name: 'tsproxy_process_last_reload_timestamp_seconds', type: 'gauge', help: 'When the last reload happened, seconds since the epoch.', value: (p) => timestamp(p.lastReloadAt) },
  { name: 'tsproxy_process_workers', type: 'gauge', help: 'Configured worker processes (1 = single process).', value: (p) => p.workers },
  { name: 'tsproxy_process_workers_running', type: 'gauge', help: 'Worker processes running now.', value: (p) => p.workersRunning },
  { name: 'tsproxy_process_resident_memory_bytes', type: 'gauge', help: 'Resident memory of every process, summed.', value: (p) => p.rssBytes },
  { name: 'tsproxy_process_heap_used_bytes', type: 'gauge', help: 'V8 heap in use in every process, summed.', value: (p) => p.heapUsedBytes },
  {
    name: 'tsproxy_connections', type: 'gauge', help: 'Open client connections by state (stub_status).',
    values: (p) => (['active', 'reading', 'writing', 'waiting'] as const).map((s) => [`state="${s}"`, p.connections[s]] as const),
  },
  { name: 'tsproxy_connections_accepted_total', type: 'counter', help: 'Client connections accepted (stub_status accepts).', value: (p) => p.connections.accepts },
  { name: 'tsproxy_connections_handled_total', type: 'counter', help: 'Client connections handled (stub_status handled).', value: (p) => p.connections.handled },
  { name: 'tsproxy_requests_total', type: 'counter', help: 'Client requests over every server (stub_status requests).', value: (p) => p.connections.requests },
];

const SERVER: readonly Family<ServerStatus>[] = [
  {
    name: 'tsproxy_http_connections', type: 'gauge', help: 'Open client connections of the server block by state.',
    values: (s) => (['active', 'reading', 'writing', 'idle'] as const).map((k) => [`state="${k}"`, s.connections[k]] as const),
  },
  { name: 'tsproxy_http_connections_accepted_total', type: 'counter', help: 'Client connections accepted by the server block.', value: (s) => s.accepted },
  { name: 'tsproxy_http_requests_total', type: 'counter', help: 'Requests served by the server block.', value: (s) => s.requests },
  { name: 'tsproxy_http_responses_total', type: 'counter', help: 'Responses by status class (xxx: ended without a response).', values: (s) => byClass(s.responses) },
  { name: 'tsproxy_http_received_bytes_total', type: 'counter', help: 'Bytes read from clients.', value: (s) => s.receivedBytes },
  { name: 'tsproxy_http_sent_bytes_total', type: 'counter', help: 'Bytes written to clients.', value: (s) => s.sentBytes },
  { name: 'tsproxy_http_tls_handshakes_total', type: 'counter', help: 'TLS handshakes completed.', value: (s) => s.tlsHandshakes },
  { name: 'tsproxy_http_tls_handshake_failures_total', type: 'counter', help: 'TLS handshakes that failed.', value: (s) => s.tlsFailures },
];

const STREAM: readonly Family<StreamServerStatus>[] = [
  { name: 'tsproxy_stream_active_sessions', type: 'gauge', help: 'Stream sessions in progress.', value: (s) => s.activeSessions },
  { name: 'tsproxy_stream_sessions_total', type: 'counter', help: 'Stream sessions accepted.', value: (s) => s.sessions },
  { name: 'tsproxy_stream_received_bytes_total', type: 'counter', help: 'Bytes read from stream clients.', value: (s) => s.receivedBytes },
  { name: 'tsproxy_stream_sent_bytes_total', type: 'counter', help: 'Bytes written to stream clients.', value: (s) => s.sentBytes },
  { name: 'tsproxy_stream_tls_handshakes_total', type: 'counter', help: 'TLS handshakes completed.', value: (s) => s.tlsHandshakes },
  { name: 'tsproxy_stream_tls_handshake_failures_total', type: 'counter', help: 'TLS handshakes that failed.', value: (s) => s.tlsFailures },
];

const UPSTREAM: readonly Family<UpstreamStatus>[] = [
  { name: 'tsproxy_upstream_peers_up', type: 'gauge', help: 'Peers of the upstream that take traffic (disabled peers and idle backups left out).', value: (u) => u.up },
  { name: 'tsproxy_upstream_peers', type: 'gauge', help: 'Peers of the upstream that count (not disabled, not idle backups).', value: (u) => u.total },
];

const PEER_STATES = ['up', 'down', 'passive-down', 'disabled'] as const;

const PEER: readonly Family<PeerStatus>[] = [
  { name: 'tsproxy_upstream_peer_up', type: 'gauge', help: 'Whether the peer takes traffic (1) or not (0).', value: (p) => flag(p.state === 'up') },
  { name: 'tsproxy_upstream_peer_state', type: 'gauge', help: 'The peer state (1 for the current one); disabled = down in the config.', values: (p) => PEER_STATES.map((s) => [`state="${s}"`, flag(p.state === s)] as const) },
  { name: 'tsproxy_upstream_peer_state_since_timestamp_seconds', type: 'gauge', help: 'When the peer entered its current state, seconds since the epoch.', value: (p) => timestamp(p.stateSince) },
  { name: 'tsproxy_upstream_peer_state_changes_total', type: 'counter', help: 'Changes between up and not up.', value: (p) => p.stateChanges },
  { name: 'tsproxy_upstream_peer_downtime_seconds_total', type: 'counter', help: 'Time spent down or passive-down.', value: (p) => seconds(p.downtimeMs) },
  { name: 'tsproxy_upstream_peer_weight', type: 'gauge', help: 'Configured weight.', value: (p) => p.weight },
  { name: 'tsproxy_upstream_peer_backup', type: 'gauge', help: 'Whether the peer is a backup (1).', value: (p) => flag(p.backup) },
  { name: 'tsproxy_upstream_peer_max_conns', type: 'gauge', help: 'Configured max_conns (0 = no limit).', value: (p) => p.maxConns },
  { name: 'tsproxy_upstream_peer_active_connections', type: 'gauge', help: 'Connections to the peer in progress.', value: (p) => p.activeConnections },
  { name: 'tsproxy_upstream_peer_connections_total', type: 'counter', help: 'Connections opened to the peer (keepalive reuse not counted).', value: (p) => p.connections },
  { name: 'tsproxy_upstream_peer_requests_total', type: 'counter', help: 'Requests sent to the peer.', value: (p) => p.requests },
  { name: 'tsproxy_upstream_peer_responses_total', type: 'counter', help: 'Peer responses by status class (xxx: none).', values: (p) => byClass(p.responses) },
  { name: 'tsproxy_upstream_peer_sent_bytes_total', type: 'counter', help: 'Bytes written to the peer.', value: (p) => p.sentBytes },
  { name: 'tsproxy_upstream_peer_received_bytes_total', type: 'counter', help: 'Bytes read from the peer.', value: (p) => p.receivedBytes },
  { name: 'tsproxy_upstream_peer_connect_failures_total', type: 'counter', help: 'Connection attempts to the peer that failed.', value: (p) => p.connectFailures },
  { name: 'tsproxy_upstream_peer_timeouts_total', type: 'counter', help: 'Timeouts talking to the peer.', value: (p) => p.timeouts },
  { name: 'tsproxy_upstream_peer_retries_total', type: 'counter', help: 'Attempts on the peer retried on another (proxy_next_upstream).', value: (p) => p.retries },
  { name: 'tsproxy_upstream_peer_fails', type: 'gauge', help: 'Failures counted against max_fails in the current fail_timeout window.', value: (p) => p.fails },
  { name: 'tsproxy_upstream_peer_max_fails', type: 'gauge', help: 'Configured max_fails.', value: (p) => p.maxFails },
  { name: 'tsproxy_upstream_peer_check_rise_threshold', type: 'gauge', help: 'Consecutive successful checks that bring the peer up (check rise=).', value: (p) => p.check?.riseThreshold ?? null },
  { name: 'tsproxy_upstream_peer_check_fall_threshold', type: 'gauge', help: 'Consecutive failed checks that take the peer down (check fall=).', value: (p) => p.check?.fallThreshold ?? null },
  { name: 'tsproxy_upstream_peer_check_consecutive_successes', type: 'gauge', help: 'The current run of successful checks.', value: (p) => p.check?.consecutiveOk ?? null },
  { name: 'tsproxy_upstream_peer_check_consecutive_failures', type: 'gauge', help: 'The current run of failed checks.', value: (p) => p.check?.consecutiveFailed ?? null },
  { name: 'tsproxy_upstream_peer_check_last_success', type: 'gauge', help: 'Whether the last check succeeded.', value: (p) => (p.check?.lastOk == null ? null : flag(p.check.lastOk)) },
  { name: 'tsproxy_upstream_peer_check_last_timestamp_seconds', type: 'gauge', help: 'When the last check finished, seconds since the epoch.', value: (p) => timestamp(p.check?.lastAt ?? null) },
  { name: 'tsproxy_upstream_peer_check_latency_seconds', type: 'gauge', help: 'How long the last check took.', value: (p) => (p.check?.lastLatencyMs == null ? null : seconds(p.check.lastLatencyMs)) },
];

const CACHE: readonly Family<CacheZoneStatus>[] = [
  { name: 'tsproxy_cache_entries', type: 'gauge', help: 'Entries in the cache zone.', value: (c) => c.entries },
  { name: 'tsproxy_cache_size_bytes', type: 'gauge', help: 'Bytes stored in the cache zone.', value: (c) => c.sizeBytes },
  { name: 'tsproxy_cache_max_size_bytes', type: 'gauge', help: 'Configured max_size of the cache zone (0 = none).', value: (c) => c.maxSizeBytes },
  { name: 'tsproxy_cache_hits_total', type: 'counter', help: 'Lookups answered from the cache.', value: (c) => c.hits },
  { name: 'tsproxy_cache_misses_total', type: 'counter', help: 'Lookups the cache could not answer.', value: (c) => c.misses },
];

const REDIS_STATES = ['connecting', 'up', 'down'] as const;

const REDIS: readonly Family<RedisStatus>[] = [
  { name: 'tsproxy_redis_up', type: 'gauge', help: 'Whether the redis block is connected (1) or not (0).', value: (r) => flag(r.state === 'up') },
  { name: 'tsproxy_redis_state', type: 'gauge', help: 'The connection state of the redis block (1 for the current one).', values: (r) => REDIS_STATES.map((s) => [`state="${s}"`, flag(r.state === s)] as const) },
  { name: 'tsproxy_redis_state_since_timestamp_seconds', type: 'gauge', help: 'When the redis block entered its current state, seconds since the epoch.', value: (r) => timestamp(r.stateSince) },
  { name: 'tsproxy_redis_outages_total', type: 'counter', help: 'Times the connection to the redis block was lost or could not be made.', value: (r) => r.outages },
  { name: 'tsproxy_redis_keyspace_notifications', type: 'gauge', help: 'Whether the server sends keyspace notifications (0: known keys are re-read every second).', value: (r) => (r.notifications === null ? null : flag(r.notifications)) },
];

interface FedUpstream {
  readonly keys: number;
}

const FED: readonly Family<FedUpstream>[] = [
  { name: 'tsproxy_redis_upstream_keys', type: 'gauge', help: 'Keys of a redis_peers upstream known in memory (each is a group of its own).', value: (u) => u.keys },
];

/** Label sets made unique: two server blocks with the same name and listens get `#2`, `#3`... */
function distinct<T>(items: readonly T[], labelsOf: (x: T, suffix: string) => string, keyOf: (x: T) => string): Labelled<T>[] {
  const seen = new Map<string, number>();
  return items.map((item) => {
    const key = keyOf(item);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    return { item, labels: labelsOf(item, n === 1 ? '' : `#${n}`) };
  });
}

export function renderPrometheus(doc: StatusDocument): string {
  const out = new Exposition();
  out.families(PROCESS, [{ labels: '', item: doc.process }]);

  const servers = distinct(
    doc.servers,
    (s, suffix) => `server="${labelValue(s.name + suffix)}",listen="${labelValue(s.listen.join(' '))}"`,
    (s) => `${s.name}\n${s.listen.join(' ')}`,
  );
  out.families(SERVER, servers);
  out.histogram('tsproxy_http_request_duration_seconds', 'Request time ($request_time) of the server block.', servers, (s) => s.requestTime);

  const streams = distinct(
    doc.streamServers,
    (s, suffix) => `listen="${labelValue(s.listen.join(' ') + suffix)}",protocol="${s.protocol}"`,
    (s) => `${s.listen.join(' ')}\n${s.protocol}`,
  );
  out.families(STREAM, streams);

  const upstreams = distinct(doc.upstreams, (u, suffix) => `context="${u.context}",upstream="${labelValue(u.name + suffix)}"`, (u) => `${u.context}\n${u.name}`);
  out.families(UPSTREAM, upstreams);
  const peers = upstreams.flatMap((u) =>
    distinct(u.item.peers, (p, suffix) => `${u.labels},peer="${labelValue(p.key + suffix)}"`, (p) => p.key),
  );
  out.families(PEER, peers);
  out.histogram(
    'tsproxy_upstream_peer_response_duration_seconds',
    'Upstream response time (request sent to response end; stream: session length).',
    peers,
    (p) => p.responseTime,
  );

  out.families(CACHE, doc.caches.map((c) => ({ labels: `zone="${labelValue(c.name)}"`, item: c })));
  out.families(REDIS, doc.redis.map((r) => ({ labels: `redis="${labelValue(r.name)}"`, item: r })));
  out.families(FED, doc.redis.flatMap((r) => r.upstreams.map((u) => ({
    labels: `redis="${labelValue(r.name)}",context="${u.context}",upstream="${labelValue(u.name)}",key="${labelValue(u.key)}"`,
    item: { keys: u.keys.length },
  }))));
  return `${out.lines.join('\n')}\n`;
}
