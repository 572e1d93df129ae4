/**
 * proxy_cache zones on the status page (issues 15 and 16): hits (HIT, STALE, UPDATING,
 * REVALIDATED) and misses (MISS, EXPIRED, BYPASS) counted per request, the hit ratio, and the
 * entries and bytes on disk as the zone's manager last found them; in JSON and Prometheus, in one
 * process and summed over worker processes (the disk figures not summed: every worker sees the
 * same directory).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { CacheZoneStatus, StatusDocument } from '../../src/core/status/document.js';
import { startHttpBackend } from '../helpers/backend.js';
import { logRecords, startCli, tempDir } from '../helpers/cli.js';
import { startProxyFromFile } from '../helpers/proxy.js';

function get(port: number, urlPath: string): Promise<{ status: number; body: string; cache: string; pid: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cache: String(res.headers['x-cache'] ?? ''), pid: String(res.headers['x-pid'] ?? '') }));
    });
    req.on('error', reject);
  });
}

async function zone(port: number, name: string): Promise<CacheZoneStatus & { pid: string }> {
  const r = await get(port, '/status');
  const doc = JSON.parse(r.body) as StatusDocument;
  return { ...doc.caches.find((c) => c.name === name)!, pid: r.pid };
}

async function cachingBackend(): Promise<{ port: number }> {
  return startHttpBackend('A', (req, res) => {
    res.setHeader('Cache-Control', 'max-age=60');
    res.end(`body of ${req.url}`);
  });
}

function conf(cacheDir: string, backendPort: number, workers: number): string {
  return `error_log stderr info;\npid off;\nwatch off;\nworker_processes ${workers};\nhttp {
  proxy_cache_path ${cacheDir} levels=1:2 keys_zone=pages:1m inactive=2s max_size=10m;
  server {
    listen 127.0.0.1:0;
    location / { proxy_cache pages; proxy_pass http://127.0.0.1:${backendPort}; add_header X-Cache $upstream_cache_status; }
    location = /status { check_status json; add_header X-Pid $pid always; }
    location = /metrics { check_status prometheus; }
  }
}\n`;
}

describe('cache zones on the status page', () => {
  test('one process: hits, misses, ratio, entries and bytes, in JSON and Prometheus', async () => {
    const backend = await cachingBackend();
    const dir = tempDir();
    const cacheDir = path.join(dir, 'cache');
    const proxy = await startProxyFromFile(conf(cacheDir, backend.port, 1), dir);
    const port = proxy.port();
    const seen = [];
    for (const p of ['/a', '/a', '/b', '/a']) seen.push((await get(port, p)).cache);
    expect(seen).toEqual(['MISS', 'HIT', 'MISS', 'HIT']);
    const z = await zone(port, 'pages');
    expect(z).toMatchObject({ name: 'pages', hits: 2, misses: 2, hitRatio: 0.5, maxSizeBytes: 10 * 1024 * 1024 });
    // the manager's next sweep (inactive=2s: every 500 ms) finds the two entries on disk
    await expect.poll(async () => (await zone(port, 'pages')).entries, { timeout: 5000 }).toBe(2);
    const onDisk = (fs.readdirSync(cacheDir, { recursive: true }) as string[])
      .map((f) => path.join(cacheDir, f)).filter((f) => fs.statSync(f).isFile()).reduce((n, f) => n + fs.statSync(f).size, 0);
    expect((await zone(port, 'pages')).sizeBytes).toBe(onDisk);
    const metrics = (await get(port, '/metrics')).body;
    expect(metrics).toContain('tsproxy_cache_hits_total{zone="pages"} 2');
    expect(metrics).toContain('tsproxy_cache_misses_total{zone="pages"} 2');
    expect(metrics).toContain('tsproxy_cache_entries{zone="pages"} 2');
  });

  test('worker_processes 2: every fetch agrees on the zone\'s totals, whichever worker answers', async () => {
    const backend = await cachingBackend();
    const dir = tempDir();
    const file = path.join(dir, 'main.conf');
    fs.writeFileSync(file, conf(path.join(dir, 'cache'), backend.port, 2));
    const run = startCli(['-c', file]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
    expect(run.child.exitCode, run.output()).toBe(null);
    const port = Number(String(logRecords(run).find((r) => r.msg === 'listening')!.address).split(':')[1]);
    const seen = [];
    for (let i = 0; i < 10; i++) seen.push((await get(port, '/x')).cache);
    // the first is a MISS; every later one, in either worker, finds the file (the files are the index)
    expect(seen).toEqual(['MISS', ...new Array(9).fill('HIT')]);
    const fetches: (CacheZoneStatus & { pid: string })[] = [];
    while (fetches.length < 10 || (new Set(fetches.map((f) => f.pid)).size < 2 && fetches.length < 200)) fetches.push(await zone(port, 'pages'));
    for (const z of fetches) expect([z.hits, z.misses, z.hitRatio]).toEqual([9, 1, 0.9]);
    expect(new Set(fetches.map((f) => f.pid)).size).toBe(2);
    // one entry on disk, not one per worker
    await expect.poll(async () => (await zone(port, 'pages')).entries, { timeout: 8000 }).toBe(1);
  }, 60_000);
});
