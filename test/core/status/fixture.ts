/** A status document with every part filled, for the renderers' unit tests. */
import { LATENCY_BOUNDS_S, STATUS_SCHEMA, type Histogram, type PeerStatus, type StatusDocument } from '../../../src/core/status/document.js';

export const GENERATED_AT = '2025-01-02T03:04:05.000Z';

/** Observations (seconds) as a document histogram (per-bucket counts, the last above the last bound). */
export function histogram(observations: readonly number[]): Histogram {
  const counts = LATENCY_BOUNDS_S.map(() => 0).concat(0);
  for (const o of observations) {
    const i = LATENCY_BOUNDS_S.findIndex((b) => o <= b);
    counts[i === -1 ? LATENCY_BOUNDS_S.length : i]! += 1;
  }
  return { bounds: LATENCY_BOUNDS_S, counts, sum: observations.reduce((a, b) => a + b, 0), count: observations.length };
}

export function peer(key: string, over: Partial<PeerStatus> = {}): PeerStatus {
  return {
    key, state: 'up', stateSince: '2025-01-02T03:00:00.000Z', stateChanges: 0, downtimeMs: 0,
    weight: 1, backup: false, down: false, maxConns: 0, maxFails: 1, failTimeoutMs: 10_000,
    check: { type: 'http', riseThreshold: 2, fallThreshold: 3, consecutiveOk: 5, consecutiveFailed: 0, lastAt: '2025-01-02T03:04:04.000Z', lastResult: 'L7 200', lastOk: true, lastLatencyMs: 3 },
    lastError: null, fails: 0, activeConnections: 0, connections: 0, requests: 0,
    responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, xxx: 0 },
    sentBytes: 0, receivedBytes: 0, connectFailures: 0, timeouts: 0, retries: 0, responseTime: histogram([]),
    ...over,
  };
}

export function sampleDocument(): StatusDocument {
  return {
    schema: STATUS_SCHEMA,
    generatedAt: GENERATED_AT,
    process: {
      version: '1.2.3', pid: 4242, startedAt: '2025-01-02T03:00:00.000Z', uptimeMs: 245_000, workers: 2, workersRunning: 2,
      reloads: 3, lastReloadAt: '2025-01-02T03:02:00.000Z', lastReloadOk: true, lastReloadError: null, rssBytes: 80_000_000, heapUsedBytes: 20_000_000,
      connections: { active: 4, accepts: 100, handled: 100, requests: 250, reading: 1, writing: 2, waiting: 1 },
    },
    upstreams: [
      {
        name: 'app', context: 'http', up: 1, total: 2,
        peers: [
          peer('127.0.0.1:9001', {
            weight: 3, maxConns: 10, activeConnections: 2, connections: 7, requests: 120,
            responses: { '1xx': 0, '2xx': 110, '3xx': 2, '4xx': 5, '5xx': 3, xxx: 0 }, sentBytes: 12_345, receivedBytes: 6_789_012,
            responseTime: histogram([0.002, 0.004, 0.004, 0.03, 0.2, 1.5, 70]),
          }),
          peer('127.0.0.1:9002', {
            state: 'down', stateSince: '2025-01-02T03:03:05.000Z', stateChanges: 3, downtimeMs: 61_000, fails: 1, connectFailures: 4, timeouts: 1, retries: 2,
            lastError: 'connect() failed (111: Connection refused)',
            check: { type: 'http', riseThreshold: 2, fallThreshold: 3, consecutiveOk: 0, consecutiveFailed: 7, lastAt: '2025-01-02T03:04:04.000Z', lastResult: 'L4 connect refused', lastOk: false, lastLatencyMs: 1 },
          }),
          peer('127.0.0.1:9003', { state: 'disabled', down: true, check: null }),
          peer('127.0.0.1:9004', { backup: true }),
        ],
      },
      { name: '<script>"x"\\\nnext', context: 'stream', up: 1, total: 1, peers: [peer('unix:/run/a<b>.sock', { check: null })] },
    ],
    servers: [
      {
        name: 'example.com', listen: ['127.0.0.1:8080', '[::1]:8080'], connections: { active: 3, reading: 1, writing: 1, idle: 1 }, accepted: 40,
        requests: 200, responses: { '1xx': 0, '2xx': 180, '3xx': 5, '4xx': 10, '5xx': 4, xxx: 1 }, receivedBytes: 50_000, sentBytes: 3_000_000,
        tlsHandshakes: 0, tlsFailures: 0, requestRate: 12.5, requestTime: histogram([0.001, 0.01, 0.1]),
      },
      // the same name and listens twice: Prometheus labels must still be unique
      {
        name: '_', listen: ['127.0.0.1:8443 ssl'], connections: { active: 0, reading: 0, writing: 0, idle: 0 }, accepted: 1, requests: 1,
        responses: { '1xx': 0, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0, xxx: 0 }, receivedBytes: 1, sentBytes: 1, tlsHandshakes: 1, tlsFailures: 2, requestRate: 0, requestTime: histogram([]),
      },
      {
        name: '_', listen: ['127.0.0.1:8443 ssl'], connections: { active: 0, reading: 0, writing: 0, idle: 0 }, accepted: 0, requests: 0,
        responses: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, xxx: 0 }, receivedBytes: 0, sentBytes: 0, tlsHandshakes: 0, tlsFailures: 0, requestRate: 0, requestTime: histogram([]),
      },
    ],
    streamServers: [{ listen: ['127.0.0.1:5432'], protocol: 'tcp', activeSessions: 1, sessions: 9, receivedBytes: 100, sentBytes: 200, tlsHandshakes: 0, tlsFailures: 0 }],
    caches: [{ name: 'one', entries: 12, sizeBytes: 4096, maxSizeBytes: 1_048_576, hits: 30, misses: 10, hitRatio: 0.75 }],
    redis: [{
      name: 'main', server: '127.0.0.1:6379', instance: '4242-0f0e', state: 'up', stateSince: '2025-01-02T03:00:00.000Z', outages: 1, lastError: null, notifications: true,
      upstreams: [{ name: 'sites', context: 'http', key: 'frontend:$host', keys: [{ key: 'frontend:a.test', list: ['a', '127.0.0.1:9001 weight=2'] }] }],
    }],
    history: {
      intervalMs: 10_000,
      samples: [{ at: '2025-01-02T03:03:55.000Z', requestRate: 4, errorRate: 0.5, upstreams: { app: { requestRate: 3, errorRate: 0.1, p50Ms: 4, p99Ms: 120 } } }],
    },
  };
}
