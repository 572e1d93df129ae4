/**
 * The HTML status page in a real headless browser (Debian chromium driven by playwright-core):
 * one row per peer with its state, green for up, red for down and grey for a `down` (disabled)
 * peer as computed by the browser; with JavaScript, numbers change as traffic flows without a
 * reload (the event stream) and the charts grow; without JavaScript, the static tables and a
 * refresh. Skipped only on a machine without chromium outside CI; in CI it must run.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { HAVE_CHROMIUM, launchBrowser } from '../helpers/browser.js';
import { configFrom } from '../helpers/proxy.js';
import { closedPort, peerStateIn, send, startLoggedProxy, statusJson, type LoggedProxy } from './upstream-helpers.js';

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

interface Setup {
  proxy: LoggedProxy;
  ports: { a: number; b: number; c: number; d: number; dead: number };
}

async function setup(): Promise<Setup> {
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
  return { proxy, ports: { a: a!.port, b: b!.port, c: c!.port, d: d!.port, dead } };
}

async function openPage(url: string, javaScriptEnabled: boolean): Promise<Page> {
  const context = await launchBrowser({ javaScriptEnabled });
  onTestFinished(() => context.dispose());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => void (msg.type() === 'error' && errors.push(msg.text())));
  onTestFinished(() => expect(errors).toEqual([]));
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-type']).toBe('text/html; charset=utf-8');
  expect(await page.title()).toBe('tsproxy status');
  return page;
}

/** Every upstream section: its title and its rows as "peer state colour". */
async function tables(page: Page): Promise<{ title: string; rows: string[] }[]> {
  const raw = await page.$$eval('section.upstream', (sections) =>
    sections.map((s) => ({
      title: s.querySelector('h2')?.textContent ?? '',
      rows: [...s.querySelectorAll('tbody tr')].map((tr) => {
        const cells = (tr as HTMLTableRowElement).cells;
        return { peer: cells[0]?.textContent ?? '', state: cells[1]?.textContent ?? '', background: getComputedStyle(cells[1]!).backgroundColor };
      }),
    })),
  );
  return raw.map((t) => ({ title: t.title, rows: t.rows.map((r) => `${r.peer} ${r.state} ${hue(r.background)}`) }));
}

function expectTables(got: { title: string; rows: string[] }[], p: Setup['ports']): void {
  expect(got.map((t) => t.title)).toEqual([expect.stringMatching(/^app\b.*http/), expect.stringMatching(/^db\b.*stream/)]);
  expect(got[0]!.rows).toEqual([
    `127.0.0.1:${p.a} up green`,
    `127.0.0.1:${p.b} up green`,
    `127.0.0.1:${p.dead} down red`,
    `127.0.0.1:${p.c} disabled grey`,
    `127.0.0.1:${p.d} up green`,
  ]);
  expect(got[1]!.rows).toEqual([`127.0.0.1:${p.a} up green`, `127.0.0.1:${p.dead} down red`]);
}

describe('check_status html in a browser', () => {
  it.skipIf(!HAVE_CHROMIUM)('updates itself through the event stream: numbers move with traffic, the charts grow, no reload', { timeout: 60_000 }, async () => {
    const { proxy, ports } = await setup();
    const page = await openPage(proxy.url('/status'), true);
    expectTables(await tables(page), ports);
    // the reason a peer is down is on the page
    expect(await page.locator('section.upstream').first().textContent()).toContain('Connection refused');
    // with JavaScript the page does not reload itself: no refresh element is parsed
    expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');

    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const requests = page.locator('[data-v="upstreams.0.peers.0.requests"]');
    expect(await requests.textContent()).toBe('0');
    const chart = page.locator('section.upstream').first().locator('figure[data-id="rate"] svg.chart');
    await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
    const pointsBefore = Number(await chart.getAttribute('data-points'));
    expect(await page.locator('svg.chart').count()).toBe(5); // total, and rate + latency for app and db

    for (let i = 0; i < 9; i++) await send(proxy.url('/'), { agent: false });
    // peer a has weight 3 of 5 among the two live primaries: 9 requests, a gets some; the page shows what the JSON says
    const expected = String(
      (await statusJson(proxy.url('/status.json'))).upstreams[0]!.peers.find((p) => p.key === `127.0.0.1:${ports.a}`)!.requests,
    );
    expect(expected).not.toBe('0');
    await expect.poll(() => requests.textContent(), { timeout: 5000 }).toBe(expected);
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 5000 }).toBeGreaterThanOrEqual(pointsBefore + 2);
    expect(await chart.locator('polyline').count()).toBe(2);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
  });

  it.skipIf(!HAVE_CHROMIUM)('works with JavaScript off: the static tables and a refresh', { timeout: 60_000 }, async () => {
    const { proxy, ports } = await setup();
    const page = await openPage(proxy.url('/status'), false);
    expectTables(await tables(page), ports);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('5');
    expect(await page.locator('svg.chart').count()).toBe(0);
    expect(await page.locator('#live').textContent()).toBe('refreshes every 5 s');
    expect(await page.locator('dl.facts').textContent()).toContain('single process');
  });

  it.skipIf(!HAVE_CHROMIUM)('follows a reload: the stream ends, the page reconnects and shows the new peers', { timeout: 60_000 }, async () => {
    const [a, b] = await Promise.all([startHttpBackend('A'), startHttpBackend('B')]);
    const config = (peers: number[]) => `http {
      upstream app { ${peers.map((p) => `server 127.0.0.1:${p};`).join(' ')} }
      server { listen 127.0.0.1:0; location = /status { check_status; } location / { proxy_pass http://app; } }
    }`;
    const proxy = await startLoggedProxy(config([a.port]), '127.0.0.1:0');
    const page = await openPage(proxy.url('/status'), true);
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');
    expect(await page.locator('section.upstream tbody tr').count()).toBe(1);

    await proxy.runtime.reload(configFrom(config([a.port, b.port])));
    await expect.poll(() => page.locator('section.upstream tbody tr td.peer').allTextContents(), { timeout: 15_000 })
      .toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
    await expect.poll(() => page.locator('#live').textContent(), { timeout: 10_000 }).toBe('live');
  });
});
