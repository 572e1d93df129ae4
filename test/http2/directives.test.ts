/**
 * nginx's http2_* directives: accepted as nginx 1.22 accepts them (its checks and its "obsolete"
 * warnings, checked with `nginx -t`), and applied where node's http2 lets us.
 */
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startProxy } from '../helpers/proxy.js';
import { startHttpBackend } from '../helpers/backend.js';
import * as F from '../helpers/h2-frames.js';

function load(http: string): { errors: string[]; warnings: string[] } {
  const r = loadConfig(`http { ${http} server { listen 127.0.0.1:0 http2; location / { return 200; } } }`, 'inline.conf');
  return { errors: r.errors.map((e) => e.message), warnings: r.warnings.map((w) => w.message) };
}

/** SETTINGS values the server sent, by id. */
function serverSettings(c: F.RawH2): Map<number, number> {
  const f = c.frames.find((x) => x.type === F.SETTINGS && x.flags === 0)!;
  const m = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) m.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return m;
}

describe('http2_* directives', () => {
  it('accepts nginx tuning directives; the obsolete ones draw nginx\'s warning', () => {
    const r = load(`http2_recv_buffer_size 128k; http2_chunk_size 16k; http2_body_preread_size 128k; http2_idle_timeout 3m;
      http2_max_field_size 8k; http2_max_header_size 32k; http2_max_requests 500; http2_recv_timeout 30s; http2_push_preload on;
      http2_push /style.css; http2_max_concurrent_streams 64; http2_max_concurrent_pushes 5; http2_streams_index_size 64;`);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      'the "http2_idle_timeout" directive is obsolete, use the "keepalive_timeout" directive instead',
      'the "http2_max_field_size" directive is obsolete, use the "large_client_header_buffers" directive instead',
      'the "http2_max_header_size" directive is obsolete, use the "large_client_header_buffers" directive instead',
      'the "http2_max_requests" directive is obsolete, use the "keepalive_requests" directive instead',
      'the "http2_recv_timeout" directive is obsolete, use the "client_header_timeout" directive instead',
    ]);
  });

  it('refuses what nginx refuses', () => {
    expect(load('http2_streams_index_size 3;').errors).toEqual(['"http2_streams_index_size" directive must be a power of two']);
    expect(load('http2_recv_buffer_size 1;').errors).toEqual(['"http2_recv_buffer_size" directive value is too small']);
    expect(load('http2_chunk_size 0;').errors).toEqual(['the http2 chunk size cannot be zero']);
    expect(load('http2_push_preload maybe;').errors).toEqual(['invalid value "maybe" in "http2_push_preload" directive, it must be "on" or "off"']);
    expect(load('server { http2_recv_buffer_size 1k; }').errors.join()).toMatch(/"http2_recv_buffer_size" directive is not allowed here/);
  });

  it('http2_max_concurrent_streams is sent in SETTINGS and a stream over it is refused', async () => {
    const held: Array<() => void> = [];
    const a = await startHttpBackend('A', (_req, res) => {
      held.push(() => res.end('A'));
    });
    const proxy = await startProxy(`http { http2_max_concurrent_streams 2; http2_body_preread_size 32k;
      server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const c = await F.RawH2.open(proxy.port());
    c.write(F.requestHeaders(1, F.get('/1')), F.requestHeaders(3, F.get('/3')));
    await expect.poll(() => held.length).toBe(2);
    const s = serverSettings(c);
    expect(s.get(0x3)).toBe(2);
    expect(s.get(0x4)).toBe(32 * 1024);
    // nginx refuses a stream over the limit with RST_STREAM(REFUSED_STREAM), as here.
    c.write(F.requestHeaders(5, F.get('/5')));
    expect(await c.rst(5)).toBe(F.REFUSED_STREAM);
    for (const release of held) release();
    expect(await c.status(1)).toBe(200);
    expect(await c.status(3)).toBe(200);
    c.write(F.requestHeaders(7, F.get('/7')));
    await expect.poll(() => held.length).toBe(3);
    held[2]!();
    expect(await c.status(7)).toBe(200);
  });

  it('keepalive_time: the stream or request that finds the connection older ends it (GOAWAY / Connection: close)', async () => {
    const proxy = await startProxy(`http { keepalive_time 1s; server { listen 127.0.0.1:0 http2; location / { return 200 "x"; } } }`);
    const c = await F.RawH2.open(proxy.port());
    c.write(F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
    const h1 = net.connect(proxy.port(), '127.0.0.1');
    h1.on('error', () => {});
    onTestFinished(() => {
      h1.destroy();
    });
    let got = '';
    h1.on('data', (d: Buffer) => (got += d.toString('latin1')));
    h1.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await expect.poll(() => got).toMatch(/\r\n\r\nx$/);
    expect(got).not.toMatch(/Connection: close/i);
    // keepalive_time is a span of time: wait it out.
    await new Promise((r) => setTimeout(r, 1100));
    expect(c.frames.some((f) => f.type === F.GOAWAY)).toBe(false);
    c.write(F.requestHeaders(3, F.get('/')));
    expect(await c.status(3)).toBe(200);
    expect(await c.goaway()).toEqual({ lastStreamId: 3, code: F.NO_ERROR });
    got = '';
    h1.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await expect.poll(() => got).toMatch(/\r\n\r\nx$/);
    expect(got).toMatch(/Connection: close/i);
  });
});
