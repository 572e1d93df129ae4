import { describe, expect, it } from 'vitest';
import { parseResponseHead } from '../../src/wire/http1-response.js';

describe('response heads', () => {
  it('parses status, reason and framing', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\n', 'GET');
    expect(r).toMatchObject({ status: 200, reason: 'OK', body: 'length', contentLength: 5, keepAlive: true });
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET')?.body).toBe('chunked');
    expect(parseResponseHead('HTTP/1.1 200 OK\r\n\r\n', 'GET')).toMatchObject({ body: 'close', keepAlive: false });
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n', 'GET')?.keepAlive).toBe(false);
    expect(parseResponseHead('HTTP/1.1 204\r\n\r\n', 'GET')).toMatchObject({ status: 204, reason: '', body: 'none' });
  });

  it('gives no body to HEAD, 1xx, 204 and 304', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD')?.body).toBe('none');
    expect(parseResponseHead('HTTP/1.1 100 Continue\r\n\r\n', 'POST')?.body).toBe('none');
    expect(parseResponseHead('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n', 'GET')?.body).toBe('none');
  });

  it('lets Transfer-Encoding override Content-Length', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET');
    expect(r).toMatchObject({ body: 'chunked', contentLength: -1 });
  });

  // nginx 1.22 proxies an upstream response whose head ends its lines in bare LF.
  it('accepts bare LF line ends', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\n', 'GET')).toMatchObject({
      status: 200, reason: 'OK', body: 'length', contentLength: 2, headers: ['Content-Length', '2', 'X-A', 'b'],
    });
    expect(parseResponseHead('HTTP/1.1 204\n\r\n', 'GET')).toMatchObject({ status: 204, body: 'none' });
  });

  it.each([
    'HTTP/1.1 200 OK\rX: y\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/2 200 OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX : y\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n',
    'ICY 200 OK\r\n\r\n',
  ])('rejects %j', (text) => {
    expect(parseResponseHead(text, 'GET')).toBeNull();
  });
});
