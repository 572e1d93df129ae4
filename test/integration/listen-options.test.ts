/**
 * listen's socket parameters applied to real sockets: so_keepalive= (the kernel's keepalive timer
 * on accepted connections, read from /proc/net/tcp), ipv6only=, and the listen of an address
 * that carries the options being the one applied (nginx allows options on one listen only).
 */
import fs from 'node:fs';
import net from 'node:net';
import { describe, expect, test, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';

function hexPort(port: number): string {
  return port.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * The timer an accepted socket runs, from /proc/net/tcp: the row whose local port is the
 * proxy's and whose remote port is the client's. `tr` 2 is the keepalive timer; `when` its
 * expiry in jiffies.
 */
function serverSideTimer(listenPort: number, clientPort: number): { tr: number; whenJiffies: number } | null {
  const rows = fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  for (const row of rows) {
    const f = row.trim().split(/\s+/);
    if (f.length < 6) continue;
    if (f[1]!.endsWith(`:${hexPort(listenPort)}`) && f[2]!.endsWith(`:${hexPort(clientPort)}`)) {
      const [tr, when] = f[5]!.split(':');
      return { tr: Number.parseInt(tr!, 16), whenJiffies: Number.parseInt(when!, 16) };
    }
  }
  return null;
}

async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect(port, host);
  s.on('error', () => {});
  onTestFinished(() => { s.destroy(); });
  await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
  return s;
}

const haveProcNet = fs.existsSync('/proc/net/tcp');

describe.skipIf(!haveProcNet)('so_keepalive=', () => {
  for (const [param, expectTimer] of [['so_keepalive=30m::', true], ['so_keepalive=on', true], ['so_keepalive=off', false], ['', false]] as const) {
    test(`listen ... ${param || '(none)'}: keepalive timer on the accepted socket ${expectTimer ? 'runs' : 'does not run'}`, async () => {
      // A backend that accepts and never answers keeps the session open.
      const backend = net.createServer((s) => s.on('error', () => {}));
      await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
      onTestFinished(() => new Promise<void>((r) => backend.close(() => r())));
      const backendPort = (backend.address() as net.AddressInfo).port;
      const proxy = await startProxy(`stream { server { listen 127.0.0.1:0 ${param}; proxy_pass 127.0.0.1:${backendPort}; } }`);
      const port = proxy.port();
      const client = await connect(port);
      await expect.poll(() => serverSideTimer(port, client.localPort!)?.tr, { timeout: 5_000 }).toBe(expectTimer ? 2 : 0);
      expect(client.destroyed).toBe(false);
      if (param === 'so_keepalive=30m::') {
        // keepidle 30m: the timer fires in about 1800 s (jiffies of USER_HZ-independent HZ; > 600 s in any HZ >= 100)
        expect(serverSideTimer(port, client.localPort!)!.whenJiffies).toBeGreaterThan(600 * 100);
      }
    });
  }
});

describe('ipv6only=', () => {
  async function hasIpv6(): Promise<boolean> {
    const s = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '::1', resolve); });
      return true;
    } catch {
      return false;
    } finally {
      s.close();
    }
  }

  test('[::] with ipv6only=on takes no IPv4 connection; ipv6only=off does (Node\'s dual stack)', async (ctx) => {
    if (!(await hasIpv6())) ctx.skip();
    for (const [v, ipv4Accepted] of [['on', false], ['off', true]] as const) {
      const proxy = await startProxy(`http { server { listen [::]:0 ipv6only=${v}; return 200 ok; } }`);
      const port = proxy.port();
      await expect(connect(port, '::1')).resolves.toBeInstanceOf(net.Socket);
      if (ipv4Accepted) await expect(connect(port, '127.0.0.1')).resolves.toBeInstanceOf(net.Socket);
      else await expect(connect(port, '127.0.0.1')).rejects.toThrow(/ECONNREFUSED/);
      await proxy.stop();
    }
  });
});
