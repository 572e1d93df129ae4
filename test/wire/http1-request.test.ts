import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../../src/wire/head-accumulator.js';
import { parseRequestHead, type RequestHead } from '../../src/wire/http1-request.js';

const LIMITS: HeadLimits = { requestLineBytes: 1024, headerLineBytes: 1024, headBytes: 8192 };

/** Feed `text` in pieces of `step` bytes; return the parsed head or the error status. */
function parse(text: string, step = 0, limits = LIMITS): RequestHead | number {
  const acc = new HeadAccumulator();
  const buf = Buffer.from(text, 'latin1');
  const n = step || buf.length;
  for (let off = 0; off < buf.length; off += n) {
    const r = acc.push(buf.subarray(off, off + n), limits);
    if (r === HEAD_READY) {
      // as the connection parses it (over the received bytes), and the same as over the text alone
      const parsed = parseRequestHead(acc.head, limits, acc.bytes);
      expect(parsed).toEqual(parseRequestHead(acc.head, limits));
      return parsed;
    }
    if (r !== HEAD_NEED_MORE) return r;
  }
  return HEAD_NEED_MORE;
}

function ok(text: string): RequestHead {
  const r = parse(text);
  if (typeof r === 'number') throw new Error(`expected a head, got ${r}`);
  return r;
}

describe('request heads', () => {
  it('parses a request line and headers, keeping names as sent', () => {
    const h = ok('GET /a?b=1 HTTP/1.1\r\nHost: Example.TEST:8080\r\nX-Thing:  v a l  \r\nAccept:\r\n\r\n');
    expect(h).toMatchObject({ method: 'GET', target: '/a?b=1', versionMinor: 1, host: 'Example.TEST:8080', keepAlive: true });
    expect(h.headers).toEqual(['Host', 'Example.TEST:8080', 'X-Thing', 'v a l', 'Accept', '']);
    expect(h.lnames).toEqual(['host', 'x-thing', 'accept']);
  });

  it('assembles a head split at every byte and returns the rest', () => {
    const text = 'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n';
    for (let step = 1; step < text.length; step++) {
      expect(parse(text, step)).toMatchObject({ method: 'POST', contentLength: 3 });
    }
    const acc = new HeadAccumulator();
    expect(acc.push(Buffer.from(`${text}abcGET`), LIMITS)).toBe(HEAD_READY);
    expect(acc.rest?.toString()).toBe('abcGET');
  });

  it('skips empty lines before the request line', () => {
    expect(ok('\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('GET');
    expect(ok('\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').method).toBe('GET');
  });

  // nginx 1.22 serves all of these (checked on raw sockets); RFC 9112 §2.2 allows a bare LF.
  it.each([
    ['LF only', 'GET / HTTP/1.0\nHost: a\n\n'],
    ['LF request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n'],
    ['LF before a CRLF empty line', 'GET / HTTP/1.1\r\nHost: a\n\r\n'],
    ['CRLF before an LF empty line', 'GET / HTTP/1.1\nHost: a\r\n\n'],
  ])('accepts bare LF line ends (%s)', (_name, text) => {
    for (let step = 1; step <= text.length; step++) {
      expect(parse(text, step)).toMatchObject({ method: 'GET', target: '/', host: 'a', headers: ['Host', 'a'] });
    }
  });

  it('ends the head at the first empty line, however its lines end', () => {
    const acc = new HeadAccumulator();
    expect(acc.push(Buffer.from('POST / HTTP/1.1\nHost: a\nContent-Length: 4\n\nab\r\n\r\n'), LIMITS)).toBe(HEAD_READY);
    expect(acc.head).toBe('POST / HTTP/1.1\nHost: a\nContent-Length: 4\n\n');
    expect(acc.rest?.toString()).toBe('ab\r\n\r\n');
  });

  it('derives keep-alive from the version and Connection', () => {
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n').keepAlive).toBe(false);
    expect(ok('GET / HTTP/1.0\r\n\r\n').keepAlive).toBe(false);
    expect(ok('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive).toBe(true);
  });

  it('recognises upgrades and Expect: 100-continue', () => {
    const h = ok('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\nExpect: 100-Continue\r\n\r\n');
    expect(h.upgrade).toBe('websocket');
    expect(h.expectContinue).toBe(true);
    expect(ok('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').upgrade).toBeNull();
  });

  // Checked with nginx 1.22 on raw sockets: the absolute-form authority wins over Host, HTTP/1.1
  // still needs a Host header, and the authority is refused where a Host would be.
  it('reduces absolute-form to origin-form; its authority wins over Host', () => {
    expect(ok('GET http://a.test/x?y HTTP/1.1\r\nHost: A.test\r\n\r\n')).toMatchObject({ target: '/x?y', host: 'a.test' });
    expect(ok('GET http://Example.ORG:8080/ HTTP/1.1\r\nHost: localhost\r\n\r\n')).toMatchObject({ target: '/', host: 'Example.ORG:8080' });
    expect(ok('GET http://a.test HTTP/1.0\r\n\r\n')).toMatchObject({ target: '/', host: 'a.test' });
    expect(ok('GET https://a.test?q HTTP/1.1\r\nHost: b\r\n\r\n')).toMatchObject({ target: '/?q', host: 'a.test' });
    expect(ok('GET ftp://a.test/ HTTP/1.1\r\nHost: b\r\n\r\n')).toMatchObject({ host: 'a.test' });
    expect(ok('GET http://[::1]:80/ HTTP/1.1\r\nHost: b\r\n\r\n')).toMatchObject({ host: '[::1]:80' });
    expect(parse('GET http://a.test HTTP/1.1\r\n\r\n')).toBe(400);
    for (const authority of ['u@a.test', 'u:p@a.test', 'a.test:abc', 'a.test:99999', '[::1', '[::1]x', 'a:1:2', 'a..b', '.a', '', 'a#f']) {
      expect(parse(`GET http://${authority}/ HTTP/1.1\r\nHost: a.test\r\n\r\n`), authority).toBe(400);
    }
  });

  it('accepts OPTIONS * only', () => {
    expect(ok('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').target).toBe('*');
    expect(parse('GET * HTTP/1.1\r\nHost: a\r\n\r\n')).toBe(400);
  });

  it('collapses identical Content-Length values', () => {
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n').contentLength).toBe(5);
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n').contentLength).toBe(5);
  });

  it('accepts exactly "chunked" as Transfer-Encoding', () => {
    expect(ok('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n').chunked).toBe(true);
  });

  it.each([
    ['CL + TE', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['TE + CL', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n', 400],
    ['differing CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400],
    ['CL list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n', 400],
    ['signed CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n', 400],
    ['hex CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n', 400],
    ['empty CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n', 400],
    ['huge CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n', 400],
    ['chunked, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400],
    ['two TE headers', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['xchunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n', 400],
    ['gzip', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
    ['chunked with junk', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n', 400],
    ['vertical tab in TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0bchunked\r\n\r\n', 400],
    ['space before colon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n', 400],
    ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400],
    ['missing Host', 'GET / HTTP/1.1\r\n\r\n', 400],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', 400],
    ['Host with slash', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400],
    ['Host with space', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
    ['Host with ..', 'GET / HTTP/1.1\r\nHost: a..b\r\n\r\n', 400],
    // nginx 1.22 answers 400 to a bare CR anywhere in a head (checked on raw sockets).
    ['bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400],
    ['bare CR after the request line', 'GET / HTTP/1.1\rHost: a\r\n\r\n', 400],
    ['bare CR between headers', 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n', 400],
    ['bare CR on the empty line', 'GET / HTTP/1.1\r\nHost: a\r\n\r\r\n', 400],
    ['bare CR in the target', 'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['empty Host', 'GET / HTTP/1.1\r\nHost:\r\n\r\n', 400],
    ['blank Host', 'GET / HTTP/1.1\r\nHost:  \r\n\r\n', 400],
    ['empty Host in HTTP/1.0', 'GET / HTTP/1.0\r\nHost:\r\n\r\n', 400],
    ['Host with a bad port', 'GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n', 400],
    ['Host with an open bracket', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 400],
    ['Host with userinfo', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', 400],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400],
    ['lowercase version', 'GET / http/1.1\r\nHost: a\r\n\r\n', 400],
    ['HTTP/0.9', 'GET / HTTP/0.9\r\n\r\n', 400],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['no version', 'GET /\r\nHost: a\r\n\r\n', 400],
    ['bad method char', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['lowercase method (nginx)', 'get / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['space in target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['CONNECT', 'CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n', 405],
    ['TRACE', 'TRACE / HTTP/1.1\r\nHost: a\r\n\r\n', 405],
    ['relative target', 'GET a/b HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ])('rejects %s', (_name, text, status) => {
    expect(parse(text)).toBe(status);
  });

  it('answers 414 for an overlong request line and 431 for big headers', () => {
    const limits: HeadLimits = { requestLineBytes: 100, headerLineBytes: 200, headBytes: 1000 };
    expect(parse(`GET /${'a'.repeat(200)} HTTP/1.1\r\nHost: a\r\n\r\n`, 0, limits)).toBe(414);
    expect(parse(`GET /${'a'.repeat(200)}`, 0, limits)).toBe(414);
    expect(parse(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'b'.repeat(300)}\r\n\r\n`, 0, limits)).toBe(431);
    expect(parse(`GET / HTTP/1.1\r\nHost: a\r\n${'X: y\r\n'.repeat(300)}`, 0, limits)).toBe(431);
    expect(parse(`GET / HTTP/1.1\r\nHost: a\r\n${'X: y\r\n'.repeat(300)}\r\n`, 0, limits)).toBe(431);
  });

  it('never throws: random bytes give a head, an error status or "need more"', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (bytes, step) => {
        const r = parse(Buffer.from(bytes).toString('latin1'), step);
        if (typeof r === 'number') expect([HEAD_NEED_MORE, 400, 405, 414, 431, 505]).toContain(r);
        else expect(r.method).toMatch(/^[A-Z_-]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated valid requests, and whatever it accepts is unambiguous', () => {
    const base = 'POST /x HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n';
    const alphabet = fc.constantFrom(' ', '\t', '\r', '\n', ':', ',', 'a', '0', '\x00', '\x0b', 'chunked', 'Content-Length: 1\r\n');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: base.length }), alphabet, fc.integer({ min: 0, max: 3 }), (pos, ins, del) => {
        const text = base.slice(0, pos) + ins + base.slice(pos + del);
        const r = parse(text);
        if (typeof r !== 'number') {
          // An accepted head never carries both framings.
          expect(r.chunked && r.contentLength !== -1).toBe(false);
          for (const v of r.headers) expect(v).not.toMatch(/[\r\n\x00]/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** An accepted head written back out as tsproxy writes heads: CRLF, one space after the colon. */
function serialise(h: RequestHead): string {
  let out = `${h.method} ${h.rawTarget} HTTP/1.${h.versionMinor}\r\n`;
  for (let k = 0; k < h.headers.length; k += 2) out += `${h.headers[k]!}: ${h.headers[k + 1]!}\r\n`;
  return `${out}\r\n`;
}

describe('request heads (fuzz)', () => {
  const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const value = fc.stringMatching(/^[\t\x20-\x7e\x80-\xff]{0,20}$/);
  const line = fc.oneof(
    fc.tuple(token, value).map(([n, v]) => `${n}:${v}`),
    fc.constantFrom('Host: a.test', 'Host: A.test:80', 'Content-Length: 3', 'Content-Length: 3, 3', 'Transfer-Encoding: chunked',
      'Connection: keep-alive, Upgrade', 'Upgrade: websocket', 'Expect: 100-continue', ' folded', 'X : y', 'X: a\rb'),
  );
  /** Mostly what is valid, sometimes what is not. */
  const mostly = (valid: string[], invalid: string[]) =>
    fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 9 }, { arbitrary: fc.constantFrom(...invalid), weight: 1 });
  const requestLine = fc.tuple(
    mostly(['GET', 'POST', 'OPTIONS', 'M-X_Y'], ['get', 'TRACE', 'G(T']),
    mostly(['/', '/a?b=c', 'http://a.test/x', 'HTTP://[::1]:8080', '/\x80\xff'], ['*', 'a/b', '/a b', 'http://u@a/']),
    mostly(['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.9'], ['HTTP/2.0', 'http/1.1', 'HTTP/1']),
  ).map(([m, t, v]) => `${m} ${t} ${v}`);
  const head = fc
    .tuple(requestLine, fc.option(fc.constantFrom('Host: a.test', 'Host: A.test:80', 'Host: [::1]'), { freq: 5 }), fc.array(line, { maxLength: 6 }), fc.constantFrom('\r\n', '\n'))
    .map(([rl, host, lines, eol]) => [rl, ...(host === null ? [] : [host]), ...lines].join(eol) + eol + eol);

  it('gives a head or a status for every generated head, and an accepted head re-serialises to itself', () => {
    let accepted = 0;
    fc.assert(
      fc.property(head, fc.integer({ min: 1, max: 64 }), (text, step) => {
        const r = parse(text, step);
        if (typeof r === 'number') {
          expect([HEAD_NEED_MORE, 400, 405, 414, 431, 505]).toContain(r);
          return;
        }
        accepted++;
        const again = parse(serialise(r));
        expect(again).toEqual(r);
        expect(serialise(again as RequestHead)).toBe(serialise(r));
      }),
      { numRuns: 3000 },
    );
    // the generator must reach the accepting paths, not only the refusals
    expect(accepted).toBeGreaterThan(600);
  });

  it('never throws on random bytes, and what it accepts from them re-serialises to itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = parse(Buffer.from(bytes).toString('latin1'));
        if (typeof r !== 'number') expect(parse(serialise(r))).toEqual(r);
      }),
      { numRuns: 3000 },
    );
  });
});

