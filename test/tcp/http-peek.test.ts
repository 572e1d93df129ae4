import { describe, expect, it } from 'vitest';
import { peekRequestHost } from '../../src/tcp/http-peek.js';

const upgrade =
  'GET /chat/1?x=1 HTTP/1.1\r\nHost: Site1.Test:8081\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('peekRequestHost', () => {
  it('reads the Host of an upgrade request (lowercased, port dropped), whatever follows the head', () => {
    expect(peekRequestHost(Buffer.from(upgrade + '\x81\x05hello'))).toEqual({ kind: 'ok', host: 'site1.test' });
  });

  it('is incomplete on every strict prefix', () => {
    const buf = Buffer.from(upgrade);
    for (let n = 0; n < buf.length; n++) expect(peekRequestHost(buf.subarray(0, n)).kind).toBe('incomplete');
  });

  it('accepts bare LF line endings; an absolute-form authority wins over Host', () => {
    expect(peekRequestHost(Buffer.from('GET http://Other.test:80/a HTTP/1.1\nHost: x.test\n\n'))).toEqual({ kind: 'ok', host: 'other.test' });
  });

  it('allows HTTP/1.0 without Host', () => {
    expect(peekRequestHost(Buffer.from('GET / HTTP/1.0\r\n\r\n'))).toEqual({ kind: 'ok', host: null });
  });

  // The answers of the HTTP engine's parser (src/wire/http1-request.ts), which serves the connection.
  it.each([
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHo st: a\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n', 400],
    ['GET x HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\rX: b\r\n', 400],
    ['get / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['TRACE / HTTP/1.1\r\nHost: a\r\n\r\n', 405],
  ])('refuses %j with %i', (text, status) => {
    expect(peekRequestHost(Buffer.from(text, 'latin1'))).toEqual({ kind: 'invalid', status });
  });

  it('waits past empty lines before the request line, as the engine does', () => {
    expect(peekRequestHost(Buffer.from('\r\n\r\n')).kind).toBe('incomplete');
    expect(peekRequestHost(Buffer.from('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'))).toEqual({ kind: 'ok', host: 'a' });
  });

  it('refuses a head larger than the bound', () => {
    const big = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(9000)}`);
    expect(peekRequestHost(big)).toEqual({ kind: 'invalid', status: 431 });
    expect(peekRequestHost(big.subarray(0, 100)).kind).toBe('incomplete');
    expect(peekRequestHost(Buffer.from(`GET /${'a'.repeat(9000)}`))).toEqual({ kind: 'invalid', status: 414 });
  });
});
