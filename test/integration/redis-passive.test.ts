/**
 * Passive health of Redis-fed peers (issue 17): `max_fails` / `fail_timeout` from the list's
 * entries act as on a `server` line of nginx, in each key's group of its own (nginx keeps a peer's
 * failures per upstream: two upstreams naming one address count apart), and the status page shows
 * the peer taken out (`passive-down`) in that key's group only.
 */
import { describe, expect, test } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { NO_REDIS, startRedis } from '../helpers/redis.js';
import { closedPort, peerStateIn, send, startLoggedProxy, statusJson, type LoggedProxy } from './upstream-helpers.js';

const DISABLED = 'upstream server temporarily disabled while connecting to upstream';
const refusedLines = (p: LoggedProxy, port: number) =>
  p.logs.filter((l) => l.level === 'error' && /^connect\(\) failed \(111: Connection refused\)/.test(l.msg) && JSON.stringify(l).includes(`127.0.0.1:${port}`)).length;

describe.skipIf(NO_REDIS)('passive health of Redis-fed peers', () => {
  test('max_fails / fail_timeout of a list entry take the peer out of its key\'s group only, for fail_timeout; the status page shows it', async () => {
    const redis = await startRedis();
    const live = await startHttpBackend('live');
    const dead = await closedPort();
    await redis.cli('rpush', 'frontend:one.test', 'one', `http://127.0.0.1:${dead} max_fails=1 fail_timeout=2s`, `http://127.0.0.1:${live.port}`);
    await redis.cli('rpush', 'frontend:two.test', 'two', `http://127.0.0.1:${dead}`, `http://127.0.0.1:${live.port}`);
    const p = await startLoggedProxy(`
redis main { server ${redis.address}; }
http {
  upstream sites { redis_peers main key=frontend:$host; }
  server {
    listen 127.0.0.1:0;
    location = /status { check_status json; }
    location / { proxy_pass http://sites; }
  }
}`);
    const get = async (host: string) => (await send(p.url('/'), { headers: { host } })).backend;

    // round robin tries the dead peer first: refused, retried on the live one (proxy_next_upstream error)
    const failedAt = Date.now();
    expect(await get('one.test')).toBe('live');
    expect(refusedLines(p, dead)).toBe(1);
    await expect.poll(() => p.logs.filter((l) => l.msg === DISABLED && l.code === 'TSP_ERR_PEER_DISABLED').length).toBe(1);
    let doc = await statusJson(p.url('/status'));
    expect(peerStateIn(doc, 'sites[frontend:one.test]', dead)).toBe('passive-down');
    expect(doc.upstreams.find((u) => u.name === 'sites[frontend:one.test]')!.peers.find((q) => q.key === `127.0.0.1:${dead}`)).toMatchObject({ fails: 1, connectFailures: 1 });

    // out for fail_timeout: no try reaches it
    for (let i = 0; i < 6; i++) expect(await get('one.test')).toBe('live');
    expect(refusedLines(p, dead)).toBe(1);

    // the other key's group has its own state: the same address is tried there, and taken out there
    expect(await get('two.test')).toBe('live');
    expect(refusedLines(p, dead)).toBe(2);
    doc = await statusJson(p.url('/status'));
    expect(peerStateIn(doc, 'sites[frontend:two.test]', dead)).toBe('passive-down');
    expect(peerStateIn(doc, 'sites[frontend:one.test]', dead)).toBe('passive-down');

    // after fail_timeout (2 s) one.test tries the peer again
    await expect.poll(async () => {
      await get('one.test');
      return refusedLines(p, dead);
    }, { timeout: 4000, interval: 200 }).toBe(3);
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(1800);
  });
});
