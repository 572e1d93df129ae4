/**
 * Issue 4 end to end: a backend dies under steady traffic and comes back; retries hide it from
 * clients, active checks take it out and bring it back, and non-idempotent requests are only
 * replayed when nginx would.
 */
import { describe, expect, it } from 'vitest';
import { request, startHttpBackend, startRawBackend } from '../helpers/backend.js';
import {
  closedPort, countBy, keepAliveAgent, killBackend, peerStateIn, reviveBackend, send, startLoggedProxy, statusJson, type Reply,
} from './upstream-helpers.js';

const INTERVAL = 200;
const FALL = 2;
const RISE = 2;

describe('upstream failover through the proxy', () => {
  it('a backend killed under keep-alive traffic costs no failed GET, is marked down in time, and is used again after rise', async () => {
    const a = await startHttpBackend('A');
    const b = await startHttpBackend('B');
    const c = await startHttpBackend('C');
    // max_fails=0: this test isolates active checks (passive health has its own tests)
    const proxy = await startLoggedProxy(`http {
      upstream app {
        server 127.0.0.1:${a.port} max_fails=0; server 127.0.0.1:${b.port} max_fails=0; server 127.0.0.1:${c.port} max_fails=0;
        keepalive 8;
        check interval=${INTERVAL} rise=${RISE} fall=${FALL} timeout=500 default_down=false type=http;
        check_http_send "GET /health HTTP/1.0\\r\\n\\r\\n";
      }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_pass http://app; }
      }
    }`);
    const agent = keepAliveAgent(4);
    const replies: Reply[] = [];
    let stop = false;
    // steady traffic until told to stop (and at least 300 requests)
    const traffic = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop || replies.length < 300) {
          replies.push(await send(proxy.url('/item'), { agent }));
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    );
    const state = async () => peerStateIn(await statusJson(proxy.url('/status')), 'app', b.port);

    await expect.poll(() => replies.length, { timeout: 5000 }).toBeGreaterThan(100);
    expect(await state()).toBe('up');
    const killedAt = Date.now();
    await killBackend(b);
    await expect.poll(state, { interval: 10, timeout: 5000 }).toBe('down');
    // measured by the proxy's own log time, so the polling delay does not count
    const logTime = (text: string) => proxy.logs.find((l) => l.msg.startsWith(text))?.time as number;
    const detectMs = logTime(`peer 127.0.0.1:${b.port} in upstream app is down:`) - killedAt;
    // nginx_upstream_check_module: `fall` failed checks, the first one at most one interval away
    // (+100 ms for timers on a loaded machine)
    expect(detectMs).toBeGreaterThan(0);
    expect(detectMs).toBeLessThanOrEqual(INTERVAL * FALL + INTERVAL + 100);

    // once down, B gets no more attempts: no new connect errors are logged for it (after the
    // requests that picked B just before the verdict have settled)
    const errorsFor = () => proxy.logs.filter((l) => String(l.upstream).startsWith(`http://127.0.0.1:${b.port}/`) && l.level === 'error').length;
    await expect.poll(() => replies.length, { timeout: 5000 }).toBeGreaterThan(replies.length + 20);
    const errorsAtDown = errorsFor();
    const sentAtDown = replies.length;
    await expect.poll(() => replies.length, { timeout: 5000 }).toBeGreaterThan(sentAtDown + 60);
    expect(errorsFor()).toBe(errorsAtDown);

    const revivedAt = Date.now();
    const bSeen = b.requests;
    await reviveBackend(b);
    await expect.poll(state, { interval: 10, timeout: 5000 }).toBe('up');
    const riseMs = logTime(`peer 127.0.0.1:${b.port} in upstream app is up`) - revivedAt;
    // `rise` successful checks one interval apart
    expect(riseMs).toBeGreaterThanOrEqual(INTERVAL * (RISE - 1) - 20);
    expect(riseMs).toBeLessThanOrEqual(INTERVAL * RISE + INTERVAL + 100);
    // traffic reaches B again (check probes are counted too, so look at proxied paths only)
    await expect.poll(() => b.seen.slice(bSeen).filter((s) => s.url === '/item').length, { timeout: 5000 }).toBeGreaterThan(5);

    stop = true;
    await traffic;
    const counts = countBy(replies);
    expect(Object.keys(counts).sort()).toEqual(['A', 'B', 'C']);
    expect(replies.length).toBeGreaterThanOrEqual(300);
    expect(replies.filter((r) => r.status !== 200)).toEqual([]);
  });

  it('does not replay a POST the peer reset after receiving it (default proxy_next_upstream)', async () => {
    const reset = await startRawBackend((socket) => socket.resetAndDestroy());
    const b = await startHttpBackend('B');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${reset.port} max_fails=0; server 127.0.0.1:${b.port} max_fails=0; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
    }`);
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) {
      replies.push(await send(proxy.url('/order'), { agent: false, method: 'POST', body: `n=${i}`, headers: { 'content-type': 'text/plain' } }));
    }
    expect(countBy(replies)).toEqual({ B: 2, 'status 502': 2 });
    // the two that reached the reset peer went nowhere else
    expect(reset.received.filter((r) => r.startsWith('POST /order'))).toHaveLength(2);
    expect(b.seen.filter((s) => s.method === 'POST')).toHaveLength(2);
  });

  it('replays a POST (with its body) on the next peer with proxy_next_upstream non_idempotent', async () => {
    const reset = await startRawBackend((socket) => socket.resetAndDestroy());
    const bodies: string[] = [];
    const b = await startHttpBackend('B', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('B');
      });
    });
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${reset.port} max_fails=0; server 127.0.0.1:${b.port} max_fails=0; }
      server { listen 127.0.0.1:0; location / { proxy_next_upstream error timeout non_idempotent; proxy_pass http://app; } }
    }`);
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) {
      replies.push(await send(proxy.url('/order'), { agent: false, method: 'POST', body: `n=${i}`, headers: { 'content-type': 'text/plain' } }));
    }
    expect(countBy(replies)).toEqual({ B: 4 });
    expect(reset.received.filter((r) => r.startsWith('POST /order'))).toHaveLength(2);
    expect(bodies).toEqual(['n=0', 'n=1', 'n=2', 'n=3']);
  });

  it('retries a POST after a connect failure even without non_idempotent', async () => {
    const dead = await closedPort();
    const b = await startHttpBackend('B');
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${dead} max_fails=0; server 127.0.0.1:${b.port} max_fails=0; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
    }`);
    const replies: Reply[] = [];
    for (let i = 0; i < 4; i++) replies.push(await send(proxy.url('/order'), { agent: false, method: 'POST', body: 'x' }));
    expect(countBy(replies)).toEqual({ B: 4 });
  });

  it('answers 502 when every peer failed, then logs "no live upstreams" while they are out', async () => {
    const p1 = await closedPort();
    const p2 = await closedPort();
    const proxy = await startLoggedProxy(`http {
      upstream app { server 127.0.0.1:${p1}; server 127.0.0.1:${p2}; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://app; } }
    }`);
    // nginx's wording and upstream URL (the group's name when no peer was chosen), checked with ask-nginx
    const noLive = () => proxy.logs.filter((l) => l.msg === 'no live upstreams while connecting to upstream' && l.upstream === 'http://app/');
    // first request: both peers tried (two connect errors), both now out for fail_timeout
    expect((await send(proxy.url('/'), { agent: false })).status).toBe(502);
    expect(proxy.logs.filter((l) => l.level === 'error' && l.code === 'TSP_ERR_UPSTREAM_CONNECT')).toHaveLength(2);
    expect(noLive()).toHaveLength(0);
    // second request: nothing to try at all
    const second = await send(proxy.url('/'), { agent: false });
    expect(second.status).toBe(502);
    expect(second.body).toContain('502 Bad Gateway');
    await expect.poll(() => noLive().length).toBe(1);
    expect(noLive()[0]!.level).toBe('error');
  });

  it('two identical server lines are two peers: a retry may go to the same address again (nginx)', async () => {
    // nginx 1.22 with this upstream and a backend answering 502 then 200 logs
    // `st=502, 200 addr=A, A` for the first request (checked by running it).
    let n = 0;
    const a = await startHttpBackend('A', (_req, res) => {
      n++;
      res.statusCode = n % 2 === 1 ? 502 : 200;
      res.end(`n=${n}`);
    });
    const proxy = await startLoggedProxy(`http {
      upstream u { server 127.0.0.1:${a.port}; server 127.0.0.1:${a.port}; }
      server { listen 127.0.0.1:0;
        location = /status { check_status json; }
        location / { proxy_pass http://u; proxy_next_upstream error http_502; add_header X-Up "$upstream_status $upstream_addr" always; } } }`);
    const first = await request(proxy.url('/'));
    expect(first.status).toBe(200);
    expect(first.body).toBe('n=2');
    expect(first.headers['x-up']).toBe(`502, 200 127.0.0.1:${a.port}, 127.0.0.1:${a.port}`);
    const doc = await statusJson(proxy.url('/status'));
    expect(doc.upstreams[0]!.peers.map((p) => [p.key, p.requests, p.fails])).toEqual([
      [`127.0.0.1:${a.port}`, 1, 1],
      [`127.0.0.1:${a.port}#2`, 1, 0],
    ]);
    expect(proxy.logs.some((l) => /duplicate/.test(l.msg))).toBe(false);
  });
});
