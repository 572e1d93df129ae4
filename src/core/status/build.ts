/**
 * The status document (document.ts) from one sample (this process's, or the primary's merge of
 * every worker's) and this process's view of the config: which upstreams, peers with their
 * `server` parameters, server blocks and stream servers exist. Counters come from the sample
 * only, so every worker builds the same numbers from the primary's totals.
 */
import type { HttpServerConfig } from '../../config/types.js';
import type { CacheZoneConfig } from '../../config/cache-types.js';
import type { StreamServerConfig } from '../../config/stream-types.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { PeerEntry } from '../../upstream/entry.js';
import { histogramOf, responseClassesOf, PEER_SLOT, PEER_SLOTS } from '../../upstream/stats.js';
import { VERSION } from '../../version.js';
import {
  STATUS_SCHEMA, type CacheZoneStatus, type PeerState, type PeerStatus, type ProcessStatus, type ServerStatus, type StatusDocument, type StatusHistory,
  type RedisStatus, type StreamServerStatus, type UpstreamStatus,
} from './document.js';
import { httpServerKey, streamServerKey } from './registry.js';
import { CACHE_SLOT, LISTEN_SLOT, LISTEN_SLOTS, SERVER_SLOT, SERVER_SLOTS, STREAM_SLOT, STREAM_SLOTS } from './server-stats.js';
import type { CounterSample, PeerSample, StatusSample } from './sample.js';

/** What this process knows of the config in service. */
export interface StatusStructure {
  readonly httpServers: readonly HttpServerConfig[];
  readonly streamServers: readonly StreamServerConfig[];
  readonly groups: readonly UpstreamGroup[];
  /** proxy_cache_path zones of the http config. */
  readonly cacheZones: readonly CacheZoneConfig[];
  /** An http server block's request rate (the history's last interval). */
  serverRate(key: string): number;
  /** The `redis` blocks (issue 17); absent: none. */
  readonly redis?: readonly RedisStatus[];
}

const ZERO_PEER: number[] = new Array<number>(PEER_SLOTS).fill(0);
const ZERO_SERVER: CounterSample = { values: new Array<number>(SERVER_SLOTS).fill(0), active: 0 };
const ZERO_STREAM: CounterSample = { values: new Array<number>(STREAM_SLOTS).fill(0), active: 0 };
const ZERO_LISTEN: CounterSample = { values: new Array<number>(LISTEN_SLOTS).fill(0), active: 0 };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function peerStateOf(entry: PeerEntry, s: PeerSample | undefined): PeerState {
  if (entry.params.down) return 'disabled';
  if (s === undefined) return entry.peer.healthy ? 'up' : 'down';
  if (!s.healthy) return 'down';
  if (s.passiveDown) return 'passive-down';
  return 'up';
}

function peerStatus(group: UpstreamGroup, entry: PeerEntry, s: PeerSample | undefined, now: number): PeerStatus {
  const params = entry.params;
  const state = peerStateOf(entry, s);
  const v = s?.values ?? ZERO_PEER;
  const since = s?.stateSinceMs ?? now;
  const check = group.config.check;
  return {
    key: entry.peer.id,
    state,
    stateSince: iso(since),
    stateChanges: s?.stateChanges ?? 0,
    downtimeMs: Math.round((s?.downtimeMs ?? 0) + (s !== undefined && !s.wasUp && state !== 'disabled' ? Math.max(0, now - since) : 0)),
    weight: params.weight,
    backup: params.backup,
    down: params.down,
    maxConns: params.maxConns,
    maxFails: params.maxFails,
    failTimeoutMs: params.failTimeoutMs,
    check: check === null || params.down ? null : {
      type: check.type,
      riseThreshold: check.rise,
      fallThreshold: check.fall,
      consecutiveOk: s?.riseCount ?? 0,
      consecutiveFailed: s?.fallCount ?? 0,
      lastAt: s?.checkedAt == null ? null : iso(s.checkedAt),
      lastResult: s?.lastResult ?? null,
      lastOk: s?.lastOk ?? null,
      lastLatencyMs: s?.latencyMs ?? null,
    },
    lastError: s?.lastError ?? null,
    fails: s?.fails ?? 0,
    activeConnections: s?.active ?? 0,
    connections: v[PEER_SLOT.connections]!,
    requests: v[PEER_SLOT.requests]!,
    responses: responseClassesOf(v, PEER_SLOT.responses),
    sentBytes: v[PEER_SLOT.sentBytes]!,
    receivedBytes: v[PEER_SLOT.receivedBytes]!,
    connectFailures: v[PEER_SLOT.connectFailures]!,
    timeouts: v[PEER_SLOT.timeouts]!,
    retries: v[PEER_SLOT.retries]!,
    responseTime: histogramOf(v, PEER_SLOT.responseTime),
  };
}

/**
 * An idle backup is no failure: backups count in `total` only while they serve (no primary is
 * up, or a backup still has connections); disabled peers never count.
 */
function upstreamStatus(group: UpstreamGroup, sample: StatusSample, now: number): UpstreamStatus {
  const keys = group.registryKeys;
  const peers = group.entries.map((e, i) => peerStatus(group, e, sample.peers[keys[i]!], now));
  const primaryUp = peers.some((p) => !p.backup && p.state === 'up');
  const backupsServe = !primaryUp || peers.some((p) => p.backup && p.activeConnections > 0);
  const counted = peers.filter((p) => p.state !== 'disabled' && (!p.backup || backupsServe));
  const status = { name: group.name, context: group.context, peers, up: counted.filter((p) => p.state === 'up').length, total: counted.length };
  const { redisPeers, redisKey } = group.config;
  if (redisPeers !== undefined) return { ...status, redisPeers: { redis: redisPeers.redis, key: redisPeers.key } };
  return redisKey === undefined ? status : { ...status, redisKey };
}

function sumListens(sample: StatusSample, listens: readonly string[]): { active: number; reading: number; accepted: number; tlsHandshakes: number; tlsFailures: number } {
  let active = 0;
  let reading = 0;
  let accepted = 0;
  let tlsHandshakes = 0;
  let tlsFailures = 0;
  for (const key of new Set(listens)) {
    const l = sample.listens[key] ?? ZERO_LISTEN;
    active += l.active;
    reading += l.reading ?? 0;
    accepted += l.values[LISTEN_SLOT.accepted]!;
    tlsHandshakes += l.values[LISTEN_SLOT.tlsHandshakes]!;
    tlsFailures += l.values[LISTEN_SLOT.tlsFailures]!;
  }
  return { active, reading, accepted, tlsHandshakes, tlsFailures };
}

function serverStatuses(structure: StatusStructure, sample: StatusSample): ServerStatus[] {
  return structure.httpServers.map((cfg) => {
    const key = httpServerKey(cfg);
    const s = sample.servers[key] ?? ZERO_SERVER;
    const listen = cfg.listens.map((l) => l.key);
    const l = sumListens(sample, listen);
    return {
      name: key.slice(0, key.indexOf('|')),
      listen,
      connections: { active: l.active, reading: l.reading, writing: s.active, idle: Math.max(0, l.active - l.reading - s.active) },
      accepted: l.accepted,
      requests: s.values[SERVER_SLOT.requests]!,
      responses: responseClassesOf(s.values, SERVER_SLOT.responses),
      receivedBytes: s.values[SERVER_SLOT.receivedBytes]!,
      sentBytes: s.values[SERVER_SLOT.sentBytes]!,
      tlsHandshakes: l.tlsHandshakes,
      tlsFailures: l.tlsFailures,
      requestRate: structure.serverRate(key),
      requestTime: histogramOf(s.values, SERVER_SLOT.requestTime),
    };
  });
}

function streamStatuses(structure: StatusStructure, sample: StatusSample): StreamServerStatus[] {
  return structure.streamServers.map((cfg) => {
    const key = streamServerKey(cfg);
    const s = sample.streams[key] ?? ZERO_STREAM;
    const listen = cfg.listens.map((l) => l.key);
    const l = sumListens(sample, listen);
    return {
      listen,
      protocol: key.startsWith('udp|') ? 'udp' : 'tcp',
      // sessions open on its listen addresses (a session is only known to its server once routed)
      activeSessions: l.active,
      sessions: s.values[STREAM_SLOT.sessions]!,
      receivedBytes: s.values[STREAM_SLOT.receivedBytes]!,
      sentBytes: s.values[STREAM_SLOT.sentBytes]!,
      tlsHandshakes: l.tlsHandshakes + s.values[STREAM_SLOT.tlsHandshakes]!,
      tlsFailures: l.tlsFailures + s.values[STREAM_SLOT.tlsFailures]!,
    };
  });
}

function cacheStatus(z: CacheZoneConfig, sample: StatusSample): CacheZoneStatus {
  const c = sample.caches[z.name];
  const hits = c?.values[CACHE_SLOT.hits] ?? 0;
  const misses = c?.values[CACHE_SLOT.misses] ?? 0;
  return {
    name: z.name,
    entries: c?.entries ?? 0,
    sizeBytes: c?.sizeBytes ?? 0,
    maxSizeBytes: z.maxSizeBytes,
    hits,
    misses,
    hitRatio: hits + misses === 0 ? 0 : hits / (hits + misses),
  };
}

function processStatus(sample: StatusSample, now: number): ProcessStatus {
  const p = sample.process;
  return {
    version: VERSION,
    pid: p.pid,
    startedAt: iso(p.startedAtMs),
    uptimeMs: Math.max(0, now - p.startedAtMs),
    workers: p.workers,
    workersRunning: p.workersRunning,
    reloads: p.reloads,
    lastReloadAt: p.lastReloadAtMs === null ? null : iso(p.lastReloadAtMs),
    lastReloadOk: p.lastReloadOk,
    lastReloadError: p.lastReloadError,
    rssBytes: p.rssBytes,
    heapUsedBytes: p.heapUsedBytes,
    connections: p.connections,
  };
}

export function buildStatusDocument(structure: StatusStructure, sample: StatusSample, history: StatusHistory, now: number = sample.atMs): StatusDocument {
  return {
    schema: STATUS_SCHEMA,
    generatedAt: iso(now),
    process: processStatus(sample, now),
    upstreams: structure.groups.map((g) => upstreamStatus(g, sample, now)),
    servers: serverStatuses(structure, sample),
    streamServers: streamStatuses(structure, sample),
    caches: structure.cacheZones.map((z) => cacheStatus(z, sample)),
    redis: structure.redis ?? [],
    history,
  };
}

