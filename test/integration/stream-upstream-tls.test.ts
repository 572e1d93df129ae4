/**
 * `proxy_ssl on` in stream servers: TLS to the upstream with proxy_ssl_* (nginx's stream proxy
 * module: verify against proxy_ssl_trusted_certificate and proxy_ssl_name, SNI with
 * proxy_ssl_server_name, a client certificate, session reuse), through real sockets.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, test, onTestFinished } from 'vitest';
import { tempDir } from '../helpers/cli.js';
import { makeCert } from '../helpers/tls-certs.js';
import { startProxy } from '../helpers/proxy.js';
import { startLoggedProxy } from './upstream-helpers.js';

/** A TLS backend that tells what it saw: SNI, a resumed session, the client certificate's CN. */
async function tlsBackend(clientCa?: string): Promise<{ port: number; certFile: string }> {
  const cert = makeCert('up.test');
  const srv = tls.createServer({ key: cert.key, cert: cert.cert, ...(clientCa !== undefined ? { requestCert: true, rejectUnauthorized: true, ca: clientCa } : {}) }, (s) => {
    s.on('error', () => {});
    const peer = s.getPeerCertificate();
    const sni = (s as tls.TLSSocket & { servername?: string | false }).servername;
    s.end(`sni=${sni || '-'} reused=${s.isSessionReused()} client=${peer?.subject?.CN ?? '-'}`);
  });
  srv.on('tlsClientError', () => {});
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => srv.close(() => r())));
  const certFile = path.join(tempDir(), 'up.pem');
  fs.writeFileSync(certFile, cert.cert);
  return { port: (srv.address() as net.AddressInfo).port, certFile };
}

function read(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    onTestFinished(() => { s.destroy(); });
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => { out += d; });
    s.on('close', () => resolve(out));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(out) : reject(e)));
  });
}

describe('stream proxy_ssl', () => {
  test('proxy_protocol with proxy_ssl: the PROXY header goes in clear, before the handshake (nginx)', async () => {
    const cert = makeCert('up.test');
    const srv = net.createServer((raw) => {
      raw.on('error', () => {});
      raw.once('readable', () => {
        const head = raw.read() as Buffer | null;
        const text = head === null ? '' : head.toString('latin1');
        const eol = text.indexOf('\r\n');
        if (eol === -1 || !text.startsWith('PROXY TCP4 ')) return void raw.end('no proxy header');
        // anything after the header is the ClientHello: put it back for the TLS side
        raw.unshift(head!.subarray(eol + 2));
        const t = new tls.TLSSocket(raw, { isServer: true, key: cert.key, cert: cert.cert });
        t.on('error', () => {});
        t.on('secure', () => t.end(`proxy=${text.slice(0, eol).split(' ').slice(0, 2).join(' ')} tls=ok`));
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => srv.close(() => r())));
    const port = (srv.address() as net.AddressInfo).port;
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${port}; proxy_ssl on; proxy_protocol on; } }`);
    expect(await read(proxy.port())).toBe('proxy=PROXY TCP4 tls=ok');
  });

  test('verified against proxy_ssl_trusted_certificate and proxy_ssl_name, SNI sent with proxy_ssl_server_name on', async () => {
    const b = await tlsBackend();
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${b.port};
      proxy_ssl on; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${b.certFile}; proxy_ssl_name up.test; proxy_ssl_server_name on; } }`);
    expect(await read(proxy.port())).toMatch(/^sni=up\.test reused=false client=-$/);
  });

  test('no SNI by default (proxy_ssl_server_name off), and no verification by default', async () => {
    const b = await tlsBackend();
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${b.port}; proxy_ssl on; } }`);
    expect(await read(proxy.port())).toMatch(/^sni=- /);
  });

  test('a certificate that does not match proxy_ssl_name fails the try: the client is closed without data', async () => {
    const b = await tlsBackend();
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${b.port};
      proxy_ssl on; proxy_ssl_verify on; proxy_ssl_trusted_certificate ${b.certFile}; proxy_ssl_name other.test; } }`);
    expect(await read(proxy.port())).toBe('');
  });

  test('a failed upstream handshake is a failed try: the next peer is tried, and max_fails takes the peer out (nginx)', async () => {
    // A peer that accepts TCP and closes at once: the handshake fails, as with a non-TLS peer.
    const bad = net.createServer((s) => { s.on('error', () => {}); s.destroy(); });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => bad.close(() => r())));
    const badPort = (bad.address() as net.AddressInfo).port;
    const good = await tlsBackend();
    const proxy = await startLoggedProxy(`stream {
      upstream u { server 127.0.0.1:${badPort} max_fails=1 fail_timeout=30s; server 127.0.0.1:${good.port}; }
      server { listen 127.0.0.1:0; proxy_pass u; proxy_ssl on; } }`);
    // round robin starts at the bad peer: its try fails, the good one answers the same client
    expect(await read(proxy.port)).toMatch(/^sni=- reused=/);
    await expect.poll(() => proxy.logs.some((l) => /^upstream SSL handshake failed/.test(l.msg))).toBe(true);
    await expect.poll(() => proxy.logs.some((l) => l.msg === 'upstream server temporarily disabled while connecting to upstream')).toBe(true);
    // taken out for fail_timeout: every following connection goes to the good peer first time
    for (let i = 0; i < 3; i++) expect(await read(proxy.port)).toMatch(/^sni=- /);
    expect(proxy.logs.filter((l) => /^upstream SSL handshake failed/.test(l.msg))).toHaveLength(1);
  });

  test('proxy_ssl_certificate / _key: the upstream sees the client certificate', async () => {
    const client = makeCert('client.test');
    const b = await tlsBackend(client.cert);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'c.pem'), client.cert);
    fs.writeFileSync(path.join(dir, 'k.pem'), client.key);
    const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${b.port};
      proxy_ssl on; proxy_ssl_certificate ${dir}/c.pem; proxy_ssl_certificate_key ${dir}/k.pem; } }`);
    expect(await read(proxy.port())).toMatch(/client=client\.test$/);
  });

  for (const [reuse, expected] of [['on', 'true'], ['off', 'false']] as const) {
    test(`proxy_ssl_session_reuse ${reuse}: the second connection ${reuse === 'on' ? 'resumes' : 'does not resume'} the session`, async () => {
      const b = await tlsBackend();
      const proxy = await startProxy(`stream { server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:${b.port}; proxy_ssl on; proxy_ssl_session_reuse ${reuse}; } }`);
      expect(await read(proxy.port())).toMatch(/reused=false/);
      expect(await read(proxy.port())).toMatch(new RegExp(`reused=${expected}`));
    });
  }
});
