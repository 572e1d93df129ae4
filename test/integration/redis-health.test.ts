/**
 * `health_share` (issue 17): two instances share one health view through Redis. A backend is
 * probed about as often by two instances as by one (one holds the peer's lease), a peer that
 * fails is avoided by both, and when the prober stops the other takes the lease within two
 * intervals. With worker_processes > 1 the primary runs the checks of static upstreams, and shares
 * them the same way: the instance is one prober among the others, and its workers follow verdicts
 * another instance published.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { startHttpBackend, type HttpBackend } from '../helpers/backend.js';
import { logRecords, startCli, tempDir } from '../helpers/cli.js';
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

function config(redis: RedisServer, a: number, b: number, main = ''): string {
  return `${main}
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

  test('worker_processes 2: the primary probes under the lease like a single process, and its workers follow the verdicts of another instance', async () => {
    const redis = await startRedis();
    const a = await checkedBackend('a');
    const b = await checkedBackend('b');
    const p1 = await startLoggedProxy(config(redis, a.port, b.port));
    const lease = `tsproxy:health:lease:app|127.0.0.1:${a.port}`;
    const p1Id = p1.runtime.status.document().redis[0]!.instance;
    // p1 alone holds a's lease
    await expect.poll(() => redis.cli('get', lease)).toBe(p1Id);
    const alone = await probesOver(a, INTERVAL_MS * 10);

    const dir = tempDir();
    const file = path.join(dir, 'main.conf');
    fs.writeFileSync(file, config(redis, a.port, b.port, 'error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;'));
    const run = startCli(['-c', file]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
    expect(run.child.exitCode, run.output()).toBe(null);
    const port = Number(String(logRecords(run).find((r) => r.msg === 'listening')!.address).split(':')[1]);
    await sleep(INTERVAL_MS * 2);
    // the primary skips the probes of a peer whose lease another instance holds (unshared: twice as many)
    const both = await probesOver(a, INTERVAL_MS * 10);
    expect(alone).toBeGreaterThanOrEqual(6);
    expect(both).toBeLessThanOrEqual(Math.ceil(alone * 1.4));
    expect(await redis.cli('get', lease)).toBe(p1Id);

    // p1 probes a and finds it failing: the workers (new connections spread over both) avoid it
    a.fail = true;
    const backends = async () => {
      const replies = await Promise.all([1, 2, 3, 4, 5, 6].map(() => new Promise<string>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
        }).on('error', () => resolve('error'));
      })));
      return [...new Set(replies)].sort().join();
    };
    await expect.poll(backends, { timeout: 3000, interval: 50 }).toBe('b');
    expect(logRecords(run).some((r) => r.msg === `peer 127.0.0.1:${a.port} in upstream app is down (shared through redis "main")`)).toBe(true);
    a.fail = false;
    await expect.poll(backends, { timeout: 3000, interval: 50 }).toBe('a,b');

    // p1 stops: the primary takes the lease over within two intervals and probes on
    await p1.runtime.stop({ graceful: false });
    const stopped = Date.now();
    await expect.poll(async () => {
      const holder = await redis.cli('get', lease);
      return holder !== '' && holder !== p1Id;
    }, { timeout: INTERVAL_MS * 4, interval: 20 }).toBe(true);
    expect(Date.now() - stopped).toBeLessThan(INTERVAL_MS * 2 + 250);
    expect(await probesOver(a, INTERVAL_MS * 5)).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
