/**
 * Issue 8, TLS to upstreams: `proxy_pass https://` with proxy_ssl_* against node:https backends
 * on 127.0.0.1 using certificates made in the test (a CA, CA-signed leaves, an intermediate).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { tempDir } from '../helpers/cli.js';
import { makeCa, makeCert, makeSignedCert, type TestCert } from '../helpers/tls-certs.js';
import { keepAliveAgent, send, startLoggedProxy } from './upstream-helpers.js';

interface HttpsBackend {
  readonly port: number;
  readonly server: https.Server;
  /** TLS connections completed (keep-alive reuse shows as requests > connections). */
  connections: number;
  /** Of those, resumed from an earlier session. */
  resumed: number;
  /** SNI of each TLS connection (false: none sent). */
  readonly servernames: (string | false)[];
  /** CN of the client certificate of each TLS connection, null without one. */
  readonly clientCns: (string | null)[];
  /** Per request: method, url, host header, body, the SNI of its connection. */
  readonly seen: { method: string; url: string; host: string | undefined; body: string; sni: string | false }[];
}

/** A node:https backend answering with its name in x-backend and the request body echoed. */
async function httpsBackend(name: string, cert: TestCert, o: { chain?: string; clientCa?: string } = {}): Promise<HttpsBackend> {
  const server = https.createServer({
    key: cert.key,
    cert: cert.cert + (o.chain ?? ''),
    keepAliveTimeout: 30_000,
    ...(o.clientCa !== undefined ? { requestCert: true, rejectUnauthorized: true, ca: o.clientCa } : {}),
  });
  const b: HttpsBackend = { port: 0, server, connections: 0, resumed: 0, servernames: [], clientCns: [], seen: [] };
  server.on('secureConnection', (s: tls.TLSSocket) => {
    b.connections++;
    if (s.isSessionReused()) b.resumed++;
    b.servernames.push((s as tls.TLSSocket & { servername: string | false }).servername);
    const peer = s.getPeerCertificate();
    b.clientCns.push(peer?.subject?.CN ?? null);
  });
  server.on('tlsClientError', () => {});
  server.on('request', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const sni = (req.socket as tls.TLSSocket & { servername: string | false }).servername;
      b.seen.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host, body, sni });
      res.setHeader('x-backend', name);
      res.end(`${name} ${req.method} ${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  (b as { port: number }).port = (server.address() as net.AddressInfo).port;
  onTestFinished(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return b;
}

/** Write PEMs into a fresh directory; returns name → absolute path. */
function pemFiles(files: Record<string, string>): Record<string, string> {
  const dir = tempDir();
  const out: Record<string, string> = {};
  for (const [n, text] of Object.entries(files)) {
    out[n] = path.join(dir, n);
    fs.writeFileSync(out[n], text);
  }
  return out;
}

const ca = () => makeCa('tsproxy test root');

describe('proxy_pass https://', () => {
  it('proxies GET and POST to an https backend (Host is $proxy_host, no verification by default)', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_pass https://127.0.0.1:${be.port}; } } }`);
    const get = await send(proxy.url('/get?x=1'));
    expect(get).toMatchObject({ status: 200, backend: 'A', body: 'A GET ' });
    const post = await send(proxy.url('/post'), { method: 'POST', body: 'hello over tls', headers: { 'content-type': 'text/plain' } });
    expect(post).toMatchObject({ status: 200, body: 'A POST hello over tls' });
    expect(be.seen.map((s) => [s.method, s.url, s.host])).toEqual([
      ['GET', '/get?x=1', `127.0.0.1:${be.port}`],
      ['POST', '/post', `127.0.0.1:${be.port}`],
    ]);
  });

  it('keeps upstream TLS connections alive: several requests, one TLS connection', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http {
      upstream backend { server 127.0.0.1:${be.port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass https://backend; } } }`);
    const agent = keepAliveAgent(1);
    for (let i = 0; i < 5; i++) expect((await send(proxy.url(`/r${i}`), { agent })).status).toBe(200);
    // and from a second client connection too
    for (let i = 0; i < 3; i++) expect((await send(proxy.url(`/n${i}`), { agent: false })).status).toBe(200);
    expect(be.seen).toHaveLength(8);
    expect(be.connections).toBe(1);
  });

  it('resumes TLS sessions on new connections (proxy_ssl_session_reuse), and not when off', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const conf = (reuse: string) => `http {
      upstream backend { server 127.0.0.1:${be.port}; keepalive_requests 1; }
      server { listen 127.0.0.1:0; proxy_ssl_session_reuse ${reuse}; location / { proxy_pass https://backend; } } }`;
    const on = await startLoggedProxy(conf('on'));
    for (let i = 0; i < 3; i++) expect((await send(on.url('/'))).status).toBe(200);
    expect(be.connections).toBe(3);
    expect(be.resumed).toBe(2);
    const off = await startLoggedProxy(conf('off'));
    for (let i = 0; i < 2; i++) expect((await send(off.url('/'))).status).toBe(200);
    expect(be.connections).toBe(5);
    expect(be.resumed).toBe(2);
  });

  it('proxy_ssl_verify on: the right CA and name pass; a wrong CA or a wrong name is 502 and the next peer is tried', async () => {
    const root = ca();
    const good = await httpsBackend('good', makeSignedCert(root, 'up.test'));
    const otherName = await httpsBackend('other-name', makeSignedCert(root, 'other.test'));
    const selfSigned = await httpsBackend('self', makeCert('up.test'));
    const f = pemFiles({ 'ca.pem': root.cert, 'wrong-ca.pem': makeCa('another root').cert });
    const proxy = await startLoggedProxy(`http {
      upstream wrong_name { server 127.0.0.1:${otherName.port}; }
      upstream failover { server 127.0.0.1:${selfSigned.port}; server 127.0.0.1:${otherName.port}; server 127.0.0.1:${good.port}; }
      server { listen 127.0.0.1:0;
        proxy_ssl_verify on; proxy_ssl_trusted_certificate ${f['ca.pem']}; proxy_ssl_name up.test;
        location /good { proxy_pass https://127.0.0.1:${good.port}; }
        location /wrong-ca { proxy_ssl_trusted_certificate ${f['wrong-ca.pem']}; proxy_pass https://127.0.0.1:${good.port}; }
        location /wrong-name { proxy_pass https://wrong_name; }
        location /failover { proxy_pass https://failover; }
      } }`);
    expect(await send(proxy.url('/good'))).toMatchObject({ status: 200, backend: 'good' });
    expect((await send(proxy.url('/wrong-ca'))).status).toBe(502);
    expect((await send(proxy.url('/wrong-name'))).status).toBe(502);
    const logs = proxy.logs.filter((l) => l.msg.startsWith('upstream SSL handshake failed')).map((l) => l.msg);
    expect(logs).toEqual([
      expect.stringMatching(/unable to (get local issuer|verify)/i),
      expect.stringMatching(/does not match certificate's altnames/i),
    ]);
    // round robin starts anywhere: every start reaches the good peer past the bad ones
    for (let i = 0; i < 3; i++) expect(await send(proxy.url('/failover'))).toMatchObject({ status: 200, backend: 'good' });
    expect(good.seen.map((s) => s.url)).toEqual(['/good', '/failover', '/failover', '/failover']);
    // a failed handshake is a connect error for passive health (max_fails=1): each bad peer was
    // tried once, then left alone for fail_timeout
    const failed = proxy.logs
      .filter((l) => l.request === 'GET /failover HTTP/1.1' && l.msg.startsWith('upstream SSL handshake failed'))
      .map((l) => new URL(String(l.upstream)).host);
    expect(failed.sort()).toEqual([`127.0.0.1:${otherName.port}`, `127.0.0.1:${selfSigned.port}`].sort());
  });

  it('proxy_ssl_server_name on sends proxy_ssl_name (default $proxy_host without port) as SNI, off sends none, an IP never', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http {
      upstream backend { server 127.0.0.1:${be.port}; }
      server { listen 127.0.0.1:0;
        location /named { proxy_ssl_server_name on; proxy_pass https://backend; }
        location /explicit { proxy_ssl_server_name on; proxy_ssl_name Up.Test:8443; proxy_pass https://backend; }
        location /variable { proxy_ssl_server_name on; proxy_ssl_name $arg_n; proxy_pass https://backend; }
        location /off { proxy_ssl_name up.test; proxy_pass https://backend; }
        location /ip { proxy_ssl_server_name on; proxy_pass https://127.0.0.1:${be.port}; }
      } }`);
    for (const p of ['/named', '/explicit', '/variable?n=v1.test', '/variable?n=v2.test', '/off', '/ip']) {
      expect((await send(proxy.url(p))).status).toBe(200);
    }
    expect(be.seen.map((s) => [s.url, s.sni])).toEqual([
      ['/named', 'backend'],
      ['/explicit', 'up.test'],
      ['/variable?n=v1.test', 'v1.test'],
      ['/variable?n=v2.test', 'v2.test'],
      ['/off', false],
      ['/ip', false],
    ]);
  });

  it('never hands a pooled connection to a request with other TLS parameters (SNI name)', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http {
      upstream backend { server 127.0.0.1:${be.port}; keepalive 8; }
      server { listen 127.0.0.1:0; proxy_ssl_server_name on;
        location /a { proxy_ssl_name a.test; proxy_pass https://backend; }
        location /b { proxy_ssl_name b.test; proxy_pass https://backend; }
        location /plain { proxy_ssl_server_name off; proxy_pass https://backend; }
      } }`);
    for (let i = 0; i < 3; i++) for (const p of ['/a', '/b', '/plain']) expect((await send(proxy.url(p))).status).toBe(200);
    const want: Record<string, string | false> = { '/a': 'a.test', '/b': 'b.test', '/plain': false };
    for (const s of be.seen) expect(s.sni).toBe(want[s.url]);
    expect(be.connections).toBe(3);
  });

  it('presents proxy_ssl_certificate to a backend that requires a client certificate', async () => {
    const root = ca();
    const clientCa = makeCa('client root');
    const client = makeSignedCert(clientCa, 'tsproxy-client');
    const be = await httpsBackend('mtls', makeSignedCert(root, 'up.test'), { clientCa: clientCa.cert });
    const f = pemFiles({ 'client.crt': client.cert, 'client.key': client.key });
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0;
      location /with { proxy_ssl_certificate ${f['client.crt']}; proxy_ssl_certificate_key ${f['client.key']}; proxy_pass https://127.0.0.1:${be.port}; }
      location /without { proxy_pass https://127.0.0.1:${be.port}; }
    } }`);
    expect(await send(proxy.url('/with'))).toMatchObject({ status: 200, backend: 'mtls' });
    expect(be.clientCns).toEqual(['tsproxy-client']);
    expect((await send(proxy.url('/without'))).status).toBe(502);
    expect(be.seen.map((s) => s.url)).toEqual(['/with']);
  });

  it('checks proxy_ssl_verify_depth against the intermediate CAs of the chain', async () => {
    const root = ca();
    const inter = makeCa('tsproxy test intermediate', root);
    const be = await httpsBackend('chain', makeSignedCert(inter, 'up.test'), { chain: inter.cert });
    const f = pemFiles({ 'ca.pem': root.cert });
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0;
      proxy_ssl_verify on; proxy_ssl_trusted_certificate ${f['ca.pem']}; proxy_ssl_name up.test;
      location /depth1 { proxy_pass https://127.0.0.1:${be.port}; }
      location /depth0 { proxy_ssl_verify_depth 0; proxy_pass https://127.0.0.1:${be.port}; }
    } }`);
    expect(await send(proxy.url('/depth1'))).toMatchObject({ status: 200, backend: 'chain' });
    expect((await send(proxy.url('/depth0'))).status).toBe(502);
    expect(proxy.logs.some((l) => /upstream SSL handshake failed .*certificate chain too long/.test(l.msg))).toBe(true);
  });

  it('resolves proxy_pass https://$var per request (default port 443 for a bare host)', async () => {
    const be = await httpsBackend('A', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http { server { listen 127.0.0.1:0;
      location / { proxy_ssl_server_name on; proxy_ssl_name dyn.test; proxy_pass https://$arg_to; } } }`);
    expect(await send(proxy.url(`/x?to=127.0.0.1:${be.port}`))).toMatchObject({ status: 200, backend: 'A' });
    expect(be.seen[0]).toMatchObject({ host: `127.0.0.1:${be.port}`, sni: 'dyn.test' });
  });

  it('a handshake that never completes is bounded by proxy_connect_timeout: 504, or the next peer', async () => {
    const stalled = net.createServer((s) => s.on('error', () => {}));
    const held: net.Socket[] = [];
    stalled.on('connection', (s) => held.push(s));
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    onTestFinished(() => {
      for (const s of held) s.destroy();
      stalled.close();
    });
    const stalledPort = (stalled.address() as net.AddressInfo).port;
    const good = await httpsBackend('good', makeCert('self.test'));
    const proxy = await startLoggedProxy(`http {
      upstream pair { server 127.0.0.1:${stalledPort}; server 127.0.0.1:${good.port}; }
      server { listen 127.0.0.1:0; proxy_connect_timeout 300ms;
        location /alone { proxy_pass https://127.0.0.1:${stalledPort}; }
        location /pair { proxy_next_upstream error timeout; proxy_pass https://pair; }
      } }`);
    const t0 = Date.now();
    expect((await send(proxy.url('/alone'))).status).toBe(504);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(10_000);
    expect(proxy.logs.some((l) => l.msg === 'upstream timed out (110: Connection timed out) while SSL handshaking to upstream')).toBe(true);
    for (let i = 0; i < 2; i++) expect(await send(proxy.url('/pair'))).toMatchObject({ status: 200, backend: 'good' });
  });
});

describe('bulk responses from an https upstream (reused read buffer under TLS)', () => {
  it('delivers 16 MiB unchanged to a bursty reader, twice over one upstream connection', async () => {
    const payload = randomBytes(16 * 1024 * 1024);
    const want = createHash('sha256').update(payload).digest('hex');
    let connections = 0;
    const cert = makeCert('self.test');
    const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      req.resume();
      // odd-sized writes with backpressure, so the proxy sees small and large reads
      let off = 0;
      let step = 0;
      const go = (): void => {
        while (off < payload.length) {
          step++;
          const end = Math.min(payload.length, off + 300 + ((step * 37_813) % (step % 3 === 0 ? 200_000 : 6_000)));
          const ok = res.write(payload.subarray(off, end));
          off = end;
          if (!ok) return void res.once('drain', go);
          return void setImmediate(go);
        }
        res.end();
      };
      go();
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startLoggedProxy(`http {
      upstream b { server 127.0.0.1:${port}; keepalive 4; }
      server { listen 127.0.0.1:0; location / { proxy_pass https://b; } } }`);
    const agent = keepAliveAgent(1);
    const get = (): Promise<{ status: number; sha: string }> =>
      new Promise((resolve, reject) => {
        http
          .get(proxy.url('/bulk'), { agent }, (res) => {
            const h = createHash('sha256');
            let since = 0;
            res.on('data', (c: Buffer) => {
              h.update(c);
              since += c.length;
              if (since >= 256 * 1024) {
                since = 0;
                res.pause();
                setTimeout(() => res.resume(), 5);
              }
            });
            res.on('end', () => resolve({ status: res.statusCode!, sha: h.digest('hex') }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
    expect(await get()).toEqual({ status: 200, sha: want });
    expect(await get()).toEqual({ status: 200, sha: want });
    expect(connections).toBe(1);
  }, 60_000);
});

describe('WebSocket through proxy_pass https:// (wss upstream)', () => {
  it('carries messages both ways and closes cleanly', async () => {
    const server = https.createServer({ key: makeCert('self.test').key, cert: makeCert('self.test').cert });
    const wss = new WebSocketServer({ server });
    const upgrades: (string | undefined)[] = [];
    wss.on('connection', (ws, req) => {
      upgrades.push(req.headers.upgrade);
      ws.on('error', () => {});
      ws.on('message', (data, binary) => ws.send(binary ? data : `echo ${String(data)}`, { binary }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r(undefined)));
    });
    const port = (server.address() as net.AddressInfo).port;
    const proxy = await startLoggedProxy(`http {
      map $http_upgrade $connection_upgrade { default upgrade; '' close; }
      server { listen 127.0.0.1:0;
        location /ws/ { proxy_pass https://127.0.0.1:${port}; proxy_http_version 1.1;
          proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; } } }`);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws/chat`);
    ws.on('error', () => {});
    onTestFinished(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const replies: string[] = [];
    ws.on('message', (d) => replies.push(String(d)));
    ws.send('hello');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    ws.send(big);
    await expect.poll(() => replies.length, { timeout: 10_000 }).toBe(2);
    expect(replies[0]).toBe('echo hello');
    expect(replies[1]!.length).toBe(big.length);
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.close(1000, 'bye');
    expect(await closed).toBe(1000);
    expect(upgrades).toEqual(['websocket']);
  });
});
