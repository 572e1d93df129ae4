/**
 * client_header_timeout is a deadline for the whole request head, not an idle timer: a client
 * dribbling its head a byte at a time (slowloris) is cut when the deadline passes. nginx 1.22
 * (checked with a raw socket): the first request's head is due client_header_timeout after the
 * accept, each keep-alive request's head client_header_timeout after its first byte (the wait
 * before it is keepalive_timeout), and a timed-out head is closed without an answer.
 */
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

interface Dribbler {
  /** Date.now() when the first head byte was written. */
  readonly firstByteAt: () => number;
  /** Resolves with Date.now() at close and what the server sent. */
  readonly closed: Promise<{ at: number; received: string }>;
}

const HEAD = `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${'x'.repeat(100)}\r\n\r\n`;

/** Write `text` one byte every `everyMs` on `socket`, starting now. */
function dribble(socket: net.Socket, everyMs: number, received: () => string, text = HEAD): Dribbler {
  let i = 0;
  let firstByteAt = 0;
  const timer = setInterval(() => {
    if (i === 0) firstByteAt = Date.now();
    if (i < text.length && !socket.destroyed) socket.write(text[i++]!);
  }, everyMs);
  const closed = new Promise<{ at: number; received: string }>((resolve) => {
    socket.once('close', () => {
      clearInterval(timer);
      resolve({ at: Date.now(), received: received() });
    });
  });
  onTestFinished(() => {
    clearInterval(timer);
    socket.destroy();
  });
  return { firstByteAt: () => firstByteAt, closed };
}

function connect(port: number): Promise<{ socket: net.Socket; connectedAt: number; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.once('connect', () => resolve({ socket, connectedAt: Date.now(), received: () => data }));
  });
}

describe('client_header_timeout is a deadline', () => {
  it('closes a first request head dribbled a byte every 100 ms about client_header_timeout after the accept', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; client_header_timeout 1s;
      location / { return 200 ok; } } }`);
    const { socket, connectedAt, received } = await connect(proxy.port());
    const d = dribble(socket, 100, received);
    const { at, received: got } = await d.closed;
    // An idle timer would never fire: a byte arrives every 100 ms for 13 s.
    expect(at - connectedAt).toBeGreaterThanOrEqual(950);
    expect(at - connectedAt).toBeLessThan(1800);
    expect(got).toBe('');
  });

  it('gives a keep-alive request client_header_timeout from its first byte, after keepalive_timeout idle', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; client_header_timeout 1s; keepalive_timeout 5s;
      location / { return 200 ok; } } }`);
    const { socket, received } = await connect(proxy.port());
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(received).toMatch(/\r\n\r\nok$/);
    // Idle longer than client_header_timeout: between requests keepalive_timeout applies.
    await new Promise((r) => setTimeout(r, 1300));
    const answered = received().length;
    const d = dribble(socket, 100, received);
    const { at, received: got } = await d.closed;
    expect(at - d.firstByteAt()).toBeGreaterThanOrEqual(900);
    expect(at - d.firstByteAt()).toBeLessThan(1800);
    expect(got.length).toBe(answered);
  });

  it('serves a head that arrives in pieces within the deadline', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; client_header_timeout 2s;
      location / { return 200 ok; } } }`);
    const { socket, received } = await connect(proxy.port());
    onTestFinished(() => void socket.destroy());
    for (const piece of ['GET / HT', 'TP/1.1\r\nHo', 'st: x\r\n', '\r\n']) {
      socket.write(piece);
      await new Promise((r) => setTimeout(r, 50));
    }
    await expect.poll(received).toMatch(/^HTTP\/1\.1 200 [^]*\r\n\r\nok$/);
    // Answered and kept alive: the deadline of that head is gone with it.
    await new Promise((r) => setTimeout(r, 2300));
    expect(socket.destroyed).toBe(false);
  });

  // What comes before the head is under the same deadline: a PROXY header, an h2c preface (all
  // but its last byte, so the sniffer never decides).
  it.each([
    ['a PROXY protocol header on a proxy_protocol listen', 'proxy_protocol', 'PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n'],
    ['an h2c preface on a plain http2 listen', 'http2', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r'],
  ])('cuts %s dribbled a byte at a time at the deadline', async (_what, flag, text) => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ${flag}; client_header_timeout 1s;
      location / { return 200 ok; } } }`);
    const { socket, connectedAt, received } = await connect(proxy.port());
    const { at, received: got } = await dribble(socket, 60, received, text).closed;
    expect(at - connectedAt).toBeGreaterThanOrEqual(950);
    expect(at - connectedAt).toBeLessThan(1800);
    expect(got).toBe('');
  });
});
