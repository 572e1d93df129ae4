import { describe, expect, test } from 'vitest';
import { UpstreamGroup } from '../../../src/upstream/group.js';
import { PeerRegistry } from '../../../src/upstream/registry.js';
import { escapeHtml, renderStatus as render, statusFormatOf, type StatusFormat } from '../../../src/core/status/render.js';
import { LocalStatus } from '../../../src/core/status/local.js';
import { check, server, upstream } from '../../upstream/helpers.js';

/** The document of `groups` alone at `now`, rendered. */
function renderStatus(groups: UpstreamGroup[], format: StatusFormat, now: number) {
  const status = new LocalStatus({ groups: () => groups, httpServers: () => [], streamServers: () => [] });
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

describe('renderStatus', () => {
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

  test('prometheus: HELP/TYPE once per metric, one sample per peer, labels escaped', async () => {
    const { contentType, body } = renderStatus(await groups(), 'prometheus', NOW);
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const lines = body.trimEnd().split('\n');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:9001"} 1');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="app",peer="127.0.0.1:9002"} 0');
    expect(lines).toContain('tsproxy_upstream_peer_active_connections{context="http",upstream="app",peer="127.0.0.1:9001"} 3');
    expect(lines).toContain('tsproxy_upstream_peer_requests_total{context="http",upstream="app",peer="127.0.0.1:9001"} 120');
    expect(lines).toContain('tsproxy_upstream_peer_fails{context="http",upstream="app",peer="127.0.0.1:9004"} 1');
    expect(lines).toContain('tsproxy_upstream_peer_up{context="http",upstream="<script>\\"x\\"\\\\",peer="unix:/run/a<b>.sock"} 1');
    expect(lines.filter((l) => l.startsWith('# TYPE'))).toEqual([
      '# TYPE tsproxy_upstream_peer_up gauge',
      '# TYPE tsproxy_upstream_peer_active_connections gauge',
      '# TYPE tsproxy_upstream_peer_requests_total counter',
      '# TYPE tsproxy_upstream_peer_fails gauge',
    ]);
    expect(lines.filter((l) => l.startsWith('# HELP'))).toHaveLength(4);
    // every sample line is well formed
    for (const l of lines.filter((x) => !x.startsWith('#'))) expect(l).toMatch(/^tsproxy_[a-z_]+\{context="(?:http|stream)",upstream="(?:[^"\\]|\\.)*",peer="(?:[^"\\]|\\.)*"\} \d+$/);
  });

  test('html: self-contained, refreshing, one coloured row per peer, everything escaped', async () => {
    const { contentType, body } = renderStatus(await groups(), 'html', NOW);
    expect(contentType).toBe('text/html; charset=utf-8');
    expect(body).toContain('<meta http-equiv="refresh" content="5">');
    expect(body).toContain('<h2>app <span class="ctx">http</span>');
    expect(body).toContain('<h2>&lt;script&gt;&quot;x&quot;\\ <span class="ctx">http</span>');
    expect(body).not.toContain('<script');
    expect(body).not.toMatch(/<link|src=/);
    expect(body.match(/<tr class="up">/g)).toHaveLength(2);
    expect(body.match(/<tr class="down">/g)).toHaveLength(1);
    expect(body.match(/<tr class="disabled">/g)).toHaveLength(1);
    expect(body.match(/<tr class="passive-down">/g)).toHaveLength(1);
    expect(body).toContain('<td class="peer">unix:/run/a&lt;b&gt;.sock</td>');
    expect(body).toContain('<td class="error">connect() failed (111: Connection refused)</td>');
    expect(body).toContain('<span class="count bad">1 of 4 up</span>');
    expect(body).toContain('2 of 5 peers up</b> in 2 upstreams');
  });

  test('escapeHtml', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('statusFormatOf', () => {
  test.each([
    ['', 'html', 'html'],
    ['format=json', 'html', 'json'],
    ['a=1&format=prometheus&b=2', 'json', 'prometheus'],
    ['format=html', 'prometheus', 'html'],
    ['format=xml', 'json', 'json'],
    ['xformat=json', 'html', 'html'],
    ['format=jsonx', 'html', 'html'],
  ] as const)('%j with %s configured -> %s', (args, configured, expected) => {
    expect(statusFormatOf(args, configured)).toBe(expected);
  });

  test('every upstream carries its context', async () => {
    const registry = new PeerRegistry();
    const web = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry);
    const tcp = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry, { namespace: 'stream:' });
    const doc = JSON.parse(renderStatus([web, tcp], 'json', NOW).body);
    expect(doc.upstreams.map((u: { name: string }) => u.name)).toEqual(['app', 'app']);
    expect(doc.upstreams.map((u: { context: string }) => u.context)).toEqual(['http', 'stream']);
  });
});
