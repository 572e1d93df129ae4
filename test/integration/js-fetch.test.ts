/**
 * ngx.fetch through real sockets: a node:http backend (and a node:https one) on 127.0.0.1, the
 * handlers in test/fixtures/njs/fetch.js. Every expected answer and error-log line is what nginx
 * 1.22 + njs 0.7.9 gave for the same script against the same backend (checked with ask-nginx),
 * except where a comment says it is tsproxy's (keep-alive: njs 0.7.9 sends `Connection: close`).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { startAccessProxy, request } from './access/helpers.js';
import { startHttpBackend, startRawBackend, type HttpBackend } from '../helpers/backend.js';
import { makeCa, makeCert, makeSignedCert } from '../helpers/tls-certs.js';

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/njs/fetch.js');

function answer(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  if (req.url === '/json') {
    res.setHeader('content-type', 'application/json');
    res.end('{"a":[1,2],"b":"x"}');
    return;
  }
  if (req.url === '/chunked') {
    res.setHeader('x-multi', ['1', '2']);
    res.write('ab');
    res.end('cd');
    return;
  }
  if (req.url === '/slow') {
    const t = setTimeout(() => res.end('late'), 3000);
    res.on('close', () => clearTimeout(t));
    return;
  }
  if (req.url === '/big') return void res.end('x'.repeat(100_000));
  res.setHeader('content-type', 'text/plain');
  // The headers the script sent, in order (Connection aside: njs sends "close", tsproxy keeps it alive).
  const heads = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()).filter((n) => n !== 'connection');
  res.end(`${req.method} ${req.url} ${heads.join(',')} ${req.headers['x-a'] ?? ''} body=${body}`);
}

async function backend(): Promise<HttpBackend> {
  return startHttpBackend('B', (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => answer(req, res, body));
  });
}

async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function fetchProxy(b: HttpBackend, extra = '', tlsPort = 1) {
  const refused = await refusedPort();
  return startAccessProxy(`http {
    js_import DIR/fetch.js;
    js_fetch_timeout 1s;
    ${extra}
    js_set $picked fetch.pick;
    server {
      listen 127.0.0.1:0;
      location / { js_content fetch.$LOC; }
      ${['get', 'post', 'json', 'chunked', 'slow', 'refused', 'big', 'twice', 'badurl', 'tls', 'noverify'].map((n) => `location = /${n} { js_content fetch.${n}; }`).join('\n      ')}
      location = /picked { return 200 "picked $picked"; }
    }
  }`.replace('location / { js_content fetch.$LOC; }', ''), (dir) => {
    fs.writeFileSync(path.join(dir, 'fetch.js'), fs.readFileSync(FIXTURE, 'utf8')
      .replaceAll('BACKEND', String(b.port)).replaceAll('REFUSED', String(refused)).replaceAll('TLS', String(tlsPort)));
  });
}

describe('ngx.fetch (nginx + njs answers)', () => {
  test('GET: status, statusText, ok, headers.get, url, redirected, type, bodyUsed, text()', async () => {
    const b = await backend();
    const p = await fetchProxy(b);
    const r = await request(p.port, '/get');
    expect(r.status).toBe(200);
    expect(r.body).toBe('200|OK|true|text/plain|25|true|false|basic|true|GET /path?x=1 host  body=');
  });

  test('POST with a body and headers: the script\'s headers, then Host, then Content-Length', async () => {
    const b = await backend();
    const p = await fetchProxy(b);
    expect((await request(p.port, '/post')).body).toBe('POST /p x-a,host,content-length b body=hello');
  });

  test('json(), arrayBuffer() of a chunked body, Headers.getAll/has/get of a repeated header', async () => {
    const b = await backend();
    const p = await fetchProxy(b);
    expect((await request(p.port, '/json')).body).toBe('{"a":[1,2],"b":"x"} object');
    expect((await request(p.port, '/chunked')).body).toBe('[object ArrayBuffer] 4 1, 2 1,2 true null');
  });

  test('errors: read timed out (js_fetch_timeout), connect failed (and nginx\'s log line), unsupported URL prefix, body read twice', async () => {
    const b = await backend();
    const p = await fetchProxy(b);
    const slow = await request(p.port, '/slow');
    expect([slow.status, slow.body]).toEqual([502, 'Error: read timed out']);
    const refused = await request(p.port, '/refused', { headers: { host: 'a' } });
    expect([refused.status, refused.body]).toEqual([502, 'Error: connect failed']);
    await expect.poll(() => p.lines()).toContain('[error] recv() failed (111: Connection refused), client: 127.0.0.1, server: , request: "GET /refused HTTP/1.1", host: "a"');
    expect((await request(p.port, '/badurl')).body).toBe('Error: unsupported URL prefix');
    expect((await request(p.port, '/twice')).body).toBe('GET /1 Error: body stream already read');
  });

  test('a body past js_fetch_max_response_buffer_size rejects (njs: "prematurely closed connection"); under it, whole', async () => {
    const b = await backend();
    expect((await request((await fetchProxy(b)).port, '/big')).body).toBe('100000');
    const small = await fetchProxy(b, 'js_fetch_max_response_buffer_size 1k;');
    const r = await request(small.port, '/big');
    expect([r.status, r.body]).toEqual([502, 'Error: prematurely closed connection']);
  });
});

describe('ngx.fetch over HTTPS', () => {
  /** An HTTPS backend with a certificate for 127.0.0.1 signed by a test CA, or self-signed. */
  async function tlsBackend(selfSigned = false) {
    const ca = makeCa('fetch test CA');
    const leaf = selfSigned ? makeCert('127.0.0.1') : makeSignedCert(ca, '127.0.0.1');
    let sockets = 0;
    const server = https.createServer({ key: leaf.key, cert: leaf.cert, keepAliveTimeout: 30_000 }, (req, res) => res.end(`tls ${req.url} conn=${sockets}`));
    server.on('secureConnection', () => sockets++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    return { port: (server.address() as net.AddressInfo).port, ca };
  }

  test('an unknown CA: connect failed and njs\'s verify line; verify: false goes through; js_fetch_trusted_certificate trusts it', async () => {
    const t = await tlsBackend(true);
    const b = await backend();
    const p = await fetchProxy(b, '', t.port);
    const r = await request(p.port, '/tls', { headers: { host: 'a' } });
    expect([r.status, r.body]).toEqual([502, 'Error: connect failed']);
    await expect.poll(() => p.lines().join('\n')).toContain('[error] js http fetch SSL certificate verify error: (18:self-signed certificate) while SSL handshaking to fetch target, client: 127.0.0.1, server: , request: "GET /tls HTTP/1.1", host: "a"');
    expect((await request(p.port, '/noverify')).body).toBe('tls /y conn=1');
    const signed = await tlsBackend();
    const caFile = path.join(p.dir, 'ca.pem');
    fs.writeFileSync(caFile, signed.ca.cert);
    const trusted = await fetchProxy(b, `js_fetch_trusted_certificate ${caFile};`, signed.port);
    expect((await request(trusted.port, '/tls')).body).toMatch(/^tls \/x conn=\d$/);
  });

  test('keep-alive: sequential fetches to one origin share a connection (tsproxy\'s; njs 0.7.9 closes each)', async () => {
    const t = await tlsBackend();
    const b = await backend();
    const caFile = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'fetch-ca-')), 'ca.pem');
    fs.writeFileSync(caFile, t.ca.cert);
    onTestFinished(() => fs.rmSync(path.dirname(caFile), { recursive: true, force: true }));
    const p = await fetchProxy(b, `js_fetch_trusted_certificate ${caFile};`, t.port);
    const first = (await request(p.port, '/tls')).body;
    const second = (await request(p.port, '/tls')).body;
    expect(second).toBe(first);
    for (let i = 0; i < 3; i++) await request(p.port, '/get');
    expect(b.requests).toBe(3);
    expect(b.sockets).toBe(1);
  });
});

describe('ngx.fetch in an async js_set (tsproxy: js_set may return a Promise)', () => {
  test('the variable is the fetched value', async () => {
    const b = await backend();
    const p = await fetchProxy(b);
    expect((await request(p.port, '/picked')).body).toBe('picked x');
  });
});

describe('ngx.fetch against a backend that misbehaves (tsproxy\'s own checks: nothing crashes)', () => {
  test('a body to the close, a broken head, broken chunked framing, a reset, a stale pooled connection', async () => {
    const raw = await startRawBackend((socket, all) => {
      if (!all.endsWith('\r\n\r\n')) return;
      // the last request on the connection (a pooled one carries several)
      const path = [...all.matchAll(/[A-Z]+ (\S+) HTTP\/1\.1\r\n/g)].pop()![1];
      if (path === '/close') socket.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end');
      else if (path === '/garbage') socket.end('NOT HTTP AT ALL\r\n\r\n');
      else if (path === '/badchunk') socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n');
      else if (path === '/reset') socket.resetAndDestroy();
      else if (path === '/then-close') {
        // answers keep-alive, then closes the idle connection (the client pooled it)
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        setTimeout(() => socket.destroy(), 20);
      }
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const p = await startAccessProxy(`http {
      js_import DIR/m.js;
      server { listen 127.0.0.1:0; location / { js_content m.go; } }
    }`, (dir) => fs.writeFileSync(path.join(dir, 'm.js'), `async function go(r) {
      try { const res = await ngx.fetch('http://127.0.0.1:${raw.port}' + r.uri); const t = await res.text(); r.return(200, res.status + ' ' + t); }
      catch (e) { r.return(502, String(e)); }
    }
    export default { go };`));
    expect((await request(p.port, '/close')).body).toBe('200 until the end');
    expect((await request(p.port, '/garbage')).body).toBe('Error: upstream sent invalid response');
    expect((await request(p.port, '/badchunk')).body).toBe('Error: upstream sent invalid chunked response');
    expect((await request(p.port, '/reset')).status).toBe(502);
    expect((await request(p.port, '/then-close')).body).toBe('200 ok');
    const count = () => new Promise<number>((resolve) => raw.server.getConnections((_e, n) => resolve(n)));
    await expect.poll(count).toBe(0);
    // the pooled connection is gone: the fetch goes on a new one
    expect((await request(p.port, '/ok')).body).toBe('200 ok');
    // /close, /garbage, /badchunk, /reset, /ok (pooled, then reused by /then-close), the last /ok
    expect(raw.received.length).toBe(6);
  });
});
