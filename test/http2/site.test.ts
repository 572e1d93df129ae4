import net from 'node:net';
import http2 from 'node:http2';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pino } from 'pino';
import { HttpSite } from '../../src/http/site.js';
import { http2Handler } from '../../src/http2/accept.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { configFrom } from '../helpers/proxy.js';
import { startHttpBackend } from '../helpers/backend.js';
import { h2connect, h2request } from './h2-helpers.js';

/** A site whose HTTP/2 handler serves every socket of a plain net.Server (as TLS hands over ALPN h2). */
async function h2Site(text: string): Promise<{ url: string; lines: string[]; site: HttpSite }> {
  const config = configFrom(text);
  const registry = new PeerRegistry();
  const groups = new Map<string, UpstreamGroup>();
  for (const u of config.http!.upstreams) groups.set(u.name, await UpstreamGroup.create(u, registry));
  const lines: string[] = [];
  const site = new HttpSite(config.http!, {
    groups,
    logger: pino({ level: 'silent' }),
    openAccessLog: () => ({ write: (line: string) => void lines.push(line) }),
  });
  const handler = http2Handler(site, config.http!.servers[0]!.listens[0]!.key);
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    handler(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        site.close();
        server.close(() => r());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, lines, site };
}

describe('http2Handler(site)', () => {
  it('tracks the session, not finished streams; logs each stream once', async () => {
    const a = await startHttpBackend('A');
    const { url, lines, site } = await h2Site(`http { log_format t '$request|$status|$body_bytes_sent|$upstream_status';
      server { listen 127.0.0.1:0; access_log /dev/null t; location / { proxy_pass http://127.0.0.1:${a.port}; } location = /r { return 204; } } }`);
    const s = await h2connect(url);
    await h2request(s, { ':path': '/p' });
    await h2request(s, { ':path': '/r' });
    await h2request(s, { ':method': 'POST', ':path': '/p' }, 'body');
    await expect.poll(() => site.connectionCount).toBe(1);
    expect(lines).toEqual(['GET /p HTTP/2.0|200|1|200\n', 'GET /r HTTP/2.0|204|0|-\n', 'POST /p HTTP/2.0|200|1|200\n']);
    s.close();
    await expect.poll(() => site.connectionCount).toBe(0);
  });

  it('a stream reset mid-response is logged once with the status sent and leaves nothing behind', async () => {
    const block = Buffer.alloc(64 * 1024, 9);
    const a = await startHttpBackend('A', (_req, res) => {
      const pump = (): void => {
        while (!res.destroyed && res.write(block));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const { url, lines, site } = await h2Site(`http { log_format t '$status';
      server { listen 127.0.0.1:0; access_log /dev/null t; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const s = await h2connect(url);
    for (let i = 0; i < 5; i++) {
      const req = s.request({ ':path': '/endless' });
      req.on('error', () => {});
      await new Promise<void>((resolve) => req.once('data', () => resolve()));
      req.close(http2.constants.NGHTTP2_CANCEL);
    }
    await expect.poll(() => lines.length).toBe(5);
    expect(new Set(lines)).toEqual(new Set(['200\n']));
    await expect.poll(() => site.connectionCount).toBe(1);
  });

  it('site.close() sends GOAWAY and closes the session once idle', async () => {
    const { url, site } = await h2Site(`http { server { listen 127.0.0.1:0; location / { return 200 "x"; } } }`);
    const s = await h2connect(url);
    expect((await h2request(s, { ':path': '/' })).text).toBe('x');
    const gone = new Promise<void>((resolve) => s.once('goaway', () => resolve()));
    site.close();
    await gone;
    await expect.poll(() => s.destroyed).toBe(true);
    expect(site.connectionCount).toBe(0);
  });
});
