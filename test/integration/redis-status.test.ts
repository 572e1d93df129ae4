/**
 * The status page with Redis (issue 17): the connection state of each `redis` block, which
 * upstreams are Redis-fed and their keys, each key's group with its peers and counters, in JSON
 * and in Prometheus (checked by promtool).
 */
import { describe, expect, test } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { HAVE_PROMTOOL, promtoolCheck } from '../helpers/promtool.js';
import { NO_REDIS, startRedis } from '../helpers/redis.js';
import { send, startLoggedProxy, statusJson } from './upstream-helpers.js';

describe.skipIf(NO_REDIS)('check_status with redis', () => {
  test('connection state, fed upstreams and their keys, a group per key; down after Redis is killed', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    await redis.cli('rpush', 'frontend:app.test', 'app', `http://127.0.0.1:${a.port} weight=2`);
    const p = await startLoggedProxy(`
redis main { server ${redis.address}; }
http {
  upstream sites { redis_peers main key=frontend:$host; }
  server {
    listen 127.0.0.1:0;
    location = /status { check_status json; }
    location = /metrics { check_status prometheus; }
    location / { proxy_pass http://sites; }
  }
}`);
    for (let i = 0; i < 3; i++) expect((await send(p.url('/'), { headers: { host: 'app.test' } })).backend).toBe('a');
    const doc = await statusJson(p.url('/status'));
    expect(doc.redis).toEqual([{
      name: 'main', server: redis.address, instance: expect.stringMatching(/^\d+-[0-9a-f-]{36}$/), state: 'up', stateSince: expect.any(String), outages: 0, lastError: null, notifications: true,
      upstreams: [{ name: 'sites', context: 'http', key: 'frontend:$host', keys: [{ key: 'frontend:app.test', list: ['app', `http://127.0.0.1:${a.port} weight=2`] }] }],
    }]);
    const placeholder = doc.upstreams.find((u) => u.name === 'sites')!;
    expect(placeholder.redisPeers).toEqual({ redis: 'main', key: 'frontend:$host' });
    expect(placeholder.peers).toEqual([]);
    const keyed = doc.upstreams.find((u) => u.name === 'sites[frontend:app.test]')!;
    expect(keyed.redisKey).toBe('frontend:app.test');
    expect(keyed.peers.map((q) => [q.key, q.weight, q.requests])).toEqual([[`127.0.0.1:${a.port}`, 2, 3]]);

    const metrics = (await send(p.url('/metrics'))).body;
    if (HAVE_PROMTOOL) expect(promtoolCheck(metrics)).toEqual({ status: 0, output: '' });
    expect(metrics).toContain('tsproxy_redis_up{redis="main"} 1');
    expect(metrics).toContain('tsproxy_redis_upstream_keys{redis="main",context="http",upstream="sites",key="frontend:$host"} 1');
    expect(metrics).toContain(`tsproxy_upstream_peer_requests_total{context="http",upstream="sites[frontend:app.test]",peer="127.0.0.1:${a.port}"} 3`);

    await redis.kill();
    await expect.poll(async () => (await statusJson(p.url('/status'))).redis[0]!.state).toBe('down');
    // the reconnection attempts say why
    await expect.poll(async () => (await statusJson(p.url('/status'))).redis[0]!.lastError).toMatch(/ECONNREFUSED/);
    expect((await statusJson(p.url('/status'))).redis[0]!.outages).toBe(1);
    expect((await send(p.url('/metrics'))).body).toContain('tsproxy_redis_up{redis="main"} 0');
  });
});
