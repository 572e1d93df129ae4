/**
 * Redis-fed http upstreams (issue 17), two tsproxy instances on one real redis-server: a backend
 * added with redis-cli is reached through both within 1 s, a removed one gets no traffic within
 * 1 s, Redis killed: known hosts keep serving with zero failures, unknown hosts get 502 and one
 * error line per outage; restarted: hosts added meanwhile are routed.
 */
import { describe, expect, test } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { NO_REDIS, startRedis, type RedisServer } from '../helpers/redis.js';
import { configFrom } from '../helpers/proxy.js';
import { send, startLoggedProxy, type LoggedProxy } from './upstream-helpers.js';

function config(redis: RedisServer, extra = ''): string {
  return `
redis main { server ${redis.address}; timeout 1s; }
http {
  upstream sites {
    redis_peers main key=frontend:$host;
    ${extra}
  }
  server {
    listen 127.0.0.1:0;
    location / { proxy_pass http://sites; }
  }
}`;
}

const get = (p: LoggedProxy, host: string) => send(p.url('/'), { headers: { host } });

describe.skipIf(NO_REDIS)('redis_peers in http upstreams', () => {
  test('a backend added with redis-cli is reached through two instances within 1 s; removed, it gets no traffic within 1 s', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    // hipache's layout: an identifier first, then the backends
    await redis.cli('rpush', 'frontend:app.test', 'app', `http://127.0.0.1:${a.port}`);
    const p1 = await startLoggedProxy(config(redis));
    const p2 = await startLoggedProxy(config(redis));
    for (const p of [p1, p2]) expect((await get(p, 'app.test')).backend).toBe('a');

    const added = Date.now();
    await redis.cli('rpush', 'frontend:app.test', `127.0.0.1:${b.port}`);
    for (const p of [p1, p2]) {
      await expect.poll(async () => (await get(p, 'app.test')).backend, { timeout: 1000, interval: 20 }).toBe('b');
    }
    expect(Date.now() - added).toBeLessThan(1000);

    await redis.cli('lrem', 'frontend:app.test', '0', `http://127.0.0.1:${a.port}`);
    for (const p of [p1, p2]) {
      await expect.poll(async () => {
        const replies = await Promise.all([1, 2, 3, 4].map(() => get(p, 'app.test')));
        return replies.map((r) => r.backend).join();
      }, { timeout: 1000, interval: 20 }).toBe('b,b,b,b');
    }
    const before = a.requests;
    for (let i = 0; i < 10; i++) expect((await get(p1, 'app.test')).backend).toBe('b');
    expect(a.requests).toBe(before);

    // DEL: no peers, 502 with a line naming the key
    await redis.cli('del', 'frontend:app.test');
    await expect.poll(async () => (await get(p1, 'app.test')).status, { timeout: 1000, interval: 20 }).toBe(502);
    expect(p1.logs.some((l) => l.msg === 'no peers in redis list "frontend:app.test" of upstream "sites"')).toBe(true);
  });

  test('weights and the hipache identifier; a key without a list is a 502', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    await redis.cli('rpush', 'frontend:w.test', 'w', `http://127.0.0.1:${a.port} weight=3`, `http://127.0.0.1:${b.port}`);
    const p = await startLoggedProxy(config(redis));
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push((await get(p, 'w.test')).backend ?? '?');
    expect(seen.filter((s) => s === 'a')).toHaveLength(6);
    expect(seen.filter((s) => s === 'b')).toHaveLength(2);
    expect((await get(p, 'nothing.test')).status).toBe(502);
  });

  test('Redis killed: known hosts keep serving with zero failures, unknown hosts get 502 and one error line; restarted: new hosts are routed', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    const n = await startHttpBackend('new');
    await redis.cli('rpush', 'frontend:known.test', `http://127.0.0.1:${a.port}`);
    const p1 = await startLoggedProxy(config(redis));
    const p2 = await startLoggedProxy(config(redis));
    for (const p of [p1, p2]) expect((await get(p, 'known.test')).backend).toBe('a');

    await redis.kill();
    for (const p of [p1, p2]) {
      await expect.poll(() => p.logs.filter((l) => l.code === 'TSP_ERR_REDIS').length).toBe(1);
    }
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => get(i % 2 === 0 ? p1 : p2, 'known.test')));
    expect(replies.filter((r) => r.status !== 200 || r.backend !== 'a')).toEqual([]);
    for (let i = 0; i < 5; i++) expect((await get(p1, `unknown${i}.test`)).status).toBe(502);
    // one line per outage, not one per request
    expect(p1.logs.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(p1.logs.find((l) => l.code === 'TSP_ERR_REDIS')!.msg).toMatch(/^redis "main" at 127\.0\.0\.1:\d+ is unreachable \(.*\); known keys keep their last peers, unknown keys get 502 until it is back$/);

    await redis.restart();
    await redis.cli('rpush', 'frontend:later.test', `http://127.0.0.1:${n.port}`);
    for (const p of [p1, p2]) {
      await expect.poll(async () => (await get(p, 'later.test')).backend, { timeout: 5000, interval: 50 }).toBe('new');
      expect(p.logs.some((l) => l.msg === 'redis "main" is reachable again')).toBe(true);
    }
  });

  test('changes made while Redis was down are picked up on reconnect', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    await redis.cli('rpush', 'frontend:x.test', `http://127.0.0.1:${a.port}`);
    const p = await startLoggedProxy(config(redis));
    expect((await get(p, 'x.test')).backend).toBe('a');
    await redis.kill();
    await expect.poll(() => p.logs.some((l) => l.code === 'TSP_ERR_REDIS')).toBe(true);
    // the restarted server is empty (no persistence): the operator writes the list again, differently
    await redis.restart();
    await redis.cli('rpush', 'frontend:x.test', `http://127.0.0.1:${b.port}`);
    await expect.poll(async () => (await get(p, 'x.test')).backend, { timeout: 5000, interval: 50 }).toBe('b');
  });

  test('without keyspace notifications on the server, changes arrive through the refresh within about a second', async () => {
    const redis = await startRedis({ notify: '' });
    const a = await startHttpBackend('a');
    const b = await startHttpBackend('b');
    await redis.cli('rpush', 'frontend:poll.test', `http://127.0.0.1:${a.port}`);
    const p = await startLoggedProxy(config(redis));
    expect((await get(p, 'poll.test')).backend).toBe('a');
    await redis.cli('lset', 'frontend:poll.test', '0', `http://127.0.0.1:${b.port}`);
    await expect.poll(async () => (await get(p, 'poll.test')).backend, { timeout: 2000, interval: 50 }).toBe('b');
    expect(p.logs.some((l) => l.level === 'notice' && /sends no keyspace notifications/.test(l.msg))).toBe(true);
  });

  test('a reload keeps the connection and the known keys: with Redis down, known hosts still serve after it', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    await redis.cli('rpush', 'frontend:r.test', `http://127.0.0.1:${a.port}`);
    const p = await startLoggedProxy(config(redis));
    expect((await get(p, 'r.test')).backend).toBe('a');
    const clients = async () => (await redis.cli('client', 'list')).split('\n').filter((l) => / name=tsproxy /.test(l)).length;
    expect(await clients()).toBe(1);
    await p.runtime.reload(configFrom(config(redis, 'keepalive 8;')));
    expect((await get(p, 'r.test')).backend).toBe('a');
    // the same connection: no second one opened by the reload
    expect(await clients()).toBe(1);
    await redis.kill();
    await expect.poll(() => p.logs.some((l) => l.code === 'TSP_ERR_REDIS')).toBe(true);
    await p.runtime.reload(configFrom(config(redis, 'keepalive 4;')));
    for (let i = 0; i < 5; i++) expect((await get(p, 'r.test')).backend).toBe('a');
  });
});
