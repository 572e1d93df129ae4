/**
 * proxy_cache_background_update, proxy_cache_max_range_offset, proxy_cache_min_uses on an
 * expired entry, and the lock files of fills (another process's lock, one a crash left), through
 * real sockets. Every sequence here is what nginx 1.22 gave for the same
 * requests (checked with nginx and a backend of the same kind, which ignores Range and says
 * which Range it got).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { request, startCountingBackend, type HttpBackend } from '../helpers/backend.js';
import { tempDir } from '../helpers/cli.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';

const BODY_BYTES = 108;

async function setup(locations: string): Promise<{ proxy: TestProxy; backend: HttpBackend; counts: Map<string, number>; dir: string }> {
  const { backend, counts } = await startCountingBackend(BODY_BYTES);
  const dir = tempDir('tsproxy-cache-');
  const proxy = await startProxy(`http {
    proxy_cache_path ${dir}/c levels=1:2 keys_zone=z:1m;
    server { listen 127.0.0.1:0;
      add_header X-Cache $upstream_cache_status always;
      ${locations.replaceAll('UP', `http://127.0.0.1:${backend.port}`)}
    }
  }`);
  return { proxy, backend, counts, dir };
}

async function ask(proxy: TestProxy, p: string, range?: string): Promise<string> {
  const res = await request(proxy.url(p), range === undefined ? {} : { headers: { range } });
  const cr = res.headers['content-range'];
  return `${res.status} ${String(res.headers['x-cache'])} #${String(res.headers['x-count'])} ${String(res.headers['x-got-range'])}${cr === undefined ? '' : ` ${cr}`}`;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('proxy_cache_background_update (nginx 1.22: STALE at once, UPDATING while the background request runs, then HIT)', () => {
  test('with use_stale updating: the expired entry answers at once; the next ones UPDATING; then the new entry', async () => {
    const s = await setup('location /bg/ { proxy_cache z; proxy_cache_valid 200 1s; proxy_cache_use_stale updating; proxy_cache_background_update on; proxy_pass UP; }');
    const url = '/bg/a?delay=1500';
    expect(await ask(s.proxy, url)).toBe('200 MISS #1 -');
    await sleep(2100);
    const t0 = Date.now();
    expect(await ask(s.proxy, url)).toBe('200 STALE #1 -');
    // answered without waiting for the upstream (1.5 s)
    expect(Date.now() - t0).toBeLessThan(1400);
    await expect.poll(() => s.counts.get(url)).toBe(2);
    expect(await ask(s.proxy, url)).toBe('200 UPDATING #1 -');
    await expect.poll(() => ask(s.proxy, url), { timeout: 6000 }).toBe('200 HIT #2 -');
    expect(s.backend.requests).toBe(2);
  });

  test('a client that goes away does not stop the background request: the entry is refreshed', async () => {
    const s = await setup('location /bg/ { proxy_cache z; proxy_cache_valid 200 1s; proxy_cache_use_stale updating; proxy_cache_background_update on; proxy_pass UP; }');
    expect(await ask(s.proxy, '/bg/b?delay=300')).toBe('200 MISS #1 -');
    await sleep(2100);
    expect(await ask(s.proxy, '/bg/b?delay=300')).toBe('200 STALE #1 -');
    // the client's connection is closed by now (request() uses its own); the fetch completes
    await expect.poll(() => ask(s.proxy, '/bg/b?delay=300'), { timeout: 3000 }).toBe('200 HIT #2 -');
  });

  test('without use_stale updating it does nothing: EXPIRED, fetched for the client', async () => {
    const s = await setup('location /bg/ { proxy_cache z; proxy_cache_valid 200 1s; proxy_cache_background_update on; proxy_pass UP; }');
    expect(await ask(s.proxy, '/bg/c?delay=300')).toBe('200 MISS #1 -');
    await sleep(2100);
    expect(await ask(s.proxy, '/bg/c?delay=300')).toBe('200 EXPIRED #2 -');
    expect(await ask(s.proxy, '/bg/c?delay=300')).toBe('200 HIT #2 -');
  });
});

describe('proxy_cache_max_range_offset (nginx 1.22: a Range at or past the offset goes upstream, MISS, not stored)', () => {
  test('offset 10: 20-30, a suffix range and 10-12 pass with their Range; 5-30 and 0-1,20-30 are stored; an entry answers any range', async () => {
    const s = await setup(`location /rng/ { proxy_cache z; proxy_cache_valid 200 10m; proxy_cache_max_range_offset 10; proxy_pass UP; }
      location /zero/ { proxy_cache z; proxy_cache_valid 200 10m; proxy_cache_max_range_offset 0; proxy_pass UP; }`);
    expect(await ask(s.proxy, '/rng/a', 'bytes=20-30')).toBe('200 MISS #1 bytes=20-30');
    expect(await ask(s.proxy, '/rng/a', 'bytes=20-30')).toBe('200 MISS #2 bytes=20-30');
    // tsproxy passes a MISS whole (nginx answers this one 206 already: README "Differences")
    expect(await ask(s.proxy, '/rng/a', 'bytes=5-30')).toBe('200 MISS #3 -');
    expect(await ask(s.proxy, '/rng/a', 'bytes=5-30')).toBe(`206 HIT #3 - bytes 5-30/${BODY_BYTES}`);
    expect(await ask(s.proxy, '/rng/a')).toBe('200 HIT #3 -');
    expect(await ask(s.proxy, '/rng/a', 'bytes=20-30')).toBe(`206 HIT #3 - bytes 20-30/${BODY_BYTES}`);
    expect(await ask(s.proxy, '/rng/b', 'bytes=-5')).toBe('200 MISS #1 bytes=-5');
    expect(await ask(s.proxy, '/rng/c', 'bytes=10-12')).toBe('200 MISS #1 bytes=10-12');
    expect(await ask(s.proxy, '/rng/d', 'bytes=9-12')).toBe('200 MISS #1 -');
    expect(await ask(s.proxy, '/rng/e', 'bytes=0-1,20-30')).toBe('200 MISS #1 -');
    expect(await ask(s.proxy, '/rng/e')).toBe('200 HIT #1 -');
    expect(await ask(s.proxy, '/zero/a', 'bytes=0-1')).toBe('200 MISS #1 bytes=0-1');
    expect(await ask(s.proxy, '/zero/a')).toBe('200 MISS #2 -');
    expect(await ask(s.proxy, '/zero/a', 'bytes=0-1')).toBe(`206 HIT #2 - bytes 0-1/${BODY_BYTES}`);
  });
});

describe('proxy_cache_min_uses on an expired entry (nginx 1.22: the entry exists, so the refetch is stored)', () => {
  test('min_uses 2: MISS, MISS, HIT, then EXPIRED (stored) and HIT', async () => {
    const s = await setup('location /uses/ { proxy_cache z; proxy_cache_valid 200 1s; proxy_cache_min_uses 2; proxy_pass UP; }');
    expect(await ask(s.proxy, '/uses/a')).toBe('200 MISS #1 -');
    expect(await ask(s.proxy, '/uses/a')).toBe('200 MISS #2 -');
    expect(await ask(s.proxy, '/uses/a')).toBe('200 HIT #2 -');
    await sleep(2100);
    expect(await ask(s.proxy, '/uses/a')).toBe('200 EXPIRED #3 -');
    expect(await ask(s.proxy, '/uses/a')).toBe('200 HIT #3 -');
  });
});

describe('fills are lock files beside the entry (one zone for every process)', () => {
  /** The lock of the entry of `urlPath` (nginx's built-in key, levels=1:2). */
  function lockOf(s: { dir: string; backend: HttpBackend }, urlPath: string): string {
    const h = createHash('md5').update(`http://127.0.0.1:${s.backend.port}${urlPath}`).digest('hex');
    return path.join(s.dir, 'c', h.slice(-1), h.slice(-3, -1), `${h}.lock`);
  }

  const LOCK = 'location /l/ { proxy_cache z; proxy_cache_valid 200 10m; proxy_cache_lock on; proxy_cache_lock_timeout 3s; proxy_pass UP; }';

  test("another process's fill (its lock file): a MISS waits, and looks again as soon as the lock is gone", async () => {
    const s = await setup(LOCK);
    const lock = lockOf(s, '/l/a');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, '');
    const t0 = Date.now();
    const answer = ask(s.proxy, '/l/a');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(s.backend.requests).toBe(0);
    fs.unlinkSync(lock);
    // its turn: it fetches and stores (not the lock_timeout path, which does not store)
    expect(await answer).toBe('200 MISS #1 -');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await ask(s.proxy, '/l/a')).toBe('200 HIT #1 -');
    expect(fs.existsSync(lock)).toBe(false);
  });

  test('a lock older than proxy_cache_lock_age (a crashed process\'s) is taken over at once', async () => {
    const s = await setup(LOCK);
    const lock = lockOf(s, '/l/b');
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, '');
    const old = (Date.now() - 10_000) / 1000;
    fs.utimesSync(lock, old, old);
    const t0 = Date.now();
    expect(await ask(s.proxy, '/l/b')).toBe('200 MISS #1 -');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await ask(s.proxy, '/l/b')).toBe('200 HIT #1 -');
    expect(fs.existsSync(lock)).toBe(false);
  });
});
