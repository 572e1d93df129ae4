/**
 * Issue 5 gaps, through the whole stack (config text → Runtime → sockets on 127.0.0.1):
 * stream realip from a trusted PROXY header, SNI routing with ssl_preread + map + proxy_pass $var,
 * so_keepalive / tcp_nodelay, the tcp_proxy_module timeout names, exact byte counts in the log.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { flushLogs } from '../../src/log.js';
import { startProxy } from '../helpers/proxy.js';
import { decodeProxyHeader, encodeProxyV1 } from '../../src/wire/proxy-protocol.js';
import { captureClientHello, connect, tcpServer } from '../tcp/stream-harness.js';

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-issue5-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logLines(file: string): string[] {
  // Access logs are buffered (4 KiB) like nginx's `buffer=`; read what a flush would write.
  flushLogs();
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** A backend recording the first bytes of each connection (until `enough` says so); ends after the client. */
async function recorder(enough: (b: Buffer) => boolean = (b) => b.length > 0) {
  const firsts: Buffer[] = [];
  const srv = await tcpServer(
    (s) => {
      let buf = Buffer.alloc(0);
      let done = false;
      s.on('data', (d: Buffer) => {
        if (done) return;
        buf = Buffer.concat([buf, d]);
        if (enough(buf)) {
          done = true;
          firsts.push(buf);
        }
      });
      s.on('end', () => s.end());
    },
    { allowHalfOpen: true },
  );
  return { ...srv, firsts };
}

const ppComplete = (b: Buffer): boolean => decodeProxyHeader(b).kind !== 'incomplete';

describe('stream realip (set_real_ip_from + listen proxy_protocol)', () => {
  async function setup(trusted: string) {
    const dir = tmpDir();
    const backend = await recorder(ppComplete);
    const proxy = await startProxy(`
      stream {
        log_format rl '$remote_addr:$remote_port $realip_remote_addr $proxy_protocol_addr';
        upstream be { hash $remote_addr; server ${backend.address}; }
        server {
          listen 127.0.0.1:0 proxy_protocol;
          set_real_ip_from ${trusted};
          deny 203.0.113.66;
          allow all;
          proxy_pass be;
          proxy_protocol on;
          access_log ${dir}/s.log rl;
        }
      }`);
    return { backend, port: proxy.port(), log: path.join(dir, 's.log') };
  }

  const header = (src: string, port: number): Buffer =>
    encodeProxyV1({ sourceAddress: src, sourcePort: port, destinationAddress: '198.51.100.1', destinationPort: 443 });

  it('a trusted peer makes $remote_addr the PROXY source: log, hash key and the PROXY header sent on', async () => {
    const t = await setup('127.0.0.0/8');
    const c = connect(t.port);
    c.socket.write(Buffer.concat([header('203.0.113.7', 5555), Buffer.from('hi')]));
    await expect.poll(() => t.backend.firsts.length).toBe(1);
    const sent = decodeProxyHeader(t.backend.firsts[0]!);
    expect(sent.kind).toBe('ok');
    if (sent.kind !== 'ok') return;
    expect(sent.header.sourceAddress).toBe('203.0.113.7');
    expect(sent.header.sourcePort).toBe(5555);
    c.socket.destroy();
    await expect.poll(() => logLines(t.log)).toHaveLength(1);
    expect(logLines(t.log)[0]).toBe('203.0.113.7:5555 127.0.0.1 203.0.113.7');
  });

  it('deny applies to the real client address', async () => {
    const t = await setup('127.0.0.1');
    const c = connect(t.port);
    c.socket.write(Buffer.concat([header('203.0.113.66', 1), Buffer.from('hi')]));
    await c.closed;
    expect(t.backend.firsts).toHaveLength(0);
    await expect.poll(() => logLines(t.log)).toHaveLength(1);
    expect(logLines(t.log)[0]).toMatch(/^203\.0\.113\.66:1 /);
  });

  it('an untrusted peer keeps the socket address everywhere', async () => {
    const t = await setup('10.0.0.0/8');
    const c = connect(t.port);
    c.socket.write(Buffer.concat([header('203.0.113.66', 1), Buffer.from('hi')]));
    await expect.poll(() => t.backend.firsts.length).toBe(1);
    const sent = decodeProxyHeader(t.backend.firsts[0]!);
    expect(sent.kind === 'ok' && sent.header.sourceAddress).toBe('127.0.0.1');
    c.socket.destroy();
    await expect.poll(() => logLines(t.log)).toHaveLength(1);
    expect(logLines(t.log)[0]).toMatch(/^127\.0\.0\.1:\d+ 127\.0\.0\.1 203\.0\.113\.66$/);
  });
});

describe('ssl_preread + map $ssl_preread_server_name + proxy_pass $var', () => {
  it('routes each SNI to its upstream, unknown names to the default, bytes unchanged', async () => {
    const a = await recorder();
    const b = await recorder();
    const c3 = await recorder();
    const proxy = await startProxy(`
      stream {
        map $ssl_preread_server_name $backend {
          a.test up_a;
          ~^c\\.(?<n>\\w+)$ ${c3.address};
          default up_b;
        }
        upstream up_a { server ${a.address}; }
        upstream up_b { server ${b.address}; }
        server { listen 127.0.0.1:0; ssl_preread on; proxy_pass $backend; }
      }`);
    const helloA = await captureClientHello({ servername: 'a.test' });
    const helloX = await captureClientHello({ servername: 'x.test' });
    const helloC = await captureClientHello({ servername: 'c.example' });
    for (const hello of [helloA, helloX, helloC]) connect(proxy.port()).socket.write(hello);
    await expect.poll(() => [a.firsts.length, b.firsts.length, c3.firsts.length]).toEqual([1, 1, 1]);
    await expect.poll(() => Buffer.concat(a.firsts).equals(helloA)).toBe(true);
    await expect.poll(() => Buffer.concat(b.firsts).equals(helloX)).toBe(true);
    await expect.poll(() => Buffer.concat(c3.firsts).equals(helloC)).toBe(true);
  });
});

describe('socket options', () => {
  it('so_keepalive on sets SO_KEEPALIVE on both sides; tcp_nodelay off is respected', async () => {
    const keepalive = vi.spyOn(net.Socket.prototype, 'setKeepAlive');
    const nodelay = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    onTestFinished(() => {
      keepalive.mockRestore();
      nodelay.mockRestore();
    });
    const backend = await tcpServer((s) => s.pipe(s));
    const proxy = await startProxy(`
      stream { server { listen 127.0.0.1:0; proxy_pass ${backend.address}; so_keepalive on; tcp_nodelay off; } }`);
    keepalive.mockClear();
    nodelay.mockClear();
    const c = connect(proxy.port());
    c.socket.write('ping');
    await expect.poll(() => c.received().toString()).toBe('ping');
    const keepaliveOn = keepalive.mock.contexts.filter((_, i) => keepalive.mock.calls[i]![0] === true) as net.Socket[];
    // The client socket here is ours: count only the proxy's two sockets (client side, upstream side).
    const proxySide = keepaliveOn.filter((s) => s !== c.socket);
    expect(proxySide.map((s) => s.remotePort).sort()).toEqual([backend.port, c.socket.localPort].sort());
    const noDelayTrue = nodelay.mock.contexts.filter((s, i) => s !== c.socket && nodelay.mock.calls[i]![0] !== false);
    expect(noDelayTrue).toHaveLength(0);
  });
});

describe('tcp_proxy_module timeout names', () => {
  for (const directive of ['proxy_read_timeout', 'proxy_send_timeout', 'proxy_timeout']) {
    it(`${directive} 300ms closes an idle session, an active one lives on`, async () => {
      const backend = await tcpServer((s) => s.pipe(s));
      const proxy = await startProxy(`
        tcp { server { listen 127.0.0.1:0; proxy_pass ${backend.address}; ${directive} 300ms; } }`);
      const idle = connect(proxy.port());
      const busy = connect(proxy.port());
      const started = Date.now();
      let n = 0;
      const timer = setInterval(() => busy.socket.write(String(n++ % 10)), 50);
      onTestFinished(() => clearInterval(timer));
      await idle.closed;
      const idleFor = Date.now() - started;
      expect(idleFor).toBeGreaterThanOrEqual(250);
      expect(idleFor).toBeLessThan(3000);
      expect(busy.socket.destroyed).toBe(false);
      await expect.poll(() => busy.received().length).toBeGreaterThan(5);
      clearInterval(timer);
      await busy.closed;
    });
  }
});

describe('stream access log byte counts', () => {
  it('logs exact $bytes_sent $bytes_received $upstream_bytes_* and $upstream_addr', async () => {
    const dir = tmpDir();
    // The backend answers every byte with three, so the two directions differ.
    const backend = await tcpServer(
      (s) => {
        s.on('data', (d: Buffer) => s.write(Buffer.concat([d, d, d])));
        s.on('end', () => s.end());
      },
      { allowHalfOpen: true },
    );
    const proxy = await startProxy(`
      stream {
        log_format bytes '$bytes_sent $bytes_received $upstream_bytes_sent $upstream_bytes_received $upstream_addr $session_time $status';
        upstream be { server ${backend.address}; }
        server { listen 127.0.0.1:0; proxy_pass be; proxy_half_close on; access_log ${dir}/b.log bytes; }
      }`);
    const c = connect(proxy.port());
    const payload = Buffer.alloc(12_345, 7);
    c.socket.end(payload);
    await c.ended;
    expect(c.received().length).toBe(3 * 12_345);
    await expect.poll(() => logLines(`${dir}/b.log`)).toHaveLength(1);
    expect(logLines(`${dir}/b.log`)[0]).toMatch(
      new RegExp(`^37035 12345 12345 37035 ${backend.address.replace(/\./g, '\\.')} \\d+\\.\\d{3} 200$`),
    );
  });
});
