/**
 * Bodies stream through the proxy in constant memory: 256 MiB each way must not grow the heap
 * plus buffer memory by more than a small bound (a proxy that buffered would grow by the size of
 * the body). Backend, proxy and client share this process, so the bound covers all three.
 */
import { expect, test } from 'vitest';
import http from 'node:http';
import { startHttpBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';

const TOTAL = 256 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);
const BOUND = 96 * 1024 * 1024;

function memory(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Track the peak of heap + buffers while `run` works. */
async function peakGrowth(run: () => Promise<void>): Promise<number> {
  globalThis.gc?.();
  const base = memory();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, memory())), 20);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, memory()) - base;
}

/** Write TOTAL bytes honouring backpressure. */
async function pump(out: NodeJS.WritableStream & { write(b: Buffer): boolean }): Promise<void> {
  let sent = 0;
  while (sent < TOTAL) {
    sent += CHUNK.length;
    if (!out.write(CHUNK)) await new Promise((r) => out.once('drain', r));
  }
}

test('a 256 MiB download streams in bounded memory', async () => {
  const backend = await startHttpBackend('big', (_req, res) => {
    res.writeHead(200, { 'content-length': String(TOTAL) });
    void pump(res).then(() => res.end());
  });
  const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
  let received = 0;
  const growth = await peakGrowth(
    () =>
      new Promise<void>((resolve, reject) => {
        http.get(proxy.url('/big'), { agent: false }, (res) => {
          res.on('data', (d: Buffer) => (received += d.length));
          res.on('end', resolve);
          res.on('error', reject);
        }).on('error', reject);
      }),
  );
  expect(received).toBe(TOTAL);
  expect(growth).toBeLessThan(BOUND);
}, 60_000);

test('a 256 MiB upload streams in bounded memory', async () => {
  let received = 0;
  const backend = await startHttpBackend('sink', (req, res) => {
    req.on('data', (d: Buffer) => (received += d.length));
    req.on('end', () => res.end(String(received)));
  });
  const proxy = await startProxy(`http { server { listen 127.0.0.1:0; client_max_body_size 0;
    location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
  let answer = '';
  const growth = await peakGrowth(
    () =>
      new Promise<void>((resolve, reject) => {
        const req = http.request(proxy.url('/up'), { method: 'PUT', agent: false, headers: { 'content-length': String(TOTAL) } }, (res) => {
          res.setEncoding('utf8').on('data', (d: string) => (answer += d));
          res.on('end', resolve);
        });
        req.on('error', reject);
        void pump(req).then(() => req.end());
      }),
  );
  expect(answer).toBe(String(TOTAL));
  expect(growth).toBeLessThan(BOUND);
}, 60_000);
