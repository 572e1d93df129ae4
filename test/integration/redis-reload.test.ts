/**
 * Redis links across rejected reloads (issue 17): a config that cannot be applied leaves the
 * Redis connections as they were. Counted on the redis-server itself (CLIENT LIST: tsproxy's
 * command connection is named `tsproxy`, its subscriber `tsproxy-sub`).
 */
import net from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { startHttpBackend } from '../helpers/backend.js';
import { configFrom } from '../helpers/proxy.js';
import { NO_REDIS, startRedis, type RedisServer } from '../helpers/redis.js';
import { send, startLoggedProxy } from './upstream-helpers.js';

function config(redis: RedisServer, opts: { timeout?: string; listen?: string; log?: string } = {}): string {
  return `
redis main { server ${redis.address}; timeout ${opts.timeout ?? '1s'}; }
http {
  log_format mine '$host $status';
  upstream sites { redis_peers main key=frontend:$host; }
  server {
    listen 127.0.0.1:0;
    ${opts.listen === undefined ? '' : `listen ${opts.listen};`}
    location / { proxy_pass http://sites; ${opts.log ?? ''} }
  }
}`;
}

/** tsproxy's connections to `redis` (both of every link). */
async function tsproxyClients(redis: RedisServer): Promise<number> {
  return (await redis.cli('client', 'list')).split('\n').filter((l) => / name=tsproxy(-sub)? /.test(l)).length;
}

/**
 * A config whose snapshot build fails after its Redis routing was made: a location's access log
 * names a format the config does not have (validate.ts refuses that text, so the Config is altered
 * after loading; the site's plan compiler then throws, as for any failure at that step).
 */
function failingBuild(text: string): Config {
  const c = configFrom(text);
  return { ...c, hash: `${c.hash}-broken`, http: { ...c.http!, logFormats: c.http!.logFormats.filter((f) => f.name !== 'mine') } };
}

describe.skipIf(NO_REDIS)('redis links and rejected reloads', () => {
  test('a reload rejected after its Redis links were made (a listen that cannot be bound, a build that fails) leaves no connection behind', async () => {
    const redis = await startRedis();
    const a = await startHttpBackend('a');
    await redis.cli('rpush', 'frontend:k.test', `http://127.0.0.1:${a.port}`);
    const p = await startLoggedProxy(config(redis));
    expect((await send(p.url('/'), { headers: { host: 'k.test' } })).backend).toBe('a');
    await expect.poll(() => tsproxyClients(redis)).toBe(2);

    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void busy.close());
    const busyAddress = `127.0.0.1:${(busy.address() as net.AddressInfo).port}`;
    const mine = 'access_log /dev/null mine;';

    // a changed `redis` block: the reload makes a link of its own, which must close again
    await expect(p.runtime.reload(configFrom(config(redis, { timeout: '2s', listen: busyAddress })))).rejects.toThrow();
    await expect(p.runtime.reload(failingBuild(config(redis, { timeout: '2s', log: mine })))).rejects.toThrow(/unknown log format "mine"/);
    // the same block: the reload takes the running link over, and must give it back
    await expect(p.runtime.reload(failingBuild(config(redis, { log: mine })))).rejects.toThrow(/unknown log format "mine"/);
    await expect.poll(() => tsproxyClients(redis), { timeout: 3000 }).toBe(2);

    // the running config is untouched: the known key serves, a change to it still arrives
    const b = await startHttpBackend('b');
    expect((await send(p.url('/'), { headers: { host: 'k.test' } })).backend).toBe('a');
    await redis.cli('lset', 'frontend:k.test', '0', `http://127.0.0.1:${b.port}`);
    await expect.poll(async () => (await send(p.url('/'), { headers: { host: 'k.test' } })).backend, { timeout: 1000, interval: 20 }).toBe('b');

    // stopped, nothing stays open (a reference a failed build kept would hold the link)
    await p.runtime.stop({ graceful: false });
    await expect.poll(() => tsproxyClients(redis), { timeout: 3000 }).toBe(0);
  });
});
