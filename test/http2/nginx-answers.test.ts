/**
 * HTTP/2 requests answered as nginx answers them: $http2, cookies joined for the upstream, 421
 * for a Host other than the SNI name on a server that verifies clients, and PROXY protocol with
 * http2 on one listen. nginx's side was checked with nginx 1.22 (`listen ... http2`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startProxy } from '../helpers/proxy.js';
import { rawExchange, request, startHttpBackend } from '../helpers/backend.js';
import { makeCa, makeCert, writeCert } from '../helpers/tls-certs.js';
import * as F from '../helpers/h2-frames.js';
import { h2connect, h2request } from './h2-helpers.js';

function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2ng-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TLS connection to `port` that first sends `before` in clear text (a PROXY header). */
async function tlsAfter(port: number, before: string, servername: string, alpn: string[]): Promise<tls.TLSSocket> {
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  raw.write(before);
  const t = tls.connect({ socket: raw, servername, ALPNProtocols: alpn, rejectUnauthorized: false });
  t.on('error', () => {});
  onTestFinished(() => {
    t.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    t.once('secureConnect', () => resolve());
    t.once('error', reject);
  });
  return t;
}

describe('HTTP/2 as nginx answers it', () => {
  it('$http2 is "h2c" in clear text, "h2" over TLS, empty on HTTP/1.1', async () => {
    const dir = tmpDir();
    const a = writeCert(dir, 'a', makeCert('a.test'));
    const plain = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { return 200 "[$http2]"; } } }`);
    const secure = await startProxy(`http { server { listen 127.0.0.1:0 ssl http2; ssl_certificate ${a.cert}; ssl_certificate_key ${a.key};
      location / { return 200 "[$http2]"; } } }`);
    const c = await h2connect(plain.url(''));
    expect((await h2request(c, { ':path': '/' })).text).toBe('[h2c]');
    const t = await h2connect(`https://127.0.0.1:${secure.port()}`, { servername: 'a.test', rejectUnauthorized: false });
    expect((await h2request(t, { ':path': '/' })).text).toBe('[h2]');
    expect((await request(plain.url('/'))).body).toBe('[]');
  });

  it('header names as on HTTP/1.1: "_" and other non-letters ignored by default, underscores_in_headers, max_headers (nginx 1.22 ignores x_under and x.dot on h2)', async () => {
    const echo = 'location / { return 200 "u=[$http_x_under] d=[$http_x_dot] ok=[$http_x_ok]"; }';
    const strict = await startProxy(`http { server { listen 127.0.0.1:0 http2; ${echo} } }`);
    const lenient = await startProxy(`http { server { listen 127.0.0.1:0 http2; underscores_in_headers on; max_headers 3; ${echo} } }`);
    const fields = { ':path': '/', 'x_under': '1', 'x.dot': '2', 'x-ok': '3' };
    expect((await h2request(await h2connect(strict.url('')), fields)).text).toBe('u=[] d=[] ok=[3]');
    const c = await h2connect(lenient.url(''));
    // :authority (Host) and three fields: one more than max_headers 3
    expect((await h2request(c, fields)).status).toBe(400);
    expect((await h2request(c, { ':path': '/', 'x_under': '1', 'x-ok': '3' })).text).toBe('u=[1] d=[] ok=[3]');
  });

  it('several cookie fields reach the upstream as one Cookie joined with "; "', async () => {
    const a = await startHttpBackend('A');
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const c = await F.RawH2.open(proxy.port());
    c.write(F.requestHeaders(1, F.get('/', [['cookie', 'a=1'], ['x-other', 'y'], ['cookie', 'b=2']])));
    expect(await c.status(1)).toBe(200);
    expect(a.seen[0]!.rawHeaders.filter((_, i, all) => i % 2 === 0 && all[i]!.toLowerCase() === 'cookie')).toHaveLength(1);
    expect(a.seen[0]!.headers.cookie).toBe('a=1; b=2');
  });

  it('421 when the Host names another server than SNI and that server verifies clients (h2 and HTTP/1.1)', async () => {
    const dir = tmpDir();
    const a = writeCert(dir, 'a', makeCert('a.test'));
    const ca = writeCert(dir, 'ca', makeCa('h2 test ca'));
    const proxy = await startProxy(`http {
      server { listen 127.0.0.1:0 ssl http2; server_name a.test; ssl_certificate ${a.cert}; ssl_certificate_key ${a.key}; location / { return 200 "a"; } }
      server { listen 127.0.0.1:0 ssl http2; server_name b.test; ssl_certificate ${a.cert}; ssl_certificate_key ${a.key};
        ssl_verify_client optional; ssl_client_certificate ${ca.cert}; location / { return 200 "b"; } }
      server { listen 127.0.0.1:0 ssl http2; server_name c.test; ssl_certificate ${a.cert}; ssl_certificate_key ${a.key}; location / { return 200 "c"; } } }`);
    const url = `https://127.0.0.1:${proxy.port()}`;
    // nginx 1.22: HTTP/2 421, and HTTP/1.1 421 with Connection: close (checked with curl).
    const s = await h2connect(url, { servername: 'a.test', rejectUnauthorized: false });
    const mis = await h2request(s, { ':path': '/', ':authority': 'b.test' });
    expect(mis.status).toBe(421);
    expect(mis.text).toContain('<title>421 Misdirected Request</title>');
    // A server without ssl_verify_client may be named: no 421.
    expect((await h2request(s, { ':path': '/', ':authority': 'c.test' })).text).toBe('c');
    const same = await h2connect(url, { servername: 'b.test', rejectUnauthorized: false });
    expect((await h2request(same, { ':path': '/', ':authority': 'b.test' })).text).toBe('b');
    const h1 = await tlsAfter(proxy.port(), '', 'a.test', ['http/1.1']);
    h1.write('GET / HTTP/1.1\r\nHost: b.test\r\n\r\n');
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      h1.on('data', (d: Buffer) => (got += d.toString('latin1')));
      h1.on('close', () => resolve(got));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 421 Misdirected Request\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
  });

  it('listen ... proxy_protocol http2: the PROXY header, then h2c or HTTP/1.1', async () => {
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 proxy_protocol http2; location / { return 200 "$proxy_protocol_addr $http2 $server_protocol"; } } }`);
    const c = await F.RawH2.connect(proxy.port(), undefined, Buffer.from('PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n'));
    c.write(F.PREFACE, F.settings(), F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
    await expect.poll(() => c.body(1)).toBe('192.0.2.7 h2c HTTP/2.0');
    const h1 = await rawExchange(proxy.port(), 'PROXY TCP4 192.0.2.8 127.0.0.1 5555 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(h1).toMatch(/^HTTP\/1\.1 200 /);
    expect(h1.endsWith('192.0.2.8  HTTP/1.1')).toBe(true);
    // No PROXY header: closed without an answer, as on HTTP/1.1.
    const bare = await F.RawH2.connect(proxy.port());
    bare.write(F.PREFACE, F.settings());
    await bare.whenClosed();
    expect(bare.frames).toEqual([]);
  });

  it('listen ... ssl proxy_protocol http2: the PROXY header, then TLS with ALPN h2', async () => {
    const dir = tmpDir();
    const a = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl proxy_protocol http2; ssl_certificate ${a.cert}; ssl_certificate_key ${a.key};
      location / { return 200 "$proxy_protocol_addr $http2"; } } }`);
    const t = await tlsAfter(proxy.port(), 'PROXY TCP4 192.0.2.9 127.0.0.1 5555 443\r\n', 'a.test', ['h2']);
    expect(t.alpnProtocol).toBe('h2');
    const s = http2.connect(`https://a.test:${proxy.port()}`, { createConnection: () => t });
    s.on('error', () => {});
    onTestFinished(() => s.destroy());
    expect((await h2request(s, { ':path': '/' })).text).toBe('192.0.2.9 h2');
  });
});
