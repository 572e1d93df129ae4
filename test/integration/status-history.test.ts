/**
 * check_status history in a single process: the first point (5 s after the start) holds the
 * request and error rates of that interval, per upstream and for the server blocks, summed from
 * the live counters (core/status/sample.ts historyTotalsLocal, which replaced a full sample per
 * point: 10,000 upstreams made that a ~0.25 s stall of the serving thread every 5 s).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { logRecords, startCli, tempDir } from '../helpers/cli.js';
import { request, startHttpBackend } from '../helpers/backend.js';
import type { StatusDocument } from '../../src/core/status/document.js';

const get = (port: number, urlPath: string) => request(`http://127.0.0.1:${port}${urlPath}`);

test('the history point of an interval has its request and error rates, per upstream and in all', async () => {
  const backend = await startHttpBackend('app', (req, res) => {
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('x');
  });
  const dir = tempDir('tsproxy-status-history-');
  const file = path.join(dir, 'main.conf');
  fs.writeFileSync(file, `error_log stderr info;\npid off;\nwatch off;\nhttp {
  upstream app { server 127.0.0.1:${backend.port}; }
  upstream other { server 127.0.0.1:${backend.port}; }
  server {
    listen 127.0.0.1:0;
    location / { proxy_pass http://app; }
    location /other { proxy_pass http://other; }
    location = /status { check_status json; }
  }
}\n`);
  const run = startCli(['-c', file]);
  await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started') || run.child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  const port = Number(String(logRecords(run).find((r) => r.msg === 'listening')!.address).split(':')[1]);
  for (let i = 0; i < 8; i++) expect((await get(port, '/')).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await get(port, '/fail')).status).toBe(503);
  const status = async () => JSON.parse((await get(port, '/status')).body) as StatusDocument;
  await expect.poll(async () => (await status()).history.samples.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
  const first = (await status()).history.samples[0]!;
  // 10 proxied requests (2 of them 5xx) in the first interval of ~5 s; the status fetches of the poll add to the server's
  expect(first.upstreams.app!.requestRate).toBeCloseTo(10 / 5, 0);
  expect(first.upstreams.app!.errorRate).toBeCloseTo(2 / 5, 0);
  expect(first.upstreams.app!.p50Ms).not.toBeNull();
  // no try at `other` in the interval: left out of the point (its rates are 0)
  expect(first.upstreams.other).toBeUndefined();
  expect(first.requestRate).toBeGreaterThanOrEqual(first.upstreams.app!.requestRate);
  expect(first.errorRate).toBeCloseTo(2 / 5, 0);
}, 40_000);
