import { describe, expect, it } from 'vitest';
import { normaliseHost, parseRequestHead } from '../../src/tcp/http-peek.js';

const upgrade =
  'GET /chat/1?x=1 HTTP/1.1\r\nHost: Site1.Test:8081\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('parseRequestHead', () => {
  it('reads the request line and Host of an upgrade request', () => {
    const buf = Buffer.from(upgrade + '\x81\x05hello');
    const r = parseRequestHead(buf);
    if (r.kind !== 'ok') throw new Error(r.kind);
    expect(r.head).toMatchObject({ method: 'GET', target: '/chat/1?x=1', path: '/chat/1', version: '1.1', host: 'site1.test' });
    expect(r.head.headLength).toBe(upgrade.length);
    expect(r.head.headers.map((h) => h.name)).toContain('sec-websocket-key');
  });

  it('is incomplete on every strict prefix', () => {
    const buf = Buffer.from(upgrade);
    for (let n = 0; n < buf.length; n++) expect(parseRequestHead(buf.subarray(0, n)).kind).toBe('incomplete');
  });

  it('accepts bare LF line endings and absolute-form targets', () => {
    const r = parseRequestHead(Buffer.from('GET http://Other.test:80/a HTTP/1.1\nHost: x.test\n\n'));
    expect(r.kind === 'ok' && [r.head.host, r.head.path]).toEqual(['other.test', '/a']);
  });

  it('allows HTTP/1.0 without Host', () => {
    const r = parseRequestHead(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    expect(r.kind === 'ok' && r.head.host).toBe(null);
  });

  it.each([
    ['GET / HTTP/1.1\r\n\r\n'],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n'],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n'],
    ['GET / HTTP/1.1\r\nHo st: a\r\n\r\n'],
    ['GET / HTTP/1.1\r\nHost: a b\r\n\r\n'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n'],
    ['GET x HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['\r\n\r\n'],
  ])('rejects %j', (text) => {
    expect(parseRequestHead(Buffer.from(text)).kind).toBe('invalid');
  });

  it('rejects a head larger than the bound', () => {
    const big = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(9000)}`);
    expect(parseRequestHead(big).kind).toBe('invalid');
    expect(parseRequestHead(big.subarray(0, 100), 8192).kind).toBe('incomplete');
  });
});

describe('normaliseHost', () => {
  it('strips the port and a trailing dot, lower-cases', () => {
    expect(normaliseHost('Example.TEST:8080')).toBe('example.test');
    expect(normaliseHost('example.test.')).toBe('example.test');
    expect(normaliseHost('[::1]:80')).toBe('[::1]');
    expect(normaliseHost('a/b')).toBe(null);
    expect(normaliseHost('a..b')).toBe(null);
  });
});
