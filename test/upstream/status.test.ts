import { describe, expect, test } from 'vitest';
import { UpstreamGroup } from '../../src/upstream/group.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { statusDocument } from '../../src/upstream/status.js';
import { check, server, upstream } from './helpers.js';

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
  up!.requests = 120;
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

describe('statusDocument', () => {
  test('the live state of every peer, with its states', async () => {
    const doc = JSON.parse(JSON.stringify(statusDocument(await groups(), NOW)));
    expect(doc.generatedAt).toBe('2025-01-02T03:04:05.000Z');
    expect(doc.upstreams.map((u: { name: string }) => u.name)).toEqual(['app', '<script>"x"\\']);
    expect(doc.upstreams[0].peers[0]).toEqual({
      key: '127.0.0.1:9001',
      state: 'up',
      weight: 2,
      backup: false,
      activeConns: 3,
      requests: 120,
      fails: 0,
      rise: 7,
      fall: 0,
      lastCheck: '2025-01-02T03:04:04.000Z',
      lastError: null,
      checkType: 'http',
    });
    expect(doc.upstreams[0].peers.map((p: { state: string }) => p.state)).toEqual(['up', 'down', 'disabled', 'passive-down']);
    expect(doc.upstreams[0].peers[1].lastError).toBe('connect() failed (111: Connection refused)');
    expect(doc.upstreams[1].peers[0]).toMatchObject({ key: 'unix:/run/a<b>.sock', checkType: null, lastCheck: null });
  });

  test('every upstream carries its context', async () => {
    const registry = new PeerRegistry();
    const web = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry);
    const tcp = await UpstreamGroup.create(upstream('app', [server('127.0.0.1:9001')]), registry, { namespace: 'stream:' });
    expect(statusDocument([web, tcp], NOW).upstreams.map((u) => u.context)).toEqual(['http', 'stream']);
  });
});
