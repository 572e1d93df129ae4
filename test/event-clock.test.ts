/**
 * The event clock (src/event-clock.ts): one clock read per socket event, shared by what the event
 * runs, and the real clock everywhere else. The integration tests check the times a proxied
 * request reports are the times of the events they belong to, not of an earlier one.
 */
import { describe, expect, test } from 'vitest';
import { enterEvent, leaveEvent, nowMs } from '../src/event-clock.js';
import { logFile } from './helpers/access-log.js';
import { rawExchange, startHttpBackend } from './helpers/backend.js';
import { startProxy } from './helpers/proxy.js';

function busyFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin: time passes inside one synchronous run
  }
}

describe('nowMs', () => {
  test('outside a bracket reads the clock', () => {
    const a = nowMs();
    busyFor(5);
    expect(nowMs()).toBeGreaterThanOrEqual(a + 5);
  });

  test('inside a bracket returns the time read at entry; nested brackets keep the outer time', () => {
    enterEvent();
    let inner = 0;
    const at = nowMs();
    try {
      busyFor(5);
      expect(nowMs()).toBe(at);
      enterEvent();
      try {
        busyFor(5);
        inner = nowMs();
      } finally {
        leaveEvent();
      }
      expect(nowMs()).toBe(at);
    } finally {
      leaveEvent();
    }
    expect(inner).toBe(at);
    expect(nowMs()).toBeGreaterThanOrEqual(at + 10);
  });

  test('a bracket left by a throw reads the clock again afterwards', () => {
    let at = 0;
    expect(() => {
      enterEvent();
      try {
        at = nowMs();
        throw new TypeError('handler failed');
      } finally {
        leaveEvent();
      }
    }).toThrow('handler failed');
    busyFor(5);
    expect(nowMs()).toBeGreaterThanOrEqual(at + 5);
  });
});

describe('proxied request times under the event clock', () => {
  test('the header, response and request times come from the events that end them', async () => {
    // /slow: the head ~80 ms after the request, the body's end ~80 ms later; /fast at once.
    const backend = await startHttpBackend('B', (req, res) => {
      if (req.url !== '/slow') {
        res.end('fast');
        return;
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        setTimeout(() => res.end('b'), 80);
      }, 80);
    });
    const log = logFile('tsproxy-clock-');
    const proxy = await startProxy(`http {
      log_format t '$request_uri ht=$upstream_header_time rt=$upstream_response_time t=$request_time';
      upstream u { server 127.0.0.1:${backend.port}; keepalive 4; }
      server { listen 127.0.0.1:0; access_log ${log.path} t;
        location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`);
    // Two requests on one keep-alive connection, the second sent 300 ms after the first: its
    // times must start at its own read, not at an event of the first request.
    const got = await rawExchange(proxy.port(), 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', 600,
      { data: 'GET /fast HTTP/1.1\r\nHost: x\r\n\r\n', afterMs: 300 });
    expect(got).toContain('fast');
    await expect.poll(() => log.lines().length).toBe(2);
    const times = new Map(log.lines().map((l) => {
      const m = /^(\S+) ht=([\d.]+) rt=([\d.]+) t=([\d.]+)$/.exec(l);
      expect(m, l).not.toBeNull();
      return [m![1]!, { ht: Number(m![2]), rt: Number(m![3]), t: Number(m![4]) }] as const;
    }));
    const slow = times.get('/slow')!;
    expect(slow.ht).toBeGreaterThanOrEqual(0.07);
    expect(slow.rt).toBeGreaterThanOrEqual(slow.ht + 0.07);
    expect(slow.t).toBeGreaterThanOrEqual(slow.rt);
    const fast = times.get('/fast')!;
    expect(fast.t).toBeGreaterThanOrEqual(0);
    expect(fast.t).toBeLessThan(0.2);
    expect(fast.rt).toBeLessThanOrEqual(fast.t);
  });
});
