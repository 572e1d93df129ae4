/**
 * stream proxy_upload_rate / proxy_download_rate and proxy_socket_keepalive. nginx 1.22 (checked
 * under a temp prefix): a 30000-byte download at `proxy_download_rate 10k` took 2.95 s, a
 * 30000-byte upload at `proxy_upload_rate 10k` 2.0 s: the first second's 10240 bytes at once, then
 * the rate (nginx counts whole seconds, so its times step by the second; tsproxy's by the
 * millisecond). The bounds are wide: a limited transfer takes at least 1.5 s, an unlimited one
 * well under it.
 */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

const BIG = Buffer.alloc(30000, 97);

async function server(onSocket: (s: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); onSocket(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); srv.close(() => r()); }));
  return (srv.address() as net.AddressInfo).port;
}

/** Connect, optionally send `data`, and read until the proxy closes: the bytes and how long it took. */
function session(port: number, data: Buffer | null): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let bytes = 0;
    const c = net.connect(port, '127.0.0.1', () => { if (data !== null) c.write(data); });
    c.on('error', () => {});
    c.on('data', (d: Buffer) => { bytes += d.length; });
    c.on('close', () => resolve({ bytes, ms: Date.now() - start }));
    onTestFinished(() => { c.destroy(); });
  });
}

describe('stream proxy_download_rate / proxy_upload_rate', () => {
  it('download: the upstream is read at the rate; unlimited next to it', async () => {
    const up = await server((s) => s.end(BIG));
    const slowProxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${up}; proxy_download_rate 10k; } }`);
    const fastProxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${up}; } }`);
    const [slow, fast] = await Promise.all([session(slowProxy.port(), null), session(fastProxy.port(), null)]);
    expect(slow.bytes).toBe(BIG.length);
    expect(slow.ms).toBeGreaterThanOrEqual(1500);
    expect(slow.ms).toBeLessThan(6000);
    expect(fast.bytes).toBe(BIG.length);
    expect(fast.ms).toBeLessThan(1400);
  });

  it('upload: the client is read at the rate, and its FIN follows the bytes held for the rate', async () => {
    let receivedAt = 0;
    let received = 0;
    const up = await server((s) => {
      s.on('data', (c: Buffer) => { received += c.length; });
      s.on('end', () => { receivedAt = Date.now(); s.end(); });
    });
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${up}; proxy_upload_rate 10k; proxy_half_close on; } }`);
    const start = Date.now();
    await new Promise<void>((resolve) => {
      const c = net.connect(proxy.port(), '127.0.0.1', () => c.end(BIG));
      c.on('error', () => {});
      c.on('data', () => {});
      c.on('close', () => resolve());
    });
    expect(received).toBe(BIG.length);
    expect(receivedAt - start).toBeGreaterThanOrEqual(1500);
  });
});

describe('stream proxy_socket_keepalive', () => {
  const hasSs = (() => { try { execFileSync('ss', ['-V']); return true; } catch { return !!process.env.CI; } })();
  it.runIf(hasSs)('on: the upstream connection has a keepalive timer, the client one none', async () => {
    const up = await server(() => {});
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${up}; proxy_socket_keepalive on; } }`);
    const c = net.connect(proxy.port(), '127.0.0.1');
    c.on('error', () => {});
    onTestFinished(() => { c.destroy(); });
    const table = (dst: number) => execFileSync('ss', ['-tnoH', 'state', 'established', 'dst', `127.0.0.1:${dst}`], { encoding: 'utf8' });
    await expect.poll(() => table(up)).toContain('keepalive');
    expect(table(proxy.port())).not.toContain('keepalive');
  });
});
