import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connect, listen, proxyTo, server, startStream, streamConfig, tcpServer, upstream } from '../tcp/stream-harness.js';

/** Distinct blocks so a reused read buffer overwritten too early cannot go unnoticed. */
function block(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

describe('tcp proxy bulk path (reused upstream read buffer)', () => {
  it('relays what a server sends before the client speaks, even more than one read buffer', async () => {
    const greeting = Buffer.concat([block(1, 100_000), block(2, 8_000_000)]);
    const backend = await tcpServer((s) => s.end(greeting), { allowHalfOpen: true });
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be') })]));
    const c = connect(proxy.port('k'));
    // Not reading at first lets the proxy's writes to us queue up behind the kernel buffers.
    c.socket.pause();
    setTimeout(() => c.socket.resume(), 100);
    await c.ended;
    expect(c.received().equals(greeting)).toBe(true);
  });

  it('keeps every byte intact for a client that reads in bursts (writes queue, the buffer is handed over)', async () => {
    const blocks = 48;
    const size = 512 * 1024;
    const sent = crypto.createHash('sha256');
    const backend = await tcpServer((s) => {
      let i = 0;
      const more = (): void => {
        while (i < blocks) {
          const b = block(i++, size);
          sent.update(b);
          if (!s.write(b)) return void s.once('drain', more);
        }
        s.end();
      };
      more();
    });
    const proxy = await startStream(streamConfig([upstream('be', backend.address)], [server({ listens: [listen('k')], handler: proxyTo('be') })]));
    const c = connect(proxy.port('k'));
    const received = crypto.createHash('sha256');
    let bytes = 0;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => {
      bytes += d.length;
      received.update(d);
      // Stall now and then so the proxy's writes to us back up.
      if (bytes % (3 * 1024 * 1024) < d.length) {
        c.socket.pause();
        setTimeout(() => c.socket.resume(), 20);
      }
    });
    await c.ended;
    expect(bytes).toBe(blocks * size);
    expect(received.digest('hex')).toBe(sent.digest('hex'));
  }, 60_000);
});
