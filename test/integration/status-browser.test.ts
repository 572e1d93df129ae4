/**
 * The HTML status page in a real headless browser (Debian chromium driven by playwright-core):
 * one row per peer with its state, green for up and red for down as computed by the browser, and
 * the auto-refresh. Skipped only on a machine without chromium outside CI; in CI it must run.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { closedPort, peerStateIn, send, startLoggedProxy, statusJson } from './upstream-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** "rgb(217, 242, 217)" → which channel dominates. */
function hue(color: string): 'green' | 'red' | 'grey' | 'other' {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(color);
  if (m === null) return 'other';
  const [r, g, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (g > r + 20 && g > b + 20) return 'green';
  if (r > g + 20 && r > b + 20) return 'red';
  if (Math.max(r, g, b) - Math.min(r, g, b) <= 10) return 'grey';
  return 'other';
}

describe('check_status html in a browser', () => {
  it.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('shows one coloured row per peer and refreshes itself', { timeout: 60_000 }, async () => {
    const [a, b, c, d] = await Promise.all(['A', 'B', 'C', 'D'].map((n) => startHttpBackend(n)));
    const dead = await closedPort();
    const streamPort = await closedPort();
    const proxy = await startLoggedProxy(
      `http {
        upstream app {
          server 127.0.0.1:${a!.port} weight=3; server 127.0.0.1:${b!.port}; server 127.0.0.1:${dead};
          server 127.0.0.1:${c!.port} down; server 127.0.0.1:${d!.port} backup;
          check interval=100 rise=1 fall=1 timeout=500 default_down=true type=http;
        }
        server { listen 127.0.0.1:0;
          location = /status { check_status; }
          location = /status.json { check_status json; }
          location / { proxy_pass http://app; }
        }
      }
      stream {
        upstream db { server 127.0.0.1:${a!.port}; server 127.0.0.1:${dead}; check interval=100 rise=1 fall=1 type=tcp; }
        server { listen 127.0.0.1:${streamPort}; proxy_pass db; }
      }`,
      '127.0.0.1:0',
    );
    await expect
      .poll(async () => {
        const doc = await statusJson(proxy.url('/status.json'));
        return [peerStateIn(doc, 'app', a!.port), peerStateIn(doc, 'app', dead), peerStateIn(doc, 'db', dead)];
      }, { timeout: 5000 })
      .toEqual(['up', 'down', 'down']);
    for (let i = 0; i < 8; i++) await send(proxy.url('/'), { agent: false });

    const userDataDir = mkdtempSync(join(tmpdir(), 'tsproxy-chromium-'));
    onTestFinished(() => rmSync(userDataDir, { recursive: true, force: true }));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 720 },
    });
    onTestFinished(() => context.close());
    const page = await context.newPage();
    const res = await page.goto(proxy.url('/status'));
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');

    expect(await page.title()).toBe('tsproxy status');

    const tables = await page.$$eval('section.upstream', (sections) =>
      sections.map((s) => ({
        title: s.querySelector('h2')?.textContent ?? '',
        rows: [...s.querySelectorAll('tbody tr')].map((tr) => ({
          peer: (tr as HTMLTableRowElement).cells[0]?.textContent ?? '',
          state: (tr as HTMLTableRowElement).cells[1]?.textContent ?? '',
          background: getComputedStyle((tr as HTMLTableRowElement).cells[1]!).backgroundColor,
        })),
      })),
    );
    const rowsOf = (i: number) => tables[i]!.rows.map((r) => `${r.peer} ${r.state} ${hue(r.background)}`);
    expect(tables.map((t) => t.title)).toEqual([
      expect.stringMatching(/^app\b.*http/),
      expect.stringMatching(/^db\b.*stream/),
    ]);
    expect(rowsOf(0)).toEqual([
      `127.0.0.1:${a!.port} up green`,
      `127.0.0.1:${b!.port} up green`,
      `127.0.0.1:${dead} down red`,
      `127.0.0.1:${c!.port} disabled grey`,
      `127.0.0.1:${d!.port} up green`,
    ]);
    expect(rowsOf(1)).toEqual([`127.0.0.1:${a!.port} up green`, `127.0.0.1:${dead} down red`]);
    // the reason a peer is down is on the page
    expect(await page.locator('section.upstream').first().textContent()).toContain('Connection refused');

    await page.screenshot({ path: '/tmp/status.png', fullPage: true });
  });
});
