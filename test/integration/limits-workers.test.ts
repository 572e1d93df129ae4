/**
 * With worker_processes 2 a limit_req / limit_conn zone is one zone (the primary keeps it, the
 * workers ask over IPC), a worker that dies gives its limit_conn holds back, and stub_status
 * counts every worker's connections and requests.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { logRecords, startCli, tempDir, type RunningCli } from '../helpers/cli.js';
import { startHttpBackend } from '../helpers/backend.js';

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

/**
 * Send `send()` until one request reaches the backend (`reached()`) instead of being answered 503;
 * gives that request's answer, still pending while the backend holds it (wrapped: an async
 * function would wait for a returned promise).
 */
async function reachingBackend<T extends { status: number }>(send: () => Promise<T>, reached: () => boolean): Promise<{ answer: Promise<T> }> {
  for (let i = 0; i < 20; i++) {
    const answer = send();
    const refused = await new Promise<boolean>((resolve) => {
      const timer = setInterval(() => {
        if (reached()) {
          clearInterval(timer);
          resolve(false);
        }
      }, 5);
      answer.then((res) => {
        clearInterval(timer);
        resolve(res.status === 503);
      }, () => {
        clearInterval(timer);
        resolve(false);
      });
    });
    if (!refused) return { answer };
  }
  throw new Error('every request was refused');
}

async function startWorkers(httpBody: string): Promise<{ run: RunningCli; port: number }> {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'index.html'), 'ok\n');
  fs.writeFileSync(path.join(dir, 'main.conf'), `error_log stderr info;\npid off;\nwatch off;\nworker_processes 2;\nhttp {\n${httpBody.replaceAll('ROOT', dir)}\n}\n`);
  const run = startCli(['-c', path.join(dir, 'main.conf')]);
  await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  expect(run.child.exitCode, run.output()).toBe(null);
  const listening = logRecords(run).find((r) => r.msg === 'listening')!;
  return { run, port: Number(String(listening.address).split(':')[1]) };
}

describe('limits with worker_processes 2', () => {
  test('one limit_req zone for both workers: 3 of 12 requests pass (1r/m, burst=2 nodelay), answered by both workers', async () => {
    const { run, port } = await startWorkers(`
      limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
      server { listen 127.0.0.1:0; root ROOT; location / { limit_req zone=one burst=2 nodelay; add_header X-Pid $pid always; } }`);
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await get(port, '/'));
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    expect(results.filter((r) => r.status === 503)).toHaveLength(9);
    // the answers and the error lines come from the workers
    await expect.poll(() => logRecords(run).filter((r) => r.msg === 'limiting requests' && r.excess !== undefined).length).toBe(9);
    const pids = new Set(results.map((r) => r.pid));
    for (const r of logRecords(run).filter((x) => x.msg === 'limiting requests')) expect(pids.has(r.pid)).toBe(true);
    expect(pids.has(String(run.child.pid))).toBe(false);
    // both workers took part (the kernel spreads new connections; 12 tries make one-sidedness unlikely)
    expect(pids.size).toBeGreaterThanOrEqual(2);
  });

  test('one limit_conn zone for both workers; stub_status sums both workers', async () => {
    const held: http.ServerResponse[] = [];
    const backend = await startHttpBackend('slow', (_req, res) => void held.push(res));
    const { port } = await startWorkers(`
      limit_conn_zone $binary_remote_addr zone=addr:1m;
      server {
        listen 127.0.0.1:0;
        location /conn { limit_conn addr 1; proxy_pass http://127.0.0.1:${backend.port}; }
        location /status { stub_status; }
      }`);
    const first = get(port, '/conn');
    await expect.poll(() => backend.requests).toBe(1);
    // whichever worker takes them, the zone already holds the first
    const others = await Promise.all(Array.from({ length: 6 }, () => get(port, '/conn')));
    expect(others.map((r) => r.status)).toEqual(Array(6).fill(503));
    expect(backend.requests).toBe(1);
    // the request in progress counts as writing wherever it runs, and so does the status request
    await expect.poll(async () => (await get(port, '/status')).body)
      .toMatch(/^Active connections: 2 \nserver accepts handled requests\n (\d+) \1 \1 \nReading: 0 Writing: 2 Waiting: 0 \n$/);
    for (const res of held.splice(0)) res.end('done');
    expect((await first).status).toBe(200);
    // The first's slot goes back to the primary over IPC: a request another worker takes at the
    // same instant may still find it held (README "Differences from nginx"); the client retries.
    const { answer: again } = await reachingBackend(() => get(port, '/conn'), () => backend.requests === 2);
    for (const res of held.splice(0)) res.end('done');
    expect((await again).status).toBe(200);
    await expect.poll(async () => (await get(port, '/status')).body).toMatch(/^Active connections: 1 \nserver accepts handled requests\n (\d+) \1 \1 \nReading: 0 Writing: 1 Waiting: 0 \n$/);
  });

  test('a worker that dies gives its limit_conn holds back', async () => {
    let answerNow = false;
    const backend = await startHttpBackend('slow', (_req, res) => {
      if (answerNow) res.end('done');
    });
    const { run, port } = await startWorkers(`
      limit_conn_zone $binary_remote_addr zone=addr:1m;
      server { listen 127.0.0.1:0; location / { limit_conn addr 1; proxy_set_header X-Pid $pid; proxy_pass http://127.0.0.1:${backend.port}; } }`);
    const first = get(port, '/').catch(() => null);
    await expect.poll(() => backend.requests).toBe(1);
    expect((await get(port, '/')).status).toBe(503);
    const holder = Number(backend.seen[0]!.headers['x-pid']);
    expect(holder).not.toBe(run.child.pid);
    answerNow = true;
    process.kill(holder, 'SIGKILL');
    await first;
    // the other worker (or the replacement) takes the next request: the zone no longer counts the dead one's
    await expect.poll(async () => (await get(port, '/').catch(() => ({ status: 0 }))).status, { timeout: 15_000 }).toBe(200);
  });
});
