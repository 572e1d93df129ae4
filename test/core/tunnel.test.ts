import crypto from 'node:crypto';
import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { Tunnel, TunnelReader } from '../../src/core/tunnel.js';
import { connect, tcpServer } from '../tcp/stream-harness.js';

interface Relay {
  port: number;
  /** The tunnels made, in order, and the ones that ended. */
  tunnels: Tunnel[];
  ended: Tunnel[];
}

/**
 * A minimal relay on real sockets: each accepted client gets an upstream connection to
 * `backendPort` (read through a TunnelReader) and a listening Tunnel once that connects, after
 * `delayMs` (a server that speaks first is heard before the tunnel exists).
 */
async function relay(backendPort: number, o: { idleTimeoutMs?: number; halfClose?: boolean; delayMs?: number } = {}): Promise<Relay> {
  const out: Relay = { port: 0, tunnels: [], ended: [] };
  const srv = await tcpServer((client) => {
    client.pause();
    const reader = new TunnelReader();
    const up = net.connect({ host: '127.0.0.1', port: backendPort, allowHalfOpen: true, onread: reader.onread });
    reader.bind(up);
    up.on('error', () => {});
    up.once('connect', () => setTimeout(() => {
      const t = new Tunnel(client, up, { idleTimeoutMs: o.idleTimeoutMs ?? 0, halfClose: o.halfClose ?? true }, (ended) => out.ended.push(ended));
      out.tunnels.push(t);
      t.listen(reader);
    }, o.delayMs ?? 0));
  }, { allowHalfOpen: true });
  out.port = srv.port;
  return out;
}

describe('core Tunnel on real sockets', () => {
  test('relays 8 MiB each way intact with backpressure and counts the bytes; ended() once after both closed', async () => {
    const payload = crypto.randomBytes(8 * 1024 * 1024);
    const backend = await tcpServer((s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('end', () => s.end(Buffer.concat(got)));
    }, { allowHalfOpen: true });
    const r = await relay(backend.port);
    const c = connect(r.port);
    c.socket.end(payload);
    await c.closed;
    expect(crypto.createHash('sha256').update(c.received()).digest('hex')).toBe(crypto.createHash('sha256').update(payload).digest('hex'));
    await expect.poll(() => r.ended.length).toBe(1);
    const t = r.ended[0]!;
    expect([t.bytesFromClient, t.bytesToClient, t.idleTimedOut]).toEqual([payload.length, payload.length, false]);
    expect(t.firstUpstreamByteAt).toBeGreaterThan(0);
  });

  test('half-close on: the client FIN reaches the upstream, whose answer still comes back', async () => {
    const backend = await tcpServer((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end('after your FIN'));
    }, { allowHalfOpen: true });
    const r = await relay(backend.port);
    const c = connect(r.port);
    c.socket.end('bye');
    await c.closed;
    expect(c.received().toString()).toBe('after your FIN');
  });

  test('half-close off: a FIN ends the session once what that side sent is flushed; nothing more is relayed', async () => {
    const heard: Buffer[] = [];
    let upstreamClosed = false;
    const backend = await tcpServer((s) => {
      s.on('data', (d: Buffer) => heard.push(d));
      s.on('end', () => s.end('too late'));
      s.on('close', () => (upstreamClosed = true));
    }, { allowHalfOpen: true });
    const r = await relay(backend.port, { halfClose: false });
    const c = connect(r.port);
    c.socket.end('hello');
    await c.closed;
    expect(c.received().toString()).toBe('');
    expect(Buffer.concat(heard).toString()).toBe('hello');
    await expect.poll(() => upstreamClosed).toBe(true);
    await expect.poll(() => r.ended.length).toBe(1);
  });

  test('a reset side takes the other down', async () => {
    let upstreamClosed = false;
    const backend = await tcpServer((s) => s.on('close', () => (upstreamClosed = true)));
    const r = await relay(backend.port);
    const c = connect(r.port);
    await expect.poll(() => r.tunnels.length).toBe(1);
    c.socket.resetAndDestroy();
    await expect.poll(() => upstreamClosed).toBe(true);
    await expect.poll(() => r.ended.length).toBe(1);
  });

  test('the idle timeout destroys both sides of a silent tunnel and keeps a busy one', async () => {
    const backend = await tcpServer((s) => s.on('data', (d: Buffer) => s.write(d)));
    const r = await relay(backend.port, { idleTimeoutMs: 300 });
    const idle = connect(r.port);
    const busy = connect(r.port);
    const started = Date.now();
    const ticker = setInterval(() => busy.socket.write('.'), 50);
    onTestFinished(() => clearInterval(ticker));
    await idle.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await expect.poll(() => r.ended.filter((t) => t.idleTimedOut).length).toBe(1);
    expect(busy.socket.destroyed).toBe(false);
    expect(busy.received().length).toBeGreaterThan(0);
    clearInterval(ticker);
    await busy.closed;
    await expect.poll(() => r.ended.filter((t) => t.idleTimedOut).length).toBe(2);
  });

  test('what a server sends before the tunnel exists is held and relayed first', async () => {
    const backend = await tcpServer((s) => s.end('220 hello\r\n'), { allowHalfOpen: true });
    const r = await relay(backend.port, { delayMs: 100 });
    const c = connect(r.port);
    await expect.poll(() => c.received().toString()).toBe('220 hello\r\n');
    expect(r.tunnels.length).toBe(1);
  });
});
