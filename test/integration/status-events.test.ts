/**
 * check_status as a Server-Sent Events stream: `Accept: text/event-stream` or `?format=events`
 * on the status URL streams the JSON document every second, after a `retry:` line and a comment;
 * the stream ends cleanly when the client goes (its timer goes with it), at a reload (the client
 * reconnects to the new config) and at a stop.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { StatusDocument } from '../../src/core/status/document.js';
import { startHttpBackend } from '../helpers/backend.js';
import { configFrom } from '../helpers/proxy.js';
import { send, startLoggedProxy } from './upstream-helpers.js';

interface EventClient {
  readonly res: http.IncomingMessage;
  readonly text: () => string;
  readonly events: () => StatusDocument[];
  readonly ended: Promise<'end' | 'error'>;
  close(): void;
}

function openEvents(url: string, headers: Record<string, string> = { accept: 'text/event-stream' }): Promise<EventClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      const ended = new Promise<'end' | 'error'>((done) => {
        res.on('end', () => done('end'));
        res.on('error', () => done('error'));
        res.on('aborted', () => done('error'));
      });
      const events = () => [...text.matchAll(/^event: status\ndata: (.*)\n\n/gm)].map((m) => JSON.parse(m[1]!) as StatusDocument);
      resolve({ res, text: () => text, events, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    onTestFinished(() => void req.destroy());
  });
}

/** Timers of this process (the proxy runs in it). */
function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

const config = (backend: number, status = 'location = /status { check_status; }') => `http {
  upstream app { server 127.0.0.1:${backend}; }
  server { listen 127.0.0.1:0;
    ${status}
    location / { proxy_pass http://app; }
  }
}`;

describe('check_status event stream', () => {
  it('holds one timer while a client follows it, none once the client is gone', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(config(a.port), '127.0.0.1:0');
    const before = timers();
    const client = await openEvents(proxy.url('/status'));
    await expect.poll(() => client.events().length).toBeGreaterThanOrEqual(2);
    await expect.poll(timers).toBe(before + 1);
    client.close();
    await expect.poll(timers).toBe(before);
    // the proxy serves on
    expect((await send(proxy.url('/x'), { agent: false })).status).toBe(200);
  });

  it('streams the document every second; counters move with traffic', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(config(a.port), '127.0.0.1:0');

    const client = await openEvents(proxy.url('/status'));
    expect(client.res.statusCode).toBe(200);
    expect(client.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.res.headers['cache-control']).toBe('no-cache');
    expect(client.res.headers['content-length']).toBeUndefined();
    expect(client.res.headers.vary).toBe('Accept');
    await expect.poll(() => client.events().length).toBeGreaterThanOrEqual(1);
    expect(client.text()).toMatch(/^retry: \d+\n: tsproxy status stream\n\nevent: status\n/);

    for (let i = 0; i < 3; i++) expect((await send(proxy.url('/x'), { agent: false })).status).toBe(200);
    await expect.poll(() => client.events().at(-1)!.upstreams[0]!.peers[0]!.requests, { timeout: 5000 }).toBe(3);
    const docs = client.events();
    expect(docs[0]!.schema).toBe(2);
    expect(docs[0]!.upstreams[0]!.peers[0]!.requests).toBe(0);
    expect(new Set(docs.map((d) => d.generatedAt)).size).toBe(docs.length);
    // about one a second
    const first = Date.parse(docs[0]!.generatedAt);
    const last = Date.parse(docs.at(-1)!.generatedAt);
    expect((last - first) / (docs.length - 1)).toBeGreaterThan(800);
    client.close();
  });

  it('?format=events asks for the stream too; other methods and formats do not stream', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(config(a.port), '127.0.0.1:0');
    const client = await openEvents(proxy.url('/status?format=events'), {});
    expect(client.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await expect.poll(() => client.events().length).toBeGreaterThanOrEqual(1);
    client.close();

    const json = await openEvents(proxy.url('/status?format=json'));
    expect(json.res.headers['content-type']).toBe('application/json');
    expect(await json.ended).toBe('end');
    const head = await send(proxy.url('/status?format=events'), { agent: false, method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('ends cleanly at a reload; the client then gets what the new config says', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(config(a.port), '127.0.0.1:0');
    const before = timers();
    const client = await openEvents(proxy.url('/status'));
    await expect.poll(() => client.events().length).toBeGreaterThanOrEqual(1);

    await proxy.runtime.reload(configFrom(config(a.port, 'location = /status { return 410; }')));
    expect(await client.ended).toBe('end');
    await expect.poll(timers).toBeLessThanOrEqual(before);
    const again = await send(proxy.url('/status'), { agent: false, headers: { accept: 'text/event-stream' } });
    expect(again.status).toBe(410);
  });

  it('ends at a graceful stop without waiting for worker_shutdown_timeout', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(config(a.port), '127.0.0.1:0');
    const client = await openEvents(proxy.url('/status'));
    await expect.poll(() => client.events().length).toBeGreaterThanOrEqual(1);
    const started = Date.now();
    await proxy.runtime.stop({ graceful: true, timeoutMs: 20_000 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await client.ended).toBe('end');
  });

  it('streams over HTTP/2 (h2c) too, and lets go of the stream when the client resets it', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startLoggedProxy(
      `http { upstream app { server 127.0.0.1:${a.port}; } server { listen 127.0.0.1:0 http2; location = /status { check_status; } } }`,
      '127.0.0.1:0',
    );
    const before = timers();
    const session = http2.connect(`http://127.0.0.1:${proxy.port}`);
    session.on('error', () => {});
    onTestFinished(() => void session.destroy());
    const req = session.request({ ':path': '/status', accept: 'text/event-stream' });
    req.on('error', () => {});
    let text = '';
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    await expect.poll(() => (text.match(/^event: status\n/gm) ?? []).length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    expect(head[':status']).toBe(200);
    expect(head['content-type']).toBe('text/event-stream; charset=utf-8');
    req.close(http2.constants.NGHTTP2_CANCEL);
    await expect.poll(timers).toBe(before);
  });
});
