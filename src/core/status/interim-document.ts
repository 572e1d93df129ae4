/**
 * INTERIM (issue 16, branch status-view): a StatusDocument v2 from what the live upstream groups
 * know today (peer state, weight/backup/down/max_conns, requests, active connections, check
 * rise/fall counts and last check) with zeros and empty lists for everything the aggregated
 * counters will fill. The renderers are written against the document, not against this: at merge,
 * the status-data builder replaces this file (and the default `statusSource` of the http site).
 */
import { statusDocument } from '../../upstream/status.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import { VERSION } from '../../version.js';
import { localCounts } from '../connection-stats.js';
import { LATENCY_BOUNDS_S, STATUS_SCHEMA, type Histogram, type PeerStatus, type ResponseClasses, type StatusDocument } from './document.js';

const NO_RESPONSES: ResponseClasses = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, xxx: 0 };
const EMPTY_HISTOGRAM: Histogram = { bounds: LATENCY_BOUNDS_S, counts: LATENCY_BOUNDS_S.map(() => 0).concat(0), sum: 0, count: 0 };
const startedAtMs = Date.now() - Math.round(process.uptime() * 1000);

export function interimStatusDocument(groups: readonly UpstreamGroup[], now: number): StatusDocument {
  const v1 = statusDocument(groups, now);
  const startedAt = new Date(startedAtMs).toISOString();
  const mem = process.memoryUsage();
  return {
    schema: STATUS_SCHEMA,
    generatedAt: v1.generatedAt,
    process: {
      version: VERSION, pid: process.pid, startedAt, uptimeMs: now - startedAtMs, workers: 1, workersRunning: 1,
      reloads: 0, lastReloadAt: null, lastReloadOk: null, lastReloadError: null, rssBytes: mem.rss, heapUsedBytes: mem.heapUsed,
      connections: localCounts(),
    },
    upstreams: v1.upstreams.map((u, i) => {
      const group = groups[i]!;
      const check = group.config.check ?? null;
      const peers = u.peers.map((p, j): PeerStatus => {
        const params = group.entries[j]!.params;
        return {
          key: p.key, state: p.state, stateSince: startedAt, stateChanges: 0, downtimeMs: 0,
          weight: p.weight, backup: p.backup, down: params.down, maxConns: params.maxConns, maxFails: params.maxFails, failTimeoutMs: params.failTimeoutMs,
          check: check === null || params.down ? null : {
            type: check.type, riseThreshold: check.rise, fallThreshold: check.fall, consecutiveOk: p.rise, consecutiveFailed: p.fall,
            lastAt: p.lastCheck, lastResult: null, lastOk: p.lastCheck === null ? null : p.rise > 0, lastLatencyMs: null,
          },
          lastError: p.lastError, fails: p.fails, activeConnections: p.activeConns, connections: 0, requests: p.requests,
          responses: NO_RESPONSES, sentBytes: 0, receivedBytes: 0, connectFailures: 0, timeouts: 0, retries: 0, responseTime: EMPTY_HISTOGRAM,
        };
      });
      const counted = peers.filter((p) => p.state !== 'disabled' && !p.backup);
      return { name: u.name, context: u.context, peers, up: counted.filter((p) => p.state === 'up').length, total: counted.length };
    }),
    servers: [],
    streamServers: [],
    caches: [],
    history: { intervalMs: 10_000, samples: [] },
  };
}
