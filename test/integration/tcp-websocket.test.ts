import type net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { loadConfig } from '../../src/config/load.js';
import { Runtime } from '../../src/runtime/runtime.js';
import {
  connect,
  deadPort,
  listen,
  loc,
  names,
  server,
  startStream,
  streamConfig,
  upstream,
  websocketTo,
} from '../tcp/stream-harness.js';

/** A ws server on 127.0.0.1:0 that greets with its name, the X-Forwarded-For it got and the URL. */
async function wsBackend(name: string): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws, req) => {
    ws.send(`${name} xff=${req.headers['x-forwarded-for']} real=${req.headers['x-real-ip']} url=${req.url}`);
    ws.on('message', (m) => ws.send(`${name} echo ${m.toString()}`));
  });
  onTestFinished(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  return (wss.address() as net.AddressInfo).port;
}

/** Open a WebSocket through the proxy with the given Host; resolve with the first two messages. */
function talk(port: number, host: string, path = '/'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { Host: host } });
    onTestFinished(() => ws.terminate());
    const got: string[] = [];
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (m) => {
      got.push(m.toString());
      if (got.length === 2) {
        ws.close();
        resolve(got);
      }
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

describe('websocket_pass in tcp servers', () => {
  it('routes by Host on one port to two ws servers (DESIGN.md section 2, second config)', async () => {
    const [p1, p2] = await Promise.all([wsBackend('site1'), wsBackend('site2')]);
    const text = `worker_processes  1;
events { worker_connections  1024; }
tcp {
    upstream site1 {
        server 127.0.0.1:${p1};
        check interval=3000 rise=2 fall=5 timeout=1000;
    }
    server {
        listen 127.0.0.1:0;
        server_name site1.test;
        tcp_nodelay on;
        websocket_pass site1;
    }
}
tcp {
    upstream site2 {
        server 127.0.0.1:${p2};
        check interval=3000 rise=2 fall=5 timeout=1000;
    }
    server {
        listen 127.0.0.1:0;
        server_name site2.test;
        tcp_nodelay on;
        websocket_pass site2;
    }
}
`;
    const { config, errors } = loadConfig(text, '/virtual/tsproxy.conf');
    expect(errors.map(String)).toEqual([]);
    const runtime = await Runtime.start(config!, { logger: pino({ level: 'silent' }) });
    onTestFinished(() => runtime.stop({ graceful: false }));
    const port = runtime.port('127.0.0.1:0');
    // check default_down: peers start down until two successful checks (rise=2, interval 3 s).
    await expect
      .poll(() => talk(port, 'site1.test').then((m) => m[0]!.split(' ')[0], () => 'down'), { timeout: 10_000, interval: 200 })
      .toBe('site1');
    await expect.poll(() => talk(port, 'SITE2.test:8081').then((m) => m[0]!.split(' ')[0], () => 'down'), { timeout: 10_000, interval: 200 }).toBe('site2');
    expect(await talk(port, 'site1.test', '/a/b?c=1')).toEqual(['site1 xff=127.0.0.1 real=127.0.0.1 url=/a/b?c=1', 'site1 echo ping']);
    expect(await talk(port, 'site2.test')).toEqual(['site2 xff=127.0.0.1 real=127.0.0.1 url=/', 'site2 echo ping']);
    // an unknown Host goes to the first server of the port (no default_server given)
    expect((await talk(port, 'other.test'))[0]).toMatch(/^site1 /);
  }, 20_000);

  it('routes by first path segment, and answers 404 / 400 / 502 over HTTP', async () => {
    const [chat, all] = await Promise.all([wsBackend('chat'), wsBackend('all')]);
    const dead = await deadPort();
    const proxy = await startStream(
      streamConfig(
        [upstream('chat', `127.0.0.1:${chat}`), upstream('all', `127.0.0.1:${all}`), upstream('dead', `127.0.0.1:${dead}`)],
        [
          server({ listens: [listen('ws')], serverNames: names('paths.test'), handler: websocketTo(['/chat', 'chat'], ['/dead', 'dead']), accessLogs: [{ path: '/log', format: 'basic', loc }] }),
          server({ listens: [listen('ws')], serverNames: names('*.all.test'), handler: websocketTo([null, 'all']) }),
        ],
      ),
    );
    const port = proxy.port('ws');
    expect((await talk(port, 'paths.test', '/chat/1'))[0]).toBe('chat xff=127.0.0.1 real=127.0.0.1 url=/chat/1');
    expect((await talk(port, 'paths.test', '/chat'))[0]).toMatch(/^chat /);
    expect((await talk(port, 'x.all.test', '/chatroom'))[0]).toMatch(/^all /);
    await expect(talk(port, 'paths.test', '/chatroom')).rejects.toThrow('status 404');
    await expect(talk(port, 'paths.test', '/dead/x')).rejects.toThrow('status 502');

    const bad = connect(port);
    bad.socket.write('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    await bad.ended;
    expect(bad.received().toString()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[^]*Connection: close\r\n/);
    await expect.poll(() => proxy.logs.get('/log')?.map((l) => l.split(' ')[4])).toEqual(['200', '200', '404', '502', '400']);
  });

  it('forwards bytes the client sent right after the head unchanged', async () => {
    const { tcpServer } = await import('../tcp/stream-harness.js');
    const raw = await tcpServer((s) => {
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.endsWith('TAIL')) s.end(buf);
      });
    });
    const proxy = await startStream(
      streamConfig([upstream('raw', raw.address)], [server({ listens: [listen('ws')], handler: websocketTo([null, 'raw']) })]),
    );
    const c = connect(proxy.port('ws'));
    c.socket.write('GET /x HTTP/1.1\r\nHost: h.test\r\nX-Real-IP: 6.6.6.6\r\nUpgrade: websocket\r\n\r\nTAIL');
    await c.ended;
    expect(c.received().toString('latin1')).toBe(
      'GET /x HTTP/1.1\r\nX-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nHost: h.test\r\nUpgrade: websocket\r\n\r\nTAIL',
    );
  });
});
