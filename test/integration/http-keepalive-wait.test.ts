/**
 * keepalive_timeout is the wait for the next request, counted from the end of the last response
 * (nginx's ngx_http_set_keepalive arms it there). The connection keeps one timer across requests
 * (http1-output.ts idleTimeout): these check that a request served in the wait starts it again,
 * and that a request that outlasts it (an upstream answering later than keepalive_timeout) is not
 * cut by it.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

interface Client {
  readonly socket: net.Socket;
  /** Sends one GET and resolves with Date.now() once its whole response (ending in `marker`) arrived. */
  get(path: string, marker: string): Promise<number>;
  /** Resolves with Date.now() at close. */
  readonly closed: Promise<number>;
}

function client(port: number): Client {
  const socket = net.connect({ host: '127.0.0.1', port });
  onTestFinished(() => void socket.destroy());
  let data = '';
  // The time is taken in the 'data' event that completes the response, not by polling, which
  // would add up to a poll interval and make the waits look shorter than they are.
  let waiting: { marker: string; done: (at: number) => void } | null = null;
  socket.on('data', (d) => {
    data += d.toString('latin1');
    if (waiting !== null && data.endsWith(waiting.marker)) {
      const w = waiting;
      waiting = null;
      w.done(Date.now());
    }
  });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  return {
    socket,
    closed,
    get(path, marker) {
      data = '';
      const answered = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to ${path} in 5 s (got ${JSON.stringify(data)})`)), 5000);
        waiting = { marker, done: (at) => (clearTimeout(timer), resolve(at)) };
      });
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return answered;
    },
  };
}

/** Resolves after `ms`: the test's client waits between requests, as a browser does. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('keepalive_timeout between requests', () => {
  it('counts from the last response: a request in the wait starts it again', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; keepalive_timeout 600ms;
      location / { return 200 ok; } } }`);
    const c = client(proxy.port());
    let closedAt = 0;
    void c.closed.then((at) => (closedAt = at));
    const first = await c.get('/', 'ok');
    await pause(400);
    const second = await c.get('/', 'ok');
    await pause(400);
    // 800 ms after the first response: past its wait, within the second's.
    expect(closedAt).toBe(0);
    expect(Date.now() - first).toBeGreaterThanOrEqual(750);
    const third = await c.get('/', 'ok');
    expect(third).toBeGreaterThan(second);
    const at = await c.closed;
    expect(at - third).toBeGreaterThanOrEqual(550);
    expect(at - third).toBeLessThan(3000);
  });

  it('does not cut a proxied request that outlasts keepalive_timeout', async () => {
    const backend = http.createServer((req, res) => {
      const delay = req.url === '/slow' ? 700 : 0;
      setTimeout(() => res.end('done'), delay);
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => void backend.close());
    const port = (backend.address() as net.AddressInfo).port;
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; keepalive_timeout 300ms;
      location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const c = client(proxy.port());
    let closedAt = 0;
    void c.closed.then((at) => (closedAt = at));
    await c.get('/fast', 'done');
    // The wait's timer is still pending when this request starts; the answer comes after it fired.
    const slow = await c.get('/slow', 'done');
    expect(closedAt).toBe(0);
    const at = await c.closed;
    expect(at - slow).toBeGreaterThanOrEqual(250);
  });

  it("a location with a shorter keepalive_timeout than the last request's closes the wait at its own time", async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; keepalive_timeout 60s;
      location / { return 200 ok; }
      location /short { keepalive_timeout 400ms; return 200 ok; } } }`);
    const c = client(proxy.port());
    await c.get('/', 'ok');
    const short = await c.get('/short', 'ok');
    const at = await c.closed;
    expect(at - short).toBeGreaterThanOrEqual(350);
    expect(at - short).toBeLessThan(5000);
  });
});

