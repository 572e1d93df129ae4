/**
 * Peers down only by `default_down` (the `check` default) are probed at once at start and after a
 * reload, back to back until `rise`: a freshly started proxy serves a live backend within a
 * second, not after interval x rise (20 s here).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { freePort, logRecords, startCli, tempDir } from '../helpers/cli.js';
import { configFrom, startProxy } from '../helpers/proxy.js';

function get(port: number, urlPath = '/'): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', (e) => resolve(e.message));
  });
}

const upstreams = (ports: number[]) =>
  `upstream app { ${ports.map((p) => `server 127.0.0.1:${p};`).join(' ')} check interval=10000 rise=2 fall=5 timeout=1000 type=http; }`;

describe('active checks at start', () => {
  it('serves within a second of start with check interval=10000 rise=2, and a peer added by reload as soon', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const t0 = Date.now();
    const proxy = await startProxy(`http { ${upstreams([a.port])} server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    await expect.poll(() => get(proxy.port()), { timeout: 1000, interval: 20 }).toBe('200 A');
    expect(Date.now() - t0).toBeLessThan(1500);

    // B joins by reload: probed at once too, while A keeps its verdict.
    const t1 = Date.now();
    await proxy.runtime.reload(configFrom(`http { ${upstreams([a.port, b.port])} server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`));
    await expect.poll(async () => new Set(await Promise.all(Array.from({ length: 6 }, () => get(proxy.port())))), { timeout: 1000, interval: 20 })
      .toEqual(new Set(['200 A', '200 B']));
    expect(Date.now() - t1).toBeLessThan(1500);
  });

  it('worker processes serve within about a second of "tsproxy started" too (the primary checks)', async () => {
    const a = await startHttpBackend('A');
    const dir = tempDir();
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'main.conf'),
      `error_log stderr info;\npid off;\nworker_processes 2;\nhttp { ${upstreams([a.port])} server { listen 127.0.0.1:${port}; location / { proxy_pass http://app; } } }\n`,
    );
    const run = startCli(['-c', path.join(dir, 'main.conf')]);
    await expect.poll(() => logRecords(run).some((r) => r.msg === 'tsproxy started'), { timeout: 30_000 }).toBe(true);
    await expect.poll(() => get(port), { timeout: 1500, interval: 20 }).toBe('200 A');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  }, 60_000);
});
