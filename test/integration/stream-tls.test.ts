/**
 * TLS termination in stream {} servers (issue 8): the server is chosen by the SNI of the
 * handshake, TLS ends at the proxy and the upstream gets plain TCP; $ssl_* in the stream log;
 * ssl_verify_client on closes a client without a valid certificate; garbage is closed.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { flushLogs } from '../../src/log.js';
import { startRawBackend } from '../helpers/backend.js';
import { startProxy } from '../helpers/proxy.js';
import { makeCa, makeCert, makeClientCert, testCerts, writeCert, type TestCert } from '../helpers/tls-certs.js';

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-stls-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Send `line` over TLS, read the echo; resolves with the peer certificate's CN and the reply. */
function tlsEcho(port: number, servername: string | null, line: string, cert?: TestCert): Promise<{ cn: string; reply: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1', port, rejectUnauthorized: false,
      ...(servername !== null ? { servername } : {}),
      ...(cert ? { cert: cert.cert, key: cert.key } : {}),
    });
    let reply = '';
    let cn = '';
    s.on('error', reject);
    s.on('secureConnect', () => {
      cn = (s.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN ?? '';
      s.write(line);
    });
    s.setEncoding('utf8');
    s.on('data', (d) => {
      reply += d;
      if (reply.includes('\n')) s.end();
    });
    s.on('close', () => resolve({ cn, reply }));
  });
}

const echo = (name: string) => startRawBackend((socket, all) => {
  if (all.endsWith('\n')) socket.write(`${name}:${all}`);
});

describe('stream TLS termination', () => {
  it('chooses the server by SNI, terminates TLS and proxies plain TCP; $ssl_* in the log', async () => {
    const dir = tmpDir();
    const { a, b } = testCerts();
    const fa = writeCert(dir, 'a', a);
    const fb = writeCert(dir, 'b', b);
    const A = await echo('A');
    const B = await echo('B');
    const proxy = await startProxy(`
      stream {
        log_format tls '$ssl_server_name $ssl_protocol $ssl_client_verify $server_name';
        server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${fa.cert}; ssl_certificate_key ${fa.key};
                 proxy_pass 127.0.0.1:${A.port}; access_log ${dir}/s.log tls; }
        server { listen 127.0.0.1:0; server_name b.test; ssl_certificate ${fb.cert}; ssl_certificate_key ${fb.key};
                 proxy_pass 127.0.0.1:${B.port}; access_log ${dir}/b.log tls; }
      }`);
    const port = proxy.port();
    expect(await tlsEcho(port, 'a.test', 'hello\n')).toEqual({ cn: 'a.test', reply: 'A:hello\n' });
    expect(await tlsEcho(port, 'b.test', 'hi\n')).toEqual({ cn: 'b.test', reply: 'B:hi\n' });
    // no SNI: the first (default) server and its certificate
    expect(await tlsEcho(port, null, 'x\n')).toEqual({ cn: 'a.test', reply: 'A:x\n' });
    // the upstream saw plaintext
    expect(A.received[0]).toBe('hello\n');
    // access logs are buffered (4 KiB): read what a flush writes
    const log = (f: string): string[] => (flushLogs(), fs.existsSync(`${dir}/${f}`) ? fs.readFileSync(`${dir}/${f}`, 'utf8').trim().split('\n').sort() : []);
    await expect.poll(() => log('s.log')).toEqual(['- TLSv1.3 NONE a.test', 'a.test TLSv1.3 NONE a.test']);
    await expect.poll(() => log('b.log')).toEqual(['b.test TLSv1.3 NONE b.test']);
  });

  it('ssl_verify_client on: a client without a valid certificate is closed, one with it is served', async () => {
    const dir = tmpDir();
    const ca = makeCa('Stream CA');
    fs.writeFileSync(`${dir}/ca.pem`, ca.cert);
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const A = await echo('A');
    const proxy = await startProxy(`
      stream { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        ssl_client_certificate ${dir}/ca.pem; ssl_verify_client on; proxy_pass 127.0.0.1:${A.port}; } }`);
    const port = proxy.port();
    expect((await tlsEcho(port, 'a.test', 'ok\n', makeClientCert(ca, '/CN=client'))).reply).toBe('A:ok\n');
    expect((await tlsEcho(port, 'a.test', 'no\n')).reply).toBe('');
    expect((await tlsEcho(port, 'a.test', 'bad\n', makeCert('rogue'))).reply).toBe('');
    expect(A.received).toEqual(['ok\n']);
  });

  it('closes a client that does not speak TLS, and keeps serving', async () => {
    const dir = tmpDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const A = await echo('A');
    const proxy = await startProxy(`
      stream { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        preread_timeout 1s; proxy_pass 127.0.0.1:${A.port}; } }`);
    const port = proxy.port();
    const closed = (payload: Buffer) => new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(payload));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('error', () => {});
      s.on('close', () => resolve(got));
    });
    expect(await closed(Buffer.from('hello\n'))).toBe('');
    expect(await closed(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]))).toBe('');
    expect(A.received).toEqual([]);
    expect((await tlsEcho(port, 'a.test', 'fine\n')).reply).toBe('A:fine\n');
  });
});
