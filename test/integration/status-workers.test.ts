/**
 * check_status with worker_processes 2 (issue 16): the primary owns the totals and the health
 * checks, so every fetch, whichever worker answers it, shows the same numbers; counters never go
 * backwards, also when a worker is replaced or the config is reloaded.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backend.js';
import type { PeerStatus, StatusDocument } from '../../src/core/status/document.js';

/** One GET on a new connection (so the kernel spreads them over both workers). */
function get(port: number, urlPath: string): Promise<{ status: number; body: string; pid: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, pid: String(res.headers['x-pid'] ?? '') }));
    });
    req.on('error', reject);
  });
}

async function fetchStatus(port: number): Promise<{ doc: StatusDocument; pid: string }> {
  const r = await get(port, '/status');
  expect(r.status).toBe(200);
  return { doc: JSON.parse(r.body) as StatusDocument, pid: r.pid };
}

function conf(dir: string, backendPort: number, extra = ''): string {
  return `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nhttp {
  upstream app { server 127.0.0.1:${backendPort}; check interval=100 rise=1 fall=1 timeout=1000 type=http; }
  server {
    listen 127.0.0.1:0;
    location / { proxy_pass http://app; }
    location = /status { check_status json; add_header X-Pid $pid always; }
    ${extra}
  }
}\n`.replaceAll('ROOT', dir);
}

async function startWorkers(text: string, dir: string): Promise<{ run: RunningCli; port: number; file: string }> {
  const file = path.join(dir, 'main.conf');
  fs.writeFileSync(file, text);
  const run = startCli(['-c', file]);
  await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  expect(run.child.exitCode, run.output()).toBe(null);
  const listening = logRecords(run).find((r) => r.msg === 'listening')!;
  return { run, port: Number(String(listening.address).split(':')[1]), file };
}

const peerOf = (doc: StatusDocument): PeerStatus => doc.upstreams.find((u) => u.name === 'app')!.peers[0]!;

describe('check_status with worker_processes 2', () => {
  test('40 requests: ten fetches in a row agree on every total, whichever worker answers, and lastAt is never null', async () => {
    const backend = await startHttpBackend('A');
    const dir = tempDir();
    const { port } = await startWorkers(conf(dir, backend.port), dir);
    await expect.poll(async () => peerOf((await fetchStatus(port)).doc).check?.lastAt ?? null, { timeout: 10_000 }).not.toBeNull();
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await get(port, '/'));
    expect(results.every((r) => r.status === 200)).toBe(true);

    // ten in a row at least, and on until both workers answered (the kernel spreads new
    // connections, but under load one worker may take several in a row)
    const fetches: { doc: StatusDocument; pid: string }[] = [];
    while (fetches.length < 10 || (new Set(fetches.map((f) => f.pid)).size < 2 && fetches.length < 200)) fetches.push(await fetchStatus(port));
    const peers = fetches.map((f) => peerOf(f.doc));
    for (const p of peers) {
      expect(p.requests).toBe(40);
      expect(p.responses['2xx']).toBe(40);
      expect(p.responseTime.count).toBe(40);
      expect(p.check?.lastAt).not.toBeNull();
      expect(p.check?.lastResult).toBe('L7 200');
      expect(p.state).toBe('up');
    }
    // byte and connection totals agree exactly too
    expect(new Set(peers.map((p) => `${p.sentBytes}/${p.receivedBytes}/${p.connections}`)).size).toBe(1);
    // the server block counts the proxied requests and every status fetch before this one
    const servers = fetches.map((f) => f.doc.servers[0]!.requests);
    const first = servers[0]!;
    expect(servers).toEqual(servers.map((_, i) => first + i));
    expect(fetches.every((f) => f.doc.process.workers === 2 && f.doc.process.workersRunning === 2)).toBe(true);
    // the answers came from both workers
    expect(new Set(fetches.map((f) => f.pid)).size).toBe(2);
  }, 60_000);

  test('a replaced worker takes nothing away, and a reload keeps the counters of what stays', async () => {
    const backend = await startHttpBackend('A');
    const dir = tempDir();
    const { run, port, file } = await startWorkers(conf(dir, backend.port), dir);
    for (let i = 0; i < 20; i++) expect((await get(port, '/')).status).toBe(200);
    const before = await fetchStatus(port);
    expect(peerOf(before.doc).requests).toBe(20);
    const serverBefore = before.doc.servers[0]!.requests;

    // kill the worker that answered; the primary starts another
    process.kill(Number(before.pid), 'SIGKILL');
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'worker process started'), { timeout: 20_000 }).toBe(true);
    let last = before.doc;
    for (let i = 0; i < 5; i++) {
      const { doc } = await fetchStatus(port);
      expect(peerOf(doc).requests).toBe(20);
      expect(doc.servers[0]!.requests).toBeGreaterThanOrEqual(last.servers[0]!.requests);
      expect(doc.process.connections.accepts).toBeGreaterThan(0);
      last = doc;
    }
    expect(last.servers[0]!.requests).toBeGreaterThan(serverBefore);

    // a reload that keeps the upstream and the server block keeps their counters
    fs.writeFileSync(file, conf(dir, backend.port, 'location = /extra { return 204; }'));
    process.kill(run.child.pid!, 'SIGHUP');
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'configuration reloaded'), { timeout: 10_000 }).toBe(true);
    expect((await get(port, '/extra')).status).toBe(204);
    for (let i = 0; i < 5; i++) expect((await get(port, '/')).status).toBe(200);
    const after = (await fetchStatus(port)).doc;
    expect(peerOf(after).requests).toBe(25);
    expect(after.servers[0]!.requests).toBeGreaterThan(last.servers[0]!.requests);
    expect(after.process).toMatchObject({ reloads: 1, lastReloadOk: true, lastReloadError: null, workers: 2 });
    expect(after.process.lastReloadAt).not.toBeNull();

    // a reload the config refuses is recorded with its error; the counters stay
    fs.writeFileSync(file, conf(dir, backend.port, 'location = /bad { no_such_directive; }'));
    process.kill(run.child.pid!, 'SIGHUP');
    await expect.poll(async () => (await fetchStatus(port)).doc.process.reloads, { timeout: 10_000 }).toBe(2);
    const refused = (await fetchStatus(port)).doc;
    expect(refused.process.lastReloadOk).toBe(false);
    expect(refused.process.lastReloadError).toContain('no_such_directive');
    expect(peerOf(refused).requests).toBe(25);

    // the primary records the history from the merged totals: a point every 5 s, listing the
    // upstreams with a try in its interval
    await expect.poll(async () => (await fetchStatus(port)).doc.history.samples.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
    const { history } = (await fetchStatus(port)).doc;
    expect(history.intervalMs).toBe(5000);
    const points = history.samples.length;
    for (let i = 0; i < 5; i++) expect((await get(port, '/')).status).toBe(200);
    const later = async () => (await fetchStatus(port)).doc.history.samples.slice(points).map((p) => p.upstreams.app).filter((u) => u !== undefined);
    await expect.poll(async () => (await later()).some((u) => u.requestRate > 0), { timeout: 20_000 }).toBe(true);
    expect((await later()).every((u) => u.errorRate === 0)).toBe(true);
  }, 60_000);
});
