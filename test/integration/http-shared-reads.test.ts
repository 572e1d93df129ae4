/**
 * Client reads land in one buffer shared by every accepted socket (core/shared-reads.ts): bytes a
 * connection keeps past its read (a body buffered by proxy_request_buffering, a pipelined request
 * waiting for the response before it, body bytes that came with the head) must survive other
 * connections' reads into the same buffer. Each case holds bytes, lets other clients' requests
 * (distinct bytes, longer than what is held) be read, then checks what the backend got.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

/** A backend that answers `path body` (after 300 ms for /slow/*). */
async function echoBackend(): Promise<number> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      const answer = (): void => { res.end(`${req.url} ${body}`); };
      if (req.url!.startsWith('/slow/')) setTimeout(answer, 300);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return (server.address() as net.AddressInfo).port;
}

/** A raw client: `parts` written `gapMs` apart; resolves with everything read until the close. */
function client(port: number, parts: string[], gapMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let reply = '';
    s.on('error', () => {});
    s.setEncoding('latin1');
    s.on('data', (d: string) => { reply += d; });
    s.on('close', () => resolve(reply));
    s.on('connect', () => {
      parts.forEach((p, i) => setTimeout(() => s.write(p), i * gapMs));
    });
    onTestFinished(() => { s.destroy(); });
  });
}

/** Other clients' requests, each a head of ~3 KiB of `fill`, read while the bytes above are held. */
async function noise(port: number, fill: string, n: number): Promise<void> {
  const head = (i: number): string => `GET /noise/${i} HTTP/1.1\r\nHost: x\r\nX-Fill: ${fill.repeat(3000)}\r\nConnection: close\r\n\r\n`;
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => client(port, [head(i)], 0)));
  for (const [i, r] of replies.entries()) expect(r).toContain(`/noise/${i} `);
}

describe('client reads into the shared buffer', () => {
  it('kept bytes survive other connections reads: a buffered body, body bytes with the head, a pipelined request', async () => {
    const port = await echoBackend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const p = proxy.port();
    const body = 'a'.repeat(500) + 'b'.repeat(500);
    // The head with the body's first 500 bytes in one write (kept: the body is read before the
    // upstream is asked), the rest 400 ms later.
    const post = client(p, [`POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n${body.slice(0, 500)}`, body.slice(500)], 400);
    // Two requests in one write: the second waits (held) while the first is slow.
    const pipelined = client(p, [
      'GET /slow/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ], 0);
    // A second request sent on its own while the first is slow: read in the wait, held.
    const later = client(p, [
      'GET /slow/2 HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ], 100);
    await new Promise((r) => setTimeout(r, 150));
    await noise(p, 'z', 8);
    const [postReply, pipeReply, laterReply] = await Promise.all([post, pipelined, later]);
    expect(postReply).toContain(`/post ${body}`);
    expect(pipeReply).toContain('/slow/1 ');
    expect(pipeReply).toContain('/second ');
    expect(laterReply).toContain('/slow/2 ');
    expect(laterReply).toContain('/third ');
  });

  it('a body read in pieces larger than a read buffer arrives whole beside other traffic', async () => {
    const port = await echoBackend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${port}; proxy_request_buffering off; } } }`);
    const p = proxy.port();
    const body = Array.from({ length: 40_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const parts = [`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 100)}`];
    for (let i = 100; i < body.length; i += 10_000) parts.push(body.slice(i, i + 10_000));
    const post = client(p, parts, 60);
    await noise(p, 'y', 6);
    expect(await post).toContain(`/big ${body}`);
  });
});
