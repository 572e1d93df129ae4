import net from 'node:net';
import tls from 'node:tls';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTlsBackend, testCerts, type TestCert } from '../helpers/tls-certs.js';
import { decodeProxyHeader } from '../../src/wire/proxy-protocol.js';
import {
  captureClientHello,
  connect,
  listen,
  loc,
  names,
  proxyTo,
  server,
  startStream,
  streamConfig,
  tcpServer,
  upstream,
} from '../tcp/stream-harness.js';

let certs: ReturnType<typeof testCerts>;
beforeAll(() => {
  certs = testCerts();
});

/** A TLS backend that greets with its own name. */
async function tlsBackend(cert: TestCert): Promise<string> {
  return `127.0.0.1:${await startTlsBackend(cert)}`;
}

/** Connect through the proxy with TLS; resolve with the backend certificate's CN and greeting. */
function tlsThrough(port: number, servername: string | undefined, viaPort = port): Promise<{ cn: string; text: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: viaPort, servername, rejectUnauthorized: false });
    onTestFinished(() => void s.destroy());
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('error', reject);
    s.on('end', () => resolve({ cn: String(s.getPeerCertificate().subject?.CN), text }));
  });
}

async function sniProxy(prereadTimeoutMs = 30_000) {
  const [a, b, wild] = await Promise.all([tlsBackend(certs.a), tlsBackend(certs.b), tlsBackend(certs.wild)]);
  return startStream({
    ...streamConfig(
      [upstream('a', a), upstream('b', b), upstream('wild', wild)],
      [
        server({ listens: [listen('tls')], serverNames: names('a.test'), handler: proxyTo('a'), sslPreread: true }),
        server({ listens: [listen('tls', { defaultServer: true })], serverNames: names('b.test'), handler: proxyTo('b'), prereadTimeoutMs, accessLogs: [{ path: '/log', format: 'sni', loc }] }),
        server({ listens: [listen('tls')], serverNames: names('*.wild.test'), handler: proxyTo('wild') }),
      ],
    ),
    logFormats: [{ name: 'sni', escape: 'default', template: '$ssl_preread_server_name $server_name $status', loc }],
  });
}

describe('TLS passthrough routed by SNI', () => {
  it('reaches the backend named by the SNI, without terminating TLS', async () => {
    const proxy = await sniProxy();
    const port = proxy.port('tls');
    expect(await tlsThrough(port, 'a.test')).toEqual({ cn: 'a.test', text: 'hello from a.test' });
    expect(await tlsThrough(port, 'b.test')).toEqual({ cn: 'b.test', text: 'hello from b.test' });
    await expect.poll(() => proxy.logs.get('/log')).toEqual(['b.test b.test 200\n']);
    expect(await tlsThrough(port, 'x.wild.test')).toEqual({ cn: '*.wild.test', text: 'hello from *.wild.test' });
    expect((await tlsThrough(port, 'A.TEST')).cn).toBe('a.test');
  });

  it('sends clients without SNI, or with an unknown name, to the default server', async () => {
    const proxy = await sniProxy();
    expect((await tlsThrough(proxy.port('tls'), undefined)).cn).toBe('b.test');
    expect((await tlsThrough(proxy.port('tls'), 'nobody.test')).cn).toBe('b.test');
  });

  it('sends non-TLS clients to the default server at once', async () => {
    const plain = await tcpServer((s) => s.end('plain'));
    const proxy = await startStream(
      streamConfig(
        [upstream('plain', plain.address), upstream('other', plain.address)],
        [
          server({ listens: [listen('k')], serverNames: names('a.test'), handler: proxyTo('other') }),
          server({ listens: [listen('k', { defaultServer: true })], handler: proxyTo('plain') }),
        ],
      ),
    );
    const c = connect(proxy.port('k'));
    c.socket.write('x');
    await c.ended;
    expect(c.received().toString()).toBe('plain');
  });

  it('routes a ClientHello that arrives in many small TCP segments', async () => {
    const proxy = await sniProxy();
    // A relay that dribbles the first 600 client bytes to the proxy 40 bytes at a time.
    const relay = await tcpServer((client) => {
      const up = net.connect({ host: '127.0.0.1', port: proxy.port('tls'), noDelay: true });
      up.on('error', () => client.destroy());
      up.pipe(client);
      let dribbled = 0;
      const queue: Buffer[] = [];
      let busy = false;
      const pump = (): void => {
        const next = queue.shift();
        if (next === undefined) {
          busy = false;
          return;
        }
        busy = true;
        up.write(next);
        setTimeout(pump, 5);
      };
      client.on('data', (d: Buffer) => {
        for (let i = 0; i < d.length; ) {
          const n = dribbled < 600 ? 40 : d.length - i;
          queue.push(d.subarray(i, i + n));
          i += n;
          dribbled += n;
        }
        if (!busy) pump();
      });
      client.on('end', () => up.end());
    });
    expect(await tlsThrough(0, 'a.test', relay.port)).toEqual({ cn: 'a.test', text: 'hello from a.test' });
  });

  it('closes a client that sends nothing after preread_timeout', async () => {
    const proxy = await sniProxy(300);
    const c = connect(proxy.port('tls'));
    const started = Date.now();
    await c.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await expect.poll(() => proxy.site.activeSessions).toBe(0);
    expect(proxy.logs.get('/log')).toEqual(['- b.test 200\n']);
  });
});

describe('PROXY protocol', () => {
  /** A backend that decodes the PROXY header and answers with it as JSON, plus the next payload byte. */
  async function ppBackend(): Promise<string> {
    const srv = await tcpServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        const r = decodeProxyHeader(buf);
        if (r.kind === 'incomplete' || (r.kind === 'ok' && buf.length === r.length)) return;
        s.end(JSON.stringify(r.kind === 'ok' ? { ...r.header, tlvs: undefined, next: buf[r.length] } : r));
      });
    });
    return srv.address;
  }

  it('sends v1 and v2 headers carrying the client address (v2 with the SNI as AUTHORITY TLV)', async () => {
    const backend = await ppBackend();
    const proxy = await startStream(
      streamConfig(
        [upstream('pp', backend)],
        [
          server({ listens: [listen('v1')], handler: proxyTo('pp'), proxyProtocolVersion: 1 }),
          server({ listens: [listen('v2')], handler: proxyTo('pp'), proxyProtocolVersion: 2, sslPreread: true }),
        ],
      ),
    );
    const c1 = connect(proxy.port('v1'));
    c1.socket.write('P');
    await c1.ended;
    const h1 = JSON.parse(c1.received().toString());
    expect(h1).toMatchObject({ version: 1, family: 'tcp4', sourceAddress: '127.0.0.1', sourcePort: c1.socket.localPort, destinationPort: proxy.port('v1'), next: 0x50 });

    const hello = await captureClientHello({ servername: 'a.test' });
    const c2 = connect(proxy.port('v2'));
    c2.socket.write(hello);
    await c2.ended;
    const h2 = JSON.parse(c2.received().toString());
    expect(h2).toMatchObject({ version: 2, family: 'tcp4', sourceAddress: '127.0.0.1', sourcePort: c2.socket.localPort, authority: 'a.test', next: 0x16 });
  });

  it('accepts v1 and v2 headers on a proxy_protocol listen and closes on a malformed one', async () => {
    let reached = 0;
    const echo = await tcpServer((s) => {
      reached++;
      s.pipe(s);
    });
    const proxy = await startStream({
      ...streamConfig(
        [upstream('echo', echo.address)],
        [server({ listens: [listen('pp', { proxyProtocol: true })], handler: proxyTo('echo'), accessLogs: [{ path: '/log', format: 'pp', loc }] })],
      ),
      logFormats: [{ name: 'pp', escape: 'default', template: '$remote_addr $proxy_protocol_addr:$proxy_protocol_port $status', loc }],
    });
    const v1 = connect(proxy.port('pp'));
    v1.socket.write('PROXY TCP4 203.0.113.7 10.0.0.1 5555 80\r\nping');
    await expect.poll(() => v1.received().toString()).toBe('ping');
    v1.socket.end();
    await expect.poll(() => proxy.logs.get('/log')?.[0]).toBe('127.0.0.1 203.0.113.7:5555 200\n');

    const { encodeProxyV2 } = await import('../../src/wire/proxy-protocol.js');
    const v2 = connect(proxy.port('pp'));
    const header = encodeProxyV2({ sourceAddress: '2001:db8::9', sourcePort: 7, destinationAddress: '2001:db8::1', destinationPort: 443 });
    // split mid-header: the decoder must wait for the rest
    v2.socket.write(header.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 20));
    v2.socket.write(Buffer.concat([header.subarray(10), Buffer.from('pong')]));
    await expect.poll(() => v2.received().toString()).toBe('pong');
    v2.socket.end();
    await expect.poll(() => proxy.logs.get('/log')?.[1]).toBe('127.0.0.1 2001:db8::9:7 200\n');

    const bad = connect(proxy.port('pp'));
    bad.socket.write('GET / HTTP/1.1\r\n\r\n');
    await bad.closed;
    expect(bad.received().length).toBe(0);
    await expect.poll(() => proxy.logs.get('/log')?.[2]).toBe('127.0.0.1 -:- 400\n');
    expect(reached).toBe(2);
  });
});
