/**
 * `health_share` (issue 17): two instances share one health view through Redis. A backend is
 * probed about as often by two instances as by one (one holds the peer's lease), a peer that
 * fails is avoided by both, and when the prober stops the other takes the lease within two
 * intervals.
 */
import { describe, expect, test } from 'vitest';
import { startHttpBackend, type HttpBackend } from '../helpers/backend.js';
import { NO_REDIS, startRedis, type RedisServer } from '../helpers/redis.js';
import { send, startLoggedProxy, type LoggedProxy } from './upstream-helpers.js';

const INTERVAL_MS = 300;

/** A backend whose /health answers 200 until `fail` is set; counts the probes. */
async function checkedBackend(name: string): Promise<HttpBackend & { probes: number; fail: boolean }> {
  const state = { probes: 0, fail: false };
  const b = await startHttpBackend(name, (req, res) => {
    req.resume();
    if (req.url === '/health') {
      state.probes++;
      res.statusCode = state.fail ? 500 : 200;
    }
    res.end(name);
  });
  return Object.defineProperties(b, {
    probes: { get: () => state.probes },
    fail: { get: () => state.fail, set: (v: boolean) => (state.fail = v) },
  }) as HttpBackend & { probes: number; fail: boolean };
}

function config(redis: RedisServer, a: number, b: number): string {
  return `
redis main { server ${redis.address}; }
http {
  upstream app {
    server 127.0.0.1:${a};
    server 127.0.0.1:${b};
    check interval=${INTERVAL_MS} rise=1 fall=1 timeout=1000 type=http;
    check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";
    health_share main;
  }
  server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function probesOver(b: { probes: number }, ms: number): Promise<number> {
  const before = b.probes;
  await sleep(ms);
  return b.probes - before;
}

describe.skipIf(NO_REDIS)('health_share', () => {
  test('two instances probe a peer about as often as one; a failing peer is avoided by both; the lease is taken over when the prober stops', async () => {
    const redis = await startRedis();
    const a = await checkedBackend('a');
    const b = await checkedBackend('b');
    const p1 = await startLoggedProxy(config(redis, a.port, b.port));
    // one instance alone: about one probe per interval
    await sleep(INTERVAL_MS * 2);
    const alone = await probesOver(a, INTERVAL_MS * 10);
    const p2 = await startLoggedProxy(config(redis, a.port, b.port));
    await sleep(INTERVAL_MS * 2);
    const both = await probesOver(a, INTERVAL_MS * 10);
    expect(alone).toBeGreaterThanOrEqual(6);
    // without sharing, two instances would probe twice as often
    expect(both).toBeLessThanOrEqual(Math.ceil(alone * 1.4));

    // a failing peer: whoever probes it, both stop sending to it
    a.fail = true;
    const onlyB = async (p: LoggedProxy) => {
      const replies = await Promise.all([1, 2, 3, 4].map(() => send(p.url('/'))));
      return replies.map((r) => r.backend).join();
    };
    for (const p of [p1, p2]) await expect.poll(() => onlyB(p), { timeout: 3000, interval: 50 }).toBe('b,b,b,b');
    expect([p1, p2].some((p) => p.logs.some((l) => /^peer 127\.0\.0\.1:\d+ in upstream app is down \(shared through redis "main"\)$/.test(l.msg)))).toBe(true);
    a.fail = false;
    for (const p of [p1, p2]) {
      await expect.poll(async () => new Set((await Promise.all([1, 2, 3, 4].map(() => send(p.url('/'))))).map((r) => r.backend)).size, { timeout: 3000, interval: 50 }).toBe(2);
    }

    // whoever probes a stops: the other takes a's lease within two intervals, and probes go on
    const lease = `tsproxy:health:lease:app|127.0.0.1:${a.port}`;
    const instanceOf = (p: LoggedProxy) => p.runtime.status.document().redis[0]!.instance;
    const holder = await redis.cli('get', lease);
    const [gone, stays] = holder === instanceOf(p1) ? [p1, p2] : [p2, p1];
    expect(holder).toBe(instanceOf(gone));
    await gone.runtime.stop({ graceful: false });
    const stopped = Date.now();
    await expect.poll(() => redis.cli('get', lease), { timeout: INTERVAL_MS * 4, interval: 20 }).toBe(instanceOf(stays));
    // two intervals, and some room for a loaded machine
    expect(Date.now() - stopped).toBeLessThan(INTERVAL_MS * 2 + 250);
    expect(await probesOver(a, INTERVAL_MS * 5)).toBeGreaterThanOrEqual(3);
  });
});
