/**
 * Response bodies over HTTP/2 arrive byte for byte while the proxy reuses its upstream read
 * buffers: small chunks are written to the stream as copies (so the read buffer takes the next
 * read), larger ones as views that keep their buffer until nghttp2 has sent them. A client with a
 * small flow-control window keeps the proxy's writes queued while more is read.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { startHttpBackend } from '../helpers/backend.js';
import { h2connect, h2request } from './h2-helpers.js';

/** Piece sizes on both sides of the 4 KiB copy limit, and the bytes of response `id`. */
function pieces(id: number): Buffer[] {
  const sizes = [1, 5, 300, 4095, 4096, 4097, 70, 9000, 2, 4000, 33_000, 17, 1200];
  let seed = id * 7919;
  return sizes.map((n) =>
    Buffer.from(
      Array.from({ length: n }, () => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed & 0xff;
      }),
    ),
  );
}

function sha(parts: Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

describe('HTTP/2 response bodies and reused read buffers', () => {
  it('delivers every byte of responses written in small and large pieces, with and without content-length, to a slow reader', async () => {
    const a = await startHttpBackend('A', (req, res) => {
      const id = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('id'));
      const parts = pieces(id);
      if (req.url!.startsWith('/length')) res.setHeader('content-length', parts.reduce((n, p) => n + p.length, 0));
      let k = 0;
      // One piece per turn of the event loop: the proxy reads them as separate chunks.
      const next = (): void => {
        if (k === parts.length) return void res.end();
        res.write(parts[k++]);
        setImmediate(next);
      };
      next();
    });
    const proxy = await startProxy(
      `http { upstream b { server 127.0.0.1:${a.port}; keepalive 4; } server { listen 127.0.0.1:0 http2; location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`,
    );
    // A 1 KiB window: the proxy's DATA waits for WINDOW_UPDATEs while it reads on.
    const s = await h2connect(proxy.url(''), { settings: { initialWindowSize: 1024 } });
    const ids = Array.from({ length: 12 }, (_, i) => i + 1);
    const get = (id: number): ReturnType<typeof h2request> => h2request(s, { ':path': `/${id % 2 === 0 ? 'length' : 'chunked'}?id=${id}` });
    // Two waves: the second one reuses the first one's upstream connections (and their read buffers).
    const results = [...(await Promise.all(ids.slice(0, 6).map(get))), ...(await Promise.all(ids.slice(6).map(get)))];
    for (const [i, res] of results.entries()) {
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(pieces(ids[i]!).reduce((n, p) => n + p.length, 0));
      expect(createHash('sha256').update(res.body).digest('hex')).toBe(sha(pieces(ids[i]!)));
    }
    // The upstream connections were reused (their read buffers served several responses).
    expect(a.sockets).toBeLessThan(results.length);
  });
});
