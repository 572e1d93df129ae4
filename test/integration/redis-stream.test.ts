/**
 * Redis-fed groups outside http {} (issue 17), as the SNI proxy this project grew out of kept its
 * per-host backends in Redis: WebSocket virtual hosts (`tcp {}` with `websocket_pass`, keyed by
 * Host) and TLS passthrough routed by SNI (`stream {}` with `ssl_preread`, keyed by
 * $ssl_preread_server_name), each with two instances on one redis-server.
 */
import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { NO_REDIS, startRedis } from '../helpers/redis.js';
import { startTlsBackend, testCerts } from '../helpers/tls-certs.js';
import { startLoggedProxy } from './upstream-helpers.js';

let certs: ReturnType<typeof testCerts>;
beforeAll(() => {
  certs = testCerts();
});

async function wsBackend(name: string): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`${name} echo ${m.toString()}`)));
  onTestFinished(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise<void>((r) => wss.close(() => r()));
  });
  return (wss.address() as net.AddressInfo).port;
}

/** One message through a WebSocket with this Host: the reply, or "status N" when the upgrade is refused. */
function wsTalk(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { headers: { Host: host } });
    onTestFinished(() => ws.terminate());
    ws.on('open', () => ws.send('ping'));
    ws.on('message', (m) => {
      ws.close();
      resolve(m.toString());
    });
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      resolve(`status ${res.statusCode}`);
    });
    ws.on('error', (err) => resolve(`error ${err.message}`));
  });
}


/** The greeting of the backend a TLS connection with this SNI reaches through the proxy ('' when it is closed). */
function tlsTalk(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
    onTestFinished(() => void s.destroy());
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', () => resolve(text));
    s.on('close', () => resolve(text));
  });
}

describe.skipIf(NO_REDIS)('Redis-fed groups in tcp {} and stream {}', () => {
  test('WebSocket virtual hosts: websocket_pass to a group keyed by Host, through two instances', async () => {
    const redis = await startRedis();
    const one = await wsBackend('one');
    const two = await wsBackend('two');
    await redis.cli('rpush', 'ws:chat.test', 'chat', `127.0.0.1:${one}`);
    const config = `
redis main { server ${redis.address}; }
tcp {
  upstream sites { redis_peers main key=ws:$host; }
  server { listen 127.0.0.1:0; websocket_pass sites; }
}`;
    const p1 = await startLoggedProxy(config);
    const p2 = await startLoggedProxy(config);
    for (const p of [p1, p2]) expect(await wsTalk(p.port, 'chat.test')).toBe('one echo ping');
    expect(await wsTalk(p1.port, 'other.test')).toBe('status 502');

    await redis.cli('lset', 'ws:chat.test', '1', `127.0.0.1:${two}`);
    for (const p of [p1, p2]) {
      await expect.poll(() => wsTalk(p.port, 'chat.test'), { timeout: 1000, interval: 20 }).toBe('two echo ping');
    }
    await redis.cli('rpush', 'ws:new.test', `127.0.0.1:${one}`);
    for (const p of [p1, p2]) expect(await wsTalk(p.port, 'new.test')).toBe('one echo ping');
  });

  test('TLS passthrough by SNI: stream {} with ssl_preread and a group keyed by the server name; Redis down keeps known names', async () => {
    const redis = await startRedis();
    const a = await startTlsBackend(certs.a);
    const b = await startTlsBackend(certs.b);
    await redis.cli('rpush', 'sni:a.test', `127.0.0.1:${a}`);
    const config = `
redis main { server ${redis.address}; }
stream {
  upstream backends { redis_peers main key=sni:$ssl_preread_server_name; }
  server { listen 127.0.0.1:0; ssl_preread on; proxy_pass backends; }
}`;
    const p1 = await startLoggedProxy(config);
    const p2 = await startLoggedProxy(config);
    for (const p of [p1, p2]) expect(await tlsTalk(p.port, 'a.test')).toBe('hello from a.test');
    expect(await tlsTalk(p1.port, 'b.test')).toBe('');
    expect(p1.logs.some((l) => l.msg === 'no peers in redis list "sni:b.test" of upstream "backends"')).toBe(true);

    await redis.cli('rpush', 'sni:b.test', `127.0.0.1:${b}`);
    for (const p of [p1, p2]) {
      await expect.poll(() => tlsTalk(p.port, 'b.test'), { timeout: 1000, interval: 20 }).toBe('hello from b.test');
    }

    await redis.kill();
    for (const p of [p1, p2]) await expect.poll(() => p.logs.some((l) => l.code === 'TSP_ERR_REDIS')).toBe(true);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => tlsTalk((i % 2 === 0 ? p1 : p2).port, i % 4 < 2 ? 'a.test' : 'b.test')));
    expect(replies.filter((r, i) => r !== (i % 4 < 2 ? 'hello from a.test' : 'hello from b.test'))).toEqual([]);
    expect(await tlsTalk(p1.port, 'c.test')).toBe('');
  });
});
