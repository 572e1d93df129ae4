import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend, startRawBackend, statuses } from '../helpers/backend.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('http streaming', () => {
  it('streams 10 MB both ways unchanged (hash checked)', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        hash.update(c);
        n += c.length;
      });
      req.on('end', () => {
        res.setHeader('x-request-sha', hash.digest('hex'));
        res.setHeader('x-request-bytes', String(n));
        // a chunked response of the same size, in odd-sized writes
        const out = randomBytes(10 * 1024 * 1024);
        res.setHeader('x-response-sha', sha(out));
        let off = 0;
        const pump = () => {
          while (off < out.length) {
            const end = Math.min(out.length, off + 65_537);
            const ok = res.write(out.subarray(off, end));
            off = end;
            if (!ok) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0;
      location / { client_max_body_size 20m; proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const body = randomBytes(10 * 1024 * 1024);
    const res = await new Promise<{ headers: http.IncomingHttpHeaders; sha: string; bytes: number }>((resolve, reject) => {
      const req = http.request(proxy.url('/up'), { method: 'POST', agent: false, headers: { 'content-length': body.length } }, (r) => {
        const h = createHash('sha256');
        let bytes = 0;
        r.on('data', (c: Buffer) => {
          h.update(c);
          bytes += c.length;
        });
        r.on('end', () => resolve({ headers: r.headers, sha: h.digest('hex'), bytes }));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(res.headers['x-request-bytes']).toBe(String(body.length));
    expect(res.headers['x-request-sha']).toBe(sha(body));
    expect(res.bytes).toBe(10 * 1024 * 1024);
    expect(res.sha).toBe(res.headers['x-response-sha']);
  });

  it('proxies a WebSocket echo (automatic upgrade through proxy_pass)', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.send(`hello ${req.headers.host} ${req.url}`);
      ws.on('message', (m) => ws.send(`echo:${m.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${port}; } } }`);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port()}/chat?x=1`);
    onTestFinished(() => ws.terminate());
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(m.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    ws.send('one');
    ws.send(Buffer.alloc(200_000, 0x61).toString());
    await expect.poll(() => messages.length).toBe(3);
    expect(messages[0]).toBe(`hello 127.0.0.1:${port} /chat?x=1`);
    expect(messages[1]).toBe('echo:one');
    expect(messages[2]!.length).toBe(200_005);
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  it('routes websocket_pass by its first path segment', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => ws.send(`at ${req.url}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { websocket_pass /chat 127.0.0.1:${port}; } } }`);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port()}/chat/1`);
    onTestFinished(() => ws.terminate());
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (m) => resolve(m.toString()));
      ws.once('error', reject);
    });
    expect(first).toBe('at /chat/1');
    const refused = new WebSocket(`ws://127.0.0.1:${proxy.port()}/chatroom`);
    refused.on('error', () => {});
    onTestFinished(() => refused.terminate());
    const status = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });

  it('relays a refused upgrade as a normal response', async () => {
    const a = await startHttpBackend('A', (_req, res) => {
      res.statusCode = 404;
      res.end('no ws here');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const out = await rawExchange(
      proxy.port(),
      'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(statuses(out)).toEqual([404]);
    expect(a.seen[0]!.headers.upgrade).toBe('websocket');
    expect(a.seen[0]!.headers.connection).toBe('upgrade');
  });

  it('retries a stale pooled connection on a fresh one without failing the request', async () => {
    // Each connection answers one request with keep-alive, then drops the connection when the
    // next request arrives on it, unanswered: the race of a peer closing an idle connection.
    const backend = await startRawBackend((socket, all) => {
      const heads = all.split('\r\n\r\n').length - 1;
      if (heads === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      else if (heads > 1) socket.destroy();
    });
    const proxy = await startProxy(`http { upstream b { server 127.0.0.1:${backend.port}; keepalive 2; }
      server { listen 127.0.0.1:0; location / { proxy_pass http://b; } } }`);
    for (let i = 0; i < 3; i++) expect(await request(proxy.url('/'))).toMatchObject({ status: 200, body: 'ok' });
    // every request after the first was tried on the pooled connection, then on a fresh one
    expect(backend.received.length).toBe(3);
    expect(backend.received.slice(0, 2).every((raw) => raw.split('\r\n\r\n').length - 1 === 2)).toBe(true);
  });

  it('tries the next peer on http_502 when asked, and not otherwise', async () => {
    const bad = await startHttpBackend('BAD', (_req, res) => {
      res.statusCode = 502;
      res.end('bad');
    });
    const good = await startHttpBackend('GOOD');
    const proxy = await startProxy(`http {
      upstream app { server 127.0.0.1:${bad.port}; server 127.0.0.1:${good.port}; }
      server { listen 127.0.0.1:0;
        location /retry { proxy_next_upstream error timeout http_502; proxy_pass http://app; }
        location / { proxy_pass http://app; } } }`);
    // without http_502 in proxy_next_upstream a 502 is an answer like any other (and no failure)
    const codes = new Set<number>();
    for (let i = 0; i < 4; i++) codes.add((await request(proxy.url('/plain'))).status);
    expect([...codes].sort()).toEqual([200, 502]);
    for (let i = 0; i < 4; i++) expect((await request(proxy.url('/retry'))).headers['x-backend']).toBe('GOOD');
  });

  it('answers 400 to a chunked body with bad framing and never lets the rest through', async () => {
    const backend = await startRawBackend(() => {});
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0; location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const out = await rawExchange(proxy.port(), 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 1000);
    expect(statuses(out)).toEqual([400]);
  });
});
