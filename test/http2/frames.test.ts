/**
 * HTTP/2 at the frame level, driven with raw frames (test/helpers/h2-frames.ts). Where the
 * expectation is nginx's, it was checked against nginx 1.22 (`listen ... http2`) with the same
 * frames.
 */
import { describe, expect, it } from 'vitest';
import { flushLogs } from '../../src/log.js';
import { startProxy } from '../helpers/proxy.js';
import { startHttpBackend } from '../helpers/backend.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { makeCert, writeCert } from '../helpers/tls-certs.js';
import * as F from '../helpers/h2-frames.js';

const BODY = '0123456789abcdefghij';

async function h2c(extra = ''): Promise<number> {
  const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; client_header_timeout 1s; ${extra} location / { return 200 "${BODY}"; } } }`);
  return proxy.port();
}

describe('HTTP/2 frames', () => {
  it('a first frame that is not SETTINGS is served as if an empty SETTINGS came first (h2c)', async () => {
    // nginx serves it (checked with nginx 1.22); nghttp2 alone would answer GOAWAY.
    const c = await F.RawH2.connect(await h2c());
    c.write(F.PREFACE, F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
    await c.waitFor((f) => f.type === F.DATA && (f.flags & F.END_STREAM) !== 0);
    expect(c.body(1)).toBe(BODY);
    expect(c.frames.some((f) => f.type === F.GOAWAY)).toBe(false);
  });

  it('a first frame that is not SETTINGS is served over TLS too', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2frames-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const tls = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl http2; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};
      location / { return 200 "tls"; } } }`);
    const c = await F.RawH2.connect(proxy.port(), {});
    c.write(F.PREFACE, F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
  });

  it('ACKs every SETTINGS, and applies the client initial window to the response', async () => {
    const c = await F.RawH2.connect(await h2c());
    // nginx: one ACK per SETTINGS; a 10-byte window holds the body at 10 bytes until WINDOW_UPDATE.
    c.write(F.PREFACE, F.settings([[0x4, 10]]), F.settings([[0x4, 10]]), F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
    await expect.poll(() => c.frames.filter((f) => f.type === F.SETTINGS && f.flags === F.ACK).length).toBe(2);
    await expect.poll(() => c.body(1)).toBe(BODY.slice(0, 10));
    c.write(F.windowUpdate(1, 100));
    await expect.poll(() => c.body(1)).toBe(BODY);
  });

  it('an invalid SETTINGS value is a connection error with its RFC code', async () => {
    // nginx: MAX_FRAME_SIZE below 16384 → PROTOCOL_ERROR; INITIAL_WINDOW_SIZE above 2^31-1 → FLOW_CONTROL_ERROR.
    const a = await F.RawH2.connect(await h2c());
    a.write(F.PREFACE, F.settings([[0x5, 100]]));
    expect(await a.goaway()).toEqual({ lastStreamId: 0, code: F.PROTOCOL_ERROR });
    await a.whenClosed();
    const b = await F.RawH2.connect(await h2c());
    b.write(F.PREFACE, F.settings([[0x4, 0x80000000]]));
    expect(await b.goaway()).toEqual({ lastStreamId: 0, code: F.FLOW_CONTROL_ERROR });
    await b.whenClosed();
  });

  it('HEADERS on an even stream id and a client PUSH_PROMISE: GOAWAY(PROTOCOL_ERROR), last stream 0, closed', async () => {
    // nginx answers both so (checked); node's own answer was INTERNAL_ERROR.
    const even = await F.RawH2.open(await h2c());
    even.write(F.requestHeaders(2, F.get('/')));
    expect(await even.goaway()).toEqual({ lastStreamId: 0, code: F.PROTOCOL_ERROR });
    await even.whenClosed();
    const push = await F.RawH2.open(await h2c());
    push.write(F.frame(F.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), F.headerBlock(F.get('/'))])));
    expect(await push.goaway()).toEqual({ lastStreamId: 0, code: F.PROTOCOL_ERROR });
    await push.whenClosed();
  });

  it('an HPACK table size update at the limit is served; one past it is a COMPRESSION_ERROR that closes', async () => {
    const port = await h2c();
    const at = await F.RawH2.open(port);
    at.write(F.frame(F.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.concat([F.hpackInt(4096, 5, 0x20), F.headerBlock(F.get('/'))])));
    expect(await at.status(1)).toBe(200);
    // nginx: GOAWAY(COMPRESSION_ERROR) naming stream 1, then closes. It used to stay open forever here.
    const past = await F.RawH2.open(port);
    past.write(F.frame(F.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.concat([F.hpackInt(4097, 5, 0x20), F.headerBlock(F.get('/'))])));
    expect(await past.goaway()).toEqual({ lastStreamId: 1, code: F.COMPRESSION_ERROR });
    await past.whenClosed(4000);
  });

  it('a header block whose CONTINUATION never comes ends in GOAWAY and a close within client_header_timeout', async () => {
    const c = await F.RawH2.open(await h2c());
    const started = Date.now();
    c.write(F.frame(F.HEADERS, F.END_STREAM, 1, F.headerBlock(F.get('/'))));
    await c.goaway(4000);
    await c.whenClosed(4000);
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it('DATA on an idle stream: GOAWAY(PROTOCOL_ERROR) and a close within client_header_timeout', async () => {
    const c = await F.RawH2.open(await h2c());
    c.write(F.frame(F.DATA, 0, 5, Buffer.from('x')));
    expect(await c.goaway()).toEqual({ lastStreamId: 0, code: F.PROTOCOL_ERROR });
    await c.whenClosed(4000);
  });

  it('keepalive_timeout 0: GOAWAY after the request; a silent session ends after client_header_timeout', async () => {
    const port = await h2c('keepalive_timeout 0;');
    const c = await F.RawH2.open(port);
    c.write(F.requestHeaders(1, F.get('/')));
    expect(await c.status(1)).toBe(200);
    expect(await c.goaway()).toEqual({ lastStreamId: 1, code: F.NO_ERROR });
    await c.whenClosed();
    // nginx: GOAWAY(NO_ERROR) and close; it used to stay open forever (no timer at all).
    const silent = await F.RawH2.open(port);
    expect(await silent.goaway(3000)).toEqual({ lastStreamId: 0, code: F.NO_ERROR });
    await silent.whenClosed();
  });

  it('CONNECT is answered 400, TRACE 405 (nginx)', async () => {
    const c = await F.RawH2.open(await h2c());
    c.write(F.requestHeaders(1, [[':method', 'CONNECT'], [':authority', 'example.com:443']]));
    c.write(F.requestHeaders(3, [[':method', 'TRACE'], [':scheme', 'http'], [':path', '/'], [':authority', 'a']]));
    expect(await c.status(1)).toBe(400);
    expect(await c.status(3)).toBe(405);
  });

  it('header limits answer 431 on the stream and the session goes on', async () => {
    // nginx 1.22 ends the connection (ENHANCE_YOUR_CALM, http2_max_field_size); current nginx and
    // tsproxy apply large_client_header_buffers as on HTTP/1.1.
    const c = await F.RawH2.open(await h2c());
    c.write(F.requestHeaders(1, F.get('/', [['x-big', 'a'.repeat(9000)]])));
    expect(await c.status(1)).toBe(431);
    c.write(F.requestHeaders(3, F.get('/')));
    expect(await c.status(3)).toBe(200);
  });
});

describe('HTTP/2 frames: responses, TLS preface, shutdown', () => {
  it('response headers larger than one frame go out as HEADERS + CONTINUATION', async () => {
    const big = 'v'.repeat(20_000);
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { add_header X-Big ${big}; return 200 "ok"; } } }`);
    const c = await F.RawH2.open(proxy.port());
    c.write(F.requestHeaders(1, F.get('/')));
    const head = await c.waitFor((f) => f.type === F.HEADERS && f.streamId === 1);
    expect(head.flags & F.END_HEADERS).toBe(0);
    expect(F.statusOf(head.payload)).toBe(200);
    const cont = await c.waitFor((f) => f.type === F.CONTINUATION && f.streamId === 1 && (f.flags & F.END_HEADERS) !== 0);
    expect(head.payload.length + cont.payload.length).toBeGreaterThan(16_384);
    await expect.poll(() => c.body(1)).toBe('ok');
  });

  it('a wrong preface after ALPN h2 is answered GOAWAY(PROTOCOL_ERROR) and closed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2frames-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const tls = writeCert(dir, 'a', makeCert('a.test'));
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 ssl http2; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};
      location / { return 200 "tls"; } } }`);
    // nginx: GOAWAY(PROTOCOL_ERROR), last stream 0, then close (checked on an h2 listen).
    const c = await F.RawH2.connect(proxy.port(), {});
    c.write(Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), F.settings());
    expect(await c.goaway()).toEqual({ lastStreamId: 0, code: F.PROTOCOL_ERROR });
    await c.whenClosed();
  });

  it('a graceful stop sends GOAWAY naming the last stream, finishes it, and serves no new stream', async () => {
    let release: (() => void) | null = null;
    const a = await startHttpBackend('A', (_req, res) => {
      release = () => res.end('late');
    });
    const proxy = await startProxy(`http { server { listen 127.0.0.1:0 http2; location / { proxy_pass http://127.0.0.1:${a.port}; } } }`, { autoStop: false });
    const c = await F.RawH2.open(proxy.port());
    c.write(F.requestHeaders(1, F.get('/slow')));
    await expect.poll(() => release !== null).toBe(true);
    const stopped = proxy.runtime.stop({ graceful: true, timeoutMs: 10_000 });
    expect(await c.goaway()).toEqual({ lastStreamId: 1, code: F.NO_ERROR });
    c.write(F.requestHeaders(3, F.get('/new')));
    release!();
    expect(await c.status(1)).toBe(200);
    await expect.poll(() => c.body(1)).toBe('late');
    await stopped;
    await c.whenClosed();
    expect(a.seen.map((r) => r.url)).toEqual(['/slow']);
    expect(c.frames.some((f) => f.type === F.HEADERS && f.streamId === 3)).toBe(false);
  });

  it('client_body_timeout resets the stream with PROTOCOL_ERROR, logs 408, sends no 408; the session goes on', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tsproxy-h2frames-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const a = await startHttpBackend('A', (req, res) => {
      req.resume();
      req.on('end', () => res.end('A'));
    });
    const log = path.join(dir, 'access.log');
    const proxy = await startProxy(`http { log_format s "$request_method $status"; server { listen 127.0.0.1:0 http2; client_body_timeout 1s; access_log ${log} s;
      location / { proxy_pass http://127.0.0.1:${a.port}; } } }`);
    const c = await F.RawH2.open(proxy.port());
    // nginx 1.22: RST_STREAM(PROTOCOL_ERROR) after client_body_timeout, no response, "client timed out".
    c.write(F.frame(F.HEADERS, F.END_HEADERS, 1, F.headerBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 'a'], ['content-length', '10']])));
    c.write(F.frame(F.DATA, 0, 1, Buffer.from('abc')));
    expect(await c.rst(1, 4000)).toBe(F.PROTOCOL_ERROR);
    expect(c.frames.some((f) => f.type === F.HEADERS && f.streamId === 1)).toBe(false);
    c.write(F.requestHeaders(3, F.get('/')));
    expect(await c.status(3)).toBe(200);
    await expect.poll(() => (flushLogs(), existsSync(log) ? readFileSync(log, 'utf8') : '')).toBe('POST 408\nGET 200\n');
  });
});
