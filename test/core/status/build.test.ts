import { describe, expect, test } from 'vitest';
import { UpstreamGroup } from '../../../src/upstream/group.js';
import { PeerRegistry } from '../../../src/upstream/registry.js';
import { renderStatus as render, type ConfiguredStatusFormat } from '../../../src/core/status/format.js';
import { LocalStatus } from '../../../src/core/status/local.js';
import { check, server, upstream } from '../../upstream/helpers.js';

/** The document of `groups` alone at `now`, rendered. */
function renderStatus(groups: UpstreamGroup[], format: ConfiguredStatusFormat, now: number) {
  const status = new LocalStatus({ groups: () => groups, httpServers: () => [], streamServers: () => [], cacheZones: () => [] });
  return render(status.document(status.sample(now)), format);
}

const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

async function groups(): Promise<UpstreamGroup[]> {
  const registry = new PeerRegistry();
  const app = await UpstreamGroup.create(
    upstream('app', [
      server('127.0.0.1:9001', { weight: 2 }),
      server('127.0.0.1:9002'),
      server('127.0.0.1:9003', { down: true }),
      server('127.0.0.1:9004', { backup: true }),
    ], { check: check({ type: 'http' }) }),
    registry,
  );
  const [up, down, , backup] = app.peers;
  up!.activeConns = 3;
  up!.stats.requests = 120;
  up!.riseCount = 7;
  up!.checkedAt = NOW - 1000;
  down!.healthy = false;
  down!.fallCount = 5;
  down!.lastError = 'connect() failed (111: Connection refused)';
  backup!.fails = 1;
  backup!.passiveCheckedAt = NOW - 10;
  backup!.failedAt = NOW - 10;
  const evil = await UpstreamGroup.create(upstream('<script>"x"\\', [server('unix:/run/a<b>.sock')]), registry);
  return [app, evil];
}

describe('the status document built from live groups, rendered', () => {
  test('json: the stable shape, with states', async () => {
    const { contentType, body } = renderStatus(await groups(), 'json', NOW);
    expect(contentType).toBe('application/json');
    const doc = JSON.parse(body);
    expect(doc.generatedAt).toBe('2025-01-02T03:04:05.000Z');
    expect(doc.upstreams.map((u: { name: string }) => u.name)).toEqual(['app', '<script>"x"\\']);
    expect(doc.schema).toBe(2);
    expect(doc.upstreams[0].peers[0]).toMatchObject({
      key: '127.0.0.1:9001',
      state: 'up',
      weight: 2,
      backup: false,
      down: false,
      activeConnections: 3,
      requests: 120,
      fails: 0,
      check: { type: 'http', riseThreshold: 2, fallThreshold: 2, consecutiveOk: 7, consecutiveFailed: 0, lastAt: '2025-01-02T03:04:04.000Z' },
      lastError: null,
    });
    expect(doc.upstreams[0].peers.map((p: { state: string }) => p.state)).toEqual(['up', 'down', 'disabled', 'passive-down']);
    expect(doc.upstreams[0].peers[1].lastError).toBe('connect() failed (111: Connection refused)');
    expect(doc.upstreams[1].peers[0]).toMatchObject({ key: 'unix:/run/a<b>.sock', check: null });
    // the disabled peer is left out of the summary, so is the idle backup while a primary is up
    expect([doc.upstreams[0].up, doc.upstreams[0].total]).toEqual([1, 2]);
  });

  test('prometheus: the peer metrics of tsproxy before schema 2 keep their names, labels and values', async () => {
    const { contentType, body } = renderStatus(await groups(), 'prometheus', NOW);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines = body.trimEnd().split('\n');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:9001"} 1');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:9002"} 0');
    expect(lines).toContain('tsproxy_upstream_peer_active_connections{context="http",upstream="app",peer="127.0.0.1:9001"} 3');
    expect(lines).toContain('tsproxy_upstream_peer_requests_total{context="http",upstream="app",peer="127.0.0.1:9001"} 120');
    expect(lines).toContain('tsproxy_upstream_peer_fails{context="http",upstream="app",peer="127.0.0.1:9004"} 1');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="<script>\\"x\\"\\\\",peer="unix:/run/a<b>.sock"} 1');
  });
});

describe('the document of live groups', () => {
  test('every upstream carries its context', async () => {
    const registry = new PeerRegistry();
    const web = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry);
    const tcp = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry, { namespace: 'stream:' });
    const doc = JSON.parse(renderStatus([web, tcp], 'json', NOW).body);
    expect(doc.upstreams.map((u: { name: string }) => u.name)).toEqual(['app', 'app']);
    expect(doc.upstreams.map((u: { context: string }) => u.context)).toEqual(['http', 'stream']);
  });
});
