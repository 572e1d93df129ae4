/**
 * proxy_request_buffering, as nginx 1.22 does it (checked under a temp prefix): with `on` (the
 * default) the request body is read before the upstream is asked, so a slow upload holds no
 * upstream connection; a client that sends `Expect: 100-continue` gets the 100 from the proxy and
 * the upstream sees no Expect; `off` asks the upstream at once and streams the body. A body larger
 * than client_body_buffer_size goes to a temp file first: http-request-body-file.test.ts.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

interface Seen { readonly at: number; readonly headers: http.IncomingHttpHeaders; body: string; ended: boolean }

/** A backend that records when each request arrived (its head) and its body. */
async function recordingBackend(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const s: Seen = { at: Date.now(), headers: req.headers, body: '', ended: false };
    seen.push(s);
    req.setEncoding('latin1');
    req.on('data', (c: string) => { s.body += c; });
    req.on('end', () => { s.ended = true; res.end(`got ${s.body.length}`); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { port: (server.address() as net.AddressInfo).port, seen };
}

/** A raw client: write the head and the first part, the rest `laterMs` after; resolves with the reply. */
function slowPost(port: number, path: string, body: string, splitAt: number, laterMs: number): Promise<{ reply: string; restAt: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let reply = '';
    let restAt = 0;
    s.on('error', () => {});
    s.setEncoding('latin1');
    s.on('data', (d: string) => { reply += d; });
    s.on('close', () => resolve({ reply, restAt }));
    s.on('connect', () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, splitAt)}`);
      setTimeout(() => { restAt = Date.now(); s.write(body.slice(splitAt)); }, laterMs);
    });
    onTestFinished(() => { s.destroy(); });
  });
}

describe('proxy_request_buffering', () => {
  it('on (default): the upstream is asked only once the whole body is read; off: at once', async () => {
    const b = await recordingBackend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location /on { proxy_pass http://127.0.0.1:${b.port}; }
      location /off { proxy_pass http://127.0.0.1:${b.port}; proxy_request_buffering off; } } }`);
    const on = await slowPost(proxy.port(), '/on', 'x'.repeat(1000), 10, 400);
    expect(on.reply).toContain('got 1000');
    expect(b.seen[0]!.at).toBeGreaterThanOrEqual(on.restAt);
    const off = await slowPost(proxy.port(), '/off', 'x'.repeat(1000), 10, 400);
    expect(off.reply).toContain('got 1000');
    expect(b.seen[1]!.at).toBeLessThan(off.restAt);
  });

  it('Expect: 100-continue is answered by the proxy, and not passed upstream', async () => {
    const b = await recordingBackend();
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${b.port}; } } }`);
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(proxy.port(), '127.0.0.1');
      let out = '';
      s.on('error', () => {});
      s.setEncoding('latin1');
      s.on('data', (d: string) => {
        // the body goes only after the 100: without it this client would never send it
        if (out === '' && d.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) s.write('hello');
        out += d;
      });
      s.on('close', () => resolve(out));
      s.on('connect', () => s.write('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n'));
      onTestFinished(() => { s.destroy(); });
    });
    expect(reply).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(reply).toContain('got 5');
    expect(b.seen[0]!.headers.expect).toBeUndefined();
  });
});
