import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HEAD_READY, HeadAccumulator } from '../../src/wire/head-accumulator.js';
import {
  parseResponseHead,
  readStatusLine,
  STATUS_LINE_INCOMPLETE,
  STATUS_LINE_INVALID,
  type ResponseHead,
} from '../../src/wire/http1-response.js';

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

describe('status lines', () => {
  it.each([
    ['HTTP/1.1 200 OK\r\n', { versionMinor: 1, status: 200 }],
    ['HTTP/1.0 404 Not Found\n', { versionMinor: 0, status: 404 }],
    ['HTTP/1.1 101\r\n', { versionMinor: 1, status: 101 }],
    ['HTTP/1.1 599 \r\nX: y\r\n', { versionMinor: 1, status: 599 }],
    ['HTTP/1.9 204 x\tz\x80\n', { versionMinor: 1, status: 204 }],
  ])('%j', (text, want) => {
    expect(readStatusLine(Buffer.from(text, 'latin1'))).toEqual(want);
    expect(readStatusLine(text)).toEqual(want);
  });

  it('says incomplete on every prefix of a valid line, and judges a non-HTTP reply from its first bytes', () => {
    const line = 'HTTP/1.1 200 OK\r\n';
    for (let n = 0; n < line.length; n++) expect(readStatusLine(Buffer.from(line.slice(0, n)))).toBe(STATUS_LINE_INCOMPLETE);
    expect(readStatusLine(Buffer.from('SSH-2.0'))).toBe(STATUS_LINE_INVALID);
    expect(readStatusLine(Buffer.from('HTTP/2'))).toBe(STATUS_LINE_INVALID);
  });

  it.each([
    'HTTP/2.0 200 OK\r\n', 'HTTP/1.1 600 X\r\n', 'HTTP/1.1 099 X\r\n', 'HTTP/1.1 20 OK\r\n', 'HTTP/1.1 200OK\r\n',
    'HTTP/1.1  200 OK\r\n', 'http/1.1 200 OK\r\n', 'HTTP/1.1 200 O\rK\r\n', 'HTTP/1.1 200 O\x00K\r\n', '\r\nHTTP/1.1 200 OK\r\n',
  ])('refuses %j', (text) => {
    expect(readStatusLine(Buffer.from(text, 'latin1'))).toBe(STATUS_LINE_INVALID);
  });
});

/** A head written back out as tsproxy writes heads. */
function serialise(r: ResponseHead): string {
  let out = `HTTP/1.${r.versionMinor} ${r.status}${r.reason === '' ? '' : ` ${r.reason}`}\r\n`;
  for (let k = 0; k < r.headers.length; k += 2) out += `${r.headers[k]!}: ${r.headers[k + 1]!}\r\n`;
  return `${out}\r\n`;
}

describe('response heads (fuzz)', () => {
  const line = fc.oneof(
    fc.tuple(fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/), fc.stringMatching(/^[\t\x20-\x7e\x80-\xff]{0,20}$/)).map(([n, v]) => `${n}:${v}`),
    fc.constantFrom('Content-Length: 3', 'Content-Length: 3, 4', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: gzip',
      'Connection: close', 'Connection: keep-alive', ' folded', 'X: a\rb', 'X : y'),
  );
  const head = fc
    .tuple(fc.constantFrom('HTTP/1.1 200 OK', 'HTTP/1.0 204', 'HTTP/1.1 101 Switching Protocols', 'HTTP/1.1 304 ', 'HTTP/1.1 20 X'),
      fc.array(line, { maxLength: 6 }), fc.constantFrom('\r\n', '\n'), fc.constantFrom('GET', 'HEAD'))
    .map(([status, lines, eol, method]) => ({ text: [status, ...lines].join(eol) + eol + eol, method }));

  it('gives a head or null, and an accepted head re-serialises to itself', () => {
    let accepted = 0;
    fc.assert(
      fc.property(head, ({ text, method }) => {
        const r = parseResponseHead(text, method);
        if (r === null) return;
        accepted++;
        expect(parseResponseHead(serialise(r), method)).toEqual(r);
        expect(r.body === 'chunked' || r.body === 'close' ? r.contentLength : 0).toBeLessThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(400);
  });

  // The proxy parses a head over the bytes it arrived in (HeadAccumulator.bytes, with the body's
  // first bytes after it): the verdict and every field must be those of the text alone.
  it('parses the received bytes (a body after them) as it parses the text', () => {
    const body = fc.uint8Array({ maxLength: 16 });
    fc.assert(
      fc.property(head, body, ({ text, method }, after) => {
        const acc = new HeadAccumulator();
        const limits = { requestLineBytes: 8192, headerLineBytes: 8192, headBytes: 8192 };
        if (acc.push(Buffer.concat([Buffer.from(text, 'latin1'), after]), limits) !== HEAD_READY) return;
        expect(parseResponseHead(acc.head, method, acc.bytes)).toEqual(parseResponseHead(acc.head, method));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps field names as sent, common ones in any case', () => {
    const r = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Type: a\r\ncontent-type: b\r\nCONTENT-TYPE: c\r\nETag: "x"\r\nEtag: "y"\r\n\r\n', 'GET');
    expect(r?.headers).toEqual(['Content-Type', 'a', 'content-type', 'b', 'CONTENT-TYPE', 'c', 'ETag', '"x"', 'Etag', '"y"']);
    expect(r?.lnames).toEqual(['content-type', 'content-type', 'content-type', 'etag', 'etag']);
  });

  it('refuses a char above U+00FF in a head given as text', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-A: b\u0141\r\n\r\n', 'GET')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-\u0141: b\r\n\r\n', 'GET')).toBeNull();
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nX-\u010a: b\r\n\r\n', 'GET')).toBeNull();
  });

  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        const r = parseResponseHead(`HTTP/1.1 200 OK\r\n${text}`, 'GET');
        if (r !== null) expect(parseResponseHead(serialise(r), 'GET')).toEqual(r);
        readStatusLine(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });
});

