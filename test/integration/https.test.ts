/**
 * TLS termination on http `listen ... ssl` (issue 8): SNI certificate choice with server_name
 * precedence, $https/$scheme/$ssl_* variables, mTLS as nginx (400 pages), X-Forwarded-Proto,
 * https redirects, hostile clients (garbage, stalled handshakes), Debian curl, reload of a
 * changed certificate. Certificates are made in the test (openssl CLI).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startHttpBackend } from '../helpers/backend.js';
import { configFrom, startProxy } from '../helpers/proxy.js';
import { makeCa, makeCert, makeClientCert, makeSignedCert, testCerts, writeCert, type TestCert } from '../helpers/tls-certs.js';

function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-https-'));
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Answer {
  status: number;
  headers: string;
  body: string;
  /** CN of the certificate the proxy presented. */
  cn: string;
  socket: tls.TLSSocket;
  /** The last TLS session the client was given (for resumption). */
  session: Buffer | null;
}

/** One HTTP/1.1 request over TLS with `servername` as SNI (none when null). */
function httpsGet(
  port: number,
  servername: string | null,
  opts: { host?: string; path?: string; cert?: TestCert; ca?: string; session?: Buffer; alpn?: string[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      ...(servername !== null ? { servername } : {}),
      ...(opts.cert ? { cert: opts.cert.cert, key: opts.cert.key } : {}),
      ...(opts.session ? { session: opts.session } : {}),
      ALPNProtocols: opts.alpn ?? ['http/1.1'],
    });
    socket.on('error', reject);
    let session: Buffer | null = null;
    socket.on('session', (s: Buffer) => (session = s));
    let data = '';
    socket.on('secureConnect', () => {
      const host = opts.host ?? servername ?? 'none.test';
      socket.write(`GET ${opts.path ?? '/'} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (d) => (data += d));
    socket.on('end', () => {
      const split = data.indexOf('\r\n\r\n');
      const head = data.slice(0, split);
      const cn = (socket.getPeerCertificate() as { subject?: { CN?: string } }).subject?.CN ?? '';
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: data.slice(split + 4), cn, socket, session });
      socket.destroy();
    });
  });
}

async function sniProxy(extra = '', server = '') {
  const dir = tmpDir();
  const { a, b, wild } = testCerts();
  const fa = writeCert(dir, 'a', a);
  const fb = writeCert(dir, 'b', b);
  const fw = writeCert(dir, 'wild', wild);
  const body = 'return 200 "$server_name|$ssl_server_name|$https|$scheme\\n";';
  const proxy = await startProxy(`
    http {
      ${extra}
      server { listen 127.0.0.1:0 ssl; server_name b.test;
               ssl_certificate ${fb.cert}; ssl_certificate_key ${fb.key}; ${server} location / { ${body} } }
      server { listen 127.0.0.1:0 default_server; server_name a.test;
               ssl_certificate ${fa.cert}; ssl_certificate_key ${fa.key}; location / { ${body} } }
      server { listen 127.0.0.1:0; server_name *.wild.test;
               ssl_certificate ${fw.cert}; ssl_certificate_key ${fw.key}; location / { ${body} } }
      server { listen 127.0.0.1:0; server_name ~^re\\d+\\.test$ nocert.test; location / { ${body} } }
    }`);
  return { proxy, port: proxy.port('127.0.0.1:0'), dir };
}

describe('https: certificates by SNI', () => {
  it('chooses the certificate by server_name precedence, default server without SNI or with an unknown name', async () => {
    const { port } = await sniProxy();
    const a = await httpsGet(port, 'a.test');
    expect([a.status, a.cn, a.body]).toEqual([200, 'a.test', 'a.test|a.test|on|https\n']);
    const b = await httpsGet(port, 'b.test');
    expect([b.cn, b.body]).toEqual(['b.test', 'b.test|b.test|on|https\n']);
    const w = await httpsGet(port, 'x.wild.test');
    expect([w.cn, w.body]).toEqual(['*.wild.test', '*.wild.test|x.wild.test|on|https\n']);
    // no SNI: the default_server's certificate (a.test), routing still by Host
    const none = await httpsGet(port, null, { host: 'b.test' });
    expect([none.cn, none.body]).toEqual(['a.test', 'b.test||on|https\n']);
    const unknown = await httpsGet(port, 'other.test');
    expect(unknown.cn).toBe('a.test');
    // a server without certificates (regex name) uses the default server's
    const re = await httpsGet(port, 're42.test');
    expect([re.cn, re.body]).toEqual(['a.test', '~^re\\d+\\.test$|re42.test|on|https\n']);
  });

  it('serves an RSA and an ECDSA certificate from one server, by what the client accepts', async () => {
    const dir = tmpDir();
    const ec = writeCert(dir, 'ec', makeCert('a.test'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/rsa.key`, '-out', `${dir}/rsa.crt`,
      '-days', '1', '-subj', '/CN=rsa.a.test'], { stdio: 'ignore' });
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test;
        ssl_certificate ${dir}/rsa.crt; ssl_certificate_key ${dir}/rsa.key;
        ssl_certificate ${ec.cert}; ssl_certificate_key ${ec.key};
        location / { return 200 "$ssl_cipher"; } } }`);
    const keyType = (ciphers: string) => new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: proxy.port(), servername: 'a.test', rejectUnauthorized: false, maxVersion: 'TLSv1.2', ciphers });
      s.on('error', reject);
      s.on('secureConnect', () => {
        resolve(s.getPeerX509Certificate()!.publicKey.asymmetricKeyType!);
        s.destroy();
      });
    });
    expect(await keyType('ECDHE-RSA-AES128-GCM-SHA256')).toBe('rsa');
    expect(await keyType('ECDHE-ECDSA-AES128-GCM-SHA256')).toBe('ec');
  });

  it('sets the $ssl_* variables as nginx writes them', async () => {
    const dir = tmpDir();
    const { a } = testCerts();
    const f = writeCert(dir, 'a', a);
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        ssl_protocols TLSv1.2;
        location / { return 200 "p=$ssl_protocol c=$ssl_cipher sn=$ssl_server_name v=$ssl_client_verify r=$ssl_session_reused alpn=$ssl_alpn_protocol s=$ssl_client_s_dn\\n"; } } }`);
    const port = proxy.port();
    const first = await httpsGet(port, 'a.test');
    expect(first.body).toMatch(/^p=TLSv1\.2 c=ECDHE-ECDSA-[A-Z0-9-]+ sn=a\.test v=NONE r=\. alpn=http\/1\.1 s=\n$/);
    expect(first.session).not.toBeNull();
    const again = await httpsGet(port, 'a.test', { session: first.session! });
    expect(again.body).toContain(' r=r ');
  });

  it('refuses a cipher list OpenSSL does not know when the config loads, so a reload keeps the running one', async () => {
    const dir = tmpDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const { loadConfig } = await import('../../src/config/load.js');
    const r = loadConfig(`http { server { listen 127.0.0.1:0 ssl; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
      ssl_ciphers NO-SUCH-CIPHER; } }`, 'inline.conf');
    expect(r.config).toBeNull();
    expect(r.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^invalid value "NO-SUCH-CIPHER" in "ssl_ciphers" directive/)]);
  });
});

describe('https: headers and redirects', () => {
  it('sends X-Forwarded-Proto https upstream and redirects to https://$host$request_uri', async () => {
    const backend = await startHttpBackend('A');
    const dir = tmpDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        location / { proxy_pass http://127.0.0.1:${backend.port}; } } }`);
    const r = await httpsGet(proxy.port(), 'a.test', { path: '/x?y=1' });
    expect(r.status).toBe(200);
    expect(backend.seen[0]!.headers['x-forwarded-proto']).toBe('https');
    const redirector = await startProxy('http { server { listen 127.0.0.1:0; server_name a.test; return 301 https://$host$request_uri; } }');
    const plain = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: redirector.port(), path: '/p/q?z=2', headers: { host: 'a.test' } }, resolve).on('error', reject));
    plain.resume();
    expect(plain.statusCode).toBe(301);
    expect(plain.headers.location).toBe('https://a.test/p/q?z=2');
  });
});

describe('https: client certificates', () => {
  async function mtlsProxy(mode: string) {
    const dir = tmpDir();
    const ca = makeCa('Test CA');
    const server = writeCert(dir, 'srv', makeSignedCert(ca, 'a.test'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.cert);
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${server.cert}; ssl_certificate_key ${server.key};
        ssl_client_certificate ${dir}/ca.pem; ssl_verify_client ${mode};
        location / { return 200 "v=$ssl_client_verify s=$ssl_client_s_dn i=$ssl_client_i_dn serial=$ssl_client_serial fp=$ssl_client_fingerprint\\n"; } } }`);
    return { port: proxy.port(), client: makeClientCert(ca, '/C=US/O=Org/CN=client'), rogue: makeCert('rogue') };
  }

  it('on: a valid certificate passes, none or an invalid one gets nginx\'s 400 pages', async () => {
    const { port, client, rogue } = await mtlsProxy('on');
    const ok = await httpsGet(port, 'a.test', { cert: client });
    const x509 = new (await import('node:crypto')).X509Certificate(client.cert);
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(
      `v=SUCCESS s=CN=client,O=Org,C=US i=CN=Test CA serial=${x509.serialNumber.toUpperCase()} fp=${x509.fingerprint.replace(/:/g, '').toLowerCase()}\n`,
    );
    const none = await httpsGet(port, 'a.test');
    expect(none.status).toBe(400);
    expect(none.body).toContain('<head><title>400 No required SSL certificate was sent</title></head>');
    expect(none.body).toContain('<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>');
    const bad = await httpsGet(port, 'a.test', { cert: rogue });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('<title>400 The SSL certificate error</title>');
  });

  it('optional: no certificate proceeds (NONE), an invalid one is refused; optional_no_ca lets it through as FAILED', async () => {
    const opt = await mtlsProxy('optional');
    expect((await httpsGet(opt.port, 'a.test')).body).toMatch(/^v=NONE s= /);
    expect((await httpsGet(opt.port, 'a.test', { cert: opt.client })).body).toMatch(/^v=SUCCESS /);
    expect((await httpsGet(opt.port, 'a.test', { cert: opt.rogue })).status).toBe(400);
    const noCa = await mtlsProxy('optional_no_ca');
    const rogue = await httpsGet(noCa.port, 'a.test', { cert: noCa.rogue });
    expect(rogue.status).toBe(200);
    expect(rogue.body).toMatch(/^v=FAILED:self-signed certificate s=CN=rogue /);
  });
});

/** The first flight of a real Node TLS client (a complete ClientHello), captured on a local socket. */
async function captureClientHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  onTestFinished(() => void server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => {
    resolve(d);
    s.destroy();
  })));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, servername });
  c.on('error', () => {});
  return got;
}

describe('https: hostile clients', () => {
  it('closes a client that sends garbage or plain HTTP, and one that stalls in the handshake', async () => {
    const dir = tmpDir();
    const f = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        client_header_timeout 1s; location / { return 200 ok; } } }`);
    const port = proxy.port();
    const closedAfter = (payload: Buffer): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(payload));
        let got = '';
        s.on('data', (d) => (got += d.toString('latin1')));
        s.on('error', () => {});
        s.on('close', () => resolve(got));
      });
    // nginx's answer to plain HTTP on a TLS port (checked with ask-nginx)
    const plain = await closedAfter(Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'));
    expect(plain).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n\r\n<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port<\/title>/);
    expect(await closedAfter(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7]))).toBe('');
    // a record header promising a hello that never comes: closed by client_header_timeout
    const started = Date.now();
    await closedAfter(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    // a complete ClientHello, then silence during the handshake: closed by the same deadline
    const hello = await captureClientHello('a.test');
    const t1 = Date.now();
    await closedAfter(hello);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
    const ok = await httpsGet(port, 'a.test');
    expect(ok.body).toBe('ok');
  });
});

describe('https: Debian curl', () => {
  it('talks to curl --cacert with --resolve', async () => {
    const dir = tmpDir();
    const ca = makeCa('Curl CA');
    const f = writeCert(dir, 'a', makeSignedCert(ca, 'a.test'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), ca.cert);
    const proxy = await startProxy(`
      http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
        location / { return 200 "hello $ssl_server_name $ssl_protocol\\n"; } } }`);
    const port = proxy.port();
    const out = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '--cacert', path.join(dir, 'ca.pem'), '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/`],
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout))),
    );
    expect(out).toMatch(/^hello a\.test TLSv1\.[23]\n$/);
  });
});

describe('https: reload', () => {
  it('a changed certificate is served to new connections while an open one keeps going', async () => {
    const dir = tmpDir();
    const f = writeCert(dir, 'site', makeCert('a.test'));
    const text = `http { server { listen 127.0.0.1:0 ssl; server_name a.test; ssl_certificate ${f.cert}; ssl_certificate_key ${f.key};
      location / { return 200 "ok\\n"; } } }`;
    const proxy = await startProxy(text);
    const port = proxy.port();
    expect((await httpsGet(port, 'a.test')).cn).toBe('a.test');
    // an open keep-alive connection made before the reload
    const open = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', rejectUnauthorized: false });
    open.on('error', () => {});
    await new Promise((r) => open.once('secureConnect', r));
    writeCert(dir, 'site', makeCert('new.a.test'));
    const summary = await proxy.runtime.reload(configFrom(text));
    expect(summary.changed).toBe(true);
    expect((await httpsGet(port, 'a.test')).cn).toBe('new.a.test');
    const answer = new Promise<string>((resolve) => {
      let got = '';
      open.on('data', (d) => {
        got += d;
        if (got.includes('ok\n')) resolve(got);
      });
    });
    open.write('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
    expect((open.getPeerCertificate() as { subject: { CN: string } }).subject.CN).toBe('a.test');
    open.destroy();
    // and the reloader watches the certificate files
    expect(configFrom(text).files).toEqual(expect.arrayContaining([f.cert, f.key]));
  });
});
