/**
 * Balancing and passive health through the real proxy: who gets the requests, and who does not.
 */
import type http from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { closedPort, countBy, peerStateIn, send, startLoggedProxy, statusJson, type Reply } from './upstream-helpers.js';

async function sequential(n: number, url: string, opts: http.RequestOptions = {}): Promise<Reply[]> {
  const out: Reply[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, { agent: false, ...opts }));
  return out;
}

/** A backend that keeps every request open until the test ends (or `release()`). */
async function holdingBackend(name: string) {
  const held: http.ServerResponse[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const backend = await startHttpBackend(name, (_req, res) => {
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    res.on('close', () => concurrent--);
    held.push(res);
  });
  const release = () => {
    for (const res of held.splice(0)) res.end(name);
  };
  onTestFinished(release);
  return { backend, held, release, maxConcurrent: () => maxConcurrent };
}

describe('balancing through the proxy', () => {
  it('weights 5,1,1 give nginx order a a b a c a a and 50/10/10 over 70 requests', async () => {
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${a!.port} weight=5; server 127.0.0.1:${b!.port}; server 127.0.0.1:${c!.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    const replies = await sequential(70, proxy.url('/'));
    expect(replies.slice(0, 7).map((r) => r.backend).join(' ')).toBe('A A B A C A A');
    expect(countBy(replies)).toEqual({ A: 50, B: 10, C: 10 });
  });

  it('never sends to a `down` peer', async () => {
    const [a, b] = await Promise.all(['A', 'B'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${a!.port} down; server 127.0.0.1:${b!.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    expect(countBy(await sequential(10, proxy.url('/')))).toEqual({ B: 10 });
    expect(a!.requests).toBe(0);
  });

  it('uses backup peers only when every primary is unavailable', async () => {
    const [a, b, c] = await Promise.all(['A', 'B', 'C'].map((n) => startHttpBackend(n)));
    const [dead1, dead2] = [await closedPort(), await closedPort()];
    const proxy = await startLoggedProxy(`http {
      upstream live { server 127.0.0.1:${a!.port}; server 127.0.0.1:${b!.port}; server 127.0.0.1:${c!.port} backup; }
      upstream gone { server 127.0.0.1:${dead1}; server 127.0.0.1:${dead2}; server 127.0.0.1:${c!.port} backup; }
      server { listen 127.0.0.1:0;
        location /live { proxy_pass http://live; }
        location /gone { proxy_pass http://gone; } } }`);
    expect(countBy(await sequential(10, proxy.url('/live')))).toEqual({ A: 5, B: 5 });
    expect(c!.requests).toBe(0);
    // the first request tries both primaries, then the backup; later ones go straight to it
    expect(countBy(await sequential(5, proxy.url('/gone')))).toEqual({ C: 5 });
  });

  it('max_fails/fail_timeout: http_502 answers count, the peer rests, then gets exactly one probe', async () => {
    let aBroken = true;
    const a = await startHttpBackend('A', (req, res) => {
      req.resume();
      res.statusCode = aBroken ? 502 : 200;
      res.end('A');
    });
    const b = await startHttpBackend('B');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${a.port} max_fails=2 fail_timeout=600ms; server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_next_upstream error timeout http_502; proxy_pass http://app; } } }`);
    // A's 502s are retried on B, so the client only ever sees B
    expect(countBy(await sequential(10, proxy.url('/')))).toEqual({ B: 10 });
    expect(a.requests).toBe(2);
    expect(peerStateIn(await statusJson(proxy.url('/status')), 'app', a.port)).toBe('passive-down');
    // nginx's words: the warning names the phase, the context names the peer
    expect(proxy.logs.filter((l) => l.msg.startsWith('upstream server temporarily disabled')).map((l) => [l.msg, l['upstream']])).toEqual([
      ['upstream server temporarily disabled while reading response header from upstream', `http://127.0.0.1:${a.port}/`],
    ]);

    // penalty over: one probe goes to A, fails, and A rests again
    await expect.poll(async () => peerStateIn(await statusJson(proxy.url('/status')), 'app', a.port), { interval: 50, timeout: 3000 }).toBe('up');
    expect(countBy(await sequential(10, proxy.url('/')))).toEqual({ B: 10 });
    expect(a.requests).toBe(3);

    // healed: after the next penalty the probe succeeds and A is back in rotation
    aBroken = false;
    await expect.poll(async () => peerStateIn(await statusJson(proxy.url('/status')), 'app', a.port), { interval: 50, timeout: 3000 }).toBe('up');
    const healed = countBy(await sequential(10, proxy.url('/')));
    expect(healed.A).toBeGreaterThanOrEqual(4);
    expect(healed.A! + healed.B!).toBe(10);
  });

  it('max_conns=1 keeps a slow peer at one request at a time', async () => {
    const slow = await holdingBackend('A');
    const b = await startHttpBackend('B');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${slow.backend.port} max_conns=1; server 127.0.0.1:${b.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    const pending = Array.from({ length: 10 }, () => send(proxy.url('/'), { agent: false }));
    await expect.poll(() => b.requests, { timeout: 5000 }).toBe(9);
    expect(slow.backend.requests).toBe(1);
    slow.release();
    const replies = await Promise.all(pending);
    expect(countBy(replies)).toEqual({ A: 1, B: 9 });
    expect(slow.maxConcurrent()).toBe(1);
  });

  it('least_conn steers around a peer that holds its requests', async () => {
    const slow = await holdingBackend('A');
    const [b, c] = await Promise.all(['B', 'C'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(`http {
      upstream app { least_conn; server 127.0.0.1:${slow.backend.port}; server 127.0.0.1:${b!.port}; server 127.0.0.1:${c!.port}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    const pending: Promise<Reply>[] = [];
    for (let i = 0; i < 12; i++) {
      const done = b!.requests + c!.requests + slow.backend.requests;
      pending.push(send(proxy.url('/'), { agent: false }));
      await expect.poll(() => b!.requests + c!.requests + slow.backend.requests).toBe(done + 1);
    }
    // round robin would have given A 4 of 12; least_conn only the one it still holds
    expect(slow.backend.requests).toBe(1);
    expect(b!.requests + c!.requests).toBe(11);
    expect(Math.abs(b!.requests - c!.requests)).toBeLessThanOrEqual(1);
    slow.release();
    await Promise.all(pending);
  });

  it('ip_hash sends one /24 to one peer and spreads different networks', async () => {
    const backends = await Promise.all(['A', 'B', 'C'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(`http {
      upstream app { ip_hash; ${backends.map((b) => `server 127.0.0.1:${b.port};`).join(' ')} }
      server { listen 127.0.0.1:0; set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP;
        location / { proxy_pass http://app; } } }`);
    const byNet = new Map<number, Set<string>>();
    for (let net = 1; net <= 20; net++) {
      const seen = new Set<string>();
      for (const host of [1, 77, 254]) {
        const r = await send(proxy.url('/'), { agent: false, headers: { 'x-real-ip': `10.0.${net}.${host}` } });
        expect(r.status).toBe(200);
        seen.add(r.backend!);
      }
      byNet.set(net, seen);
    }
    for (const seen of byNet.values()) expect(seen.size).toBe(1);
    const used = new Set([...byNet.values()].flatMap((s) => [...s]));
    expect(used.size).toBeGreaterThanOrEqual(2);
  });

  it('hash $request_uri consistent: the same URI always lands on the same peer', async () => {
    const backends = await Promise.all(['A', 'B', 'C'].map((n) => startHttpBackend(n)));
    const proxy = await startLoggedProxy(`http {
      upstream app { hash $request_uri consistent; ${backends.map((b) => `server 127.0.0.1:${b.port};`).join(' ')} }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } }`);
    const first = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 30; i++) {
        const uri = `/obj/${i}?v=${i % 4}`;
        const r = await send(proxy.url(uri), { agent: false });
        expect(r.status).toBe(200);
        if (round === 0) first.set(uri, r.backend!);
        else expect(r.backend).toBe(first.get(uri));
      }
    }
    expect(new Set(first.values()).size).toBe(3);
  });
});
