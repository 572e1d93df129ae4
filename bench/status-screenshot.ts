/**
 * Makes docs/status-page.png, the README's picture of the status page: a proxy in this process
 * with real backends on 127.0.0.1 (one fast, one slower that sometimes fails, one refused, one
 * `down` in the config, one backup) and a stream upstream, traffic for a while, then Debian's
 * chromium takes the page once its charts have some history.
 *
 *   npx tsx bench/status-screenshot.ts [out.png] [seconds of traffic, default 45]
 */
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime/runtime.js';
import { launchBrowser } from '../test/helpers/browser.js';

const out = process.argv[2] ?? 'docs/status-page.png';
const seconds = Number(process.argv[3] ?? 45);

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** A backend answering after `delayMs()`, with 500 for a share `failing` of the requests. */
async function backend(delayMs: () => number, failing = 0): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    req.resume();
    setTimeout(() => {
      res.statusCode = Math.random() < failing ? 500 : 200;
      res.end('x'.repeat(200 + Math.floor(Math.random() * 4000)));
    }, delayMs());
  });
  return { port: await listen(server), server };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function get(url: string): Promise<void> {
  return new Promise((resolve) => {
    http.get(url, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', () => resolve());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const fast = await backend(() => 2 + Math.random() * 8);
  const slow = await backend(() => 20 + Math.random() * 120, 0.05);
  const drained = await backend(() => 1);
  const spare = await backend(() => 1);
  const refused = await freePort();
  const streamPort = await freePort();
  const text = `http {
    upstream app {
      server 127.0.0.1:${fast.port} weight=3; server 127.0.0.1:${slow.port}; server 127.0.0.1:${refused};
      server 127.0.0.1:${drained.port} down; server 127.0.0.1:${spare.port} backup;
      check interval=1000 rise=2 fall=3 timeout=1000 type=http;
    }
    server { listen 127.0.0.1:0;
      location = /status { check_status; }
      location / { proxy_pass http://app; proxy_next_upstream error timeout; }
    }
  }
  stream {
    upstream db { server 127.0.0.1:${fast.port}; server 127.0.0.1:${refused}; check interval=1000 rise=2 fall=3 type=tcp; }
    server { listen 127.0.0.1:${streamPort}; proxy_pass db; }
  }`;
  const loaded = loadConfig(text, 'screenshot.conf');
  if (loaded.config === null) throw new Error(loaded.errors.map(String).join('\n'));
  const quiet = new Writable({ write: (_c, _e, done) => done() });
  const runtime = await Runtime.start(loaded.config, { logger: createLogger({ stream: quiet, level: 'error' }) });
  const port = runtime.port([...runtime.addresses().keys()][0]!);
  const base = `http://127.0.0.1:${port}`;

  const context = await launchBrowser({ width: 1600, height: 900 });
  const page = await context.newPage();
  await page.goto(`${base}/status`);
  // Traffic that rises and falls, so the charts have a shape.
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const phase = ((end - Date.now()) / 1000) % 20;
    const burst = 2 + Math.round(6 * Math.abs(Math.sin(phase / 6)));
    await Promise.all(Array.from({ length: burst }, () => get(`${base}/api/items`)));
    await sleep(120);
  }
  await sleep(1500);
  await page.screenshot({ path: out, fullPage: true });
  await context.dispose();
  await runtime.stop({ graceful: false });
  for (const b of [fast, slow, drained, spare]) b.server.close();
  process.stdout.write(`wrote ${out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
