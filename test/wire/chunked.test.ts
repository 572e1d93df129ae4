import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkedScanner } from '../../src/wire/chunked.js';

function scanAll(text: string, splitEvery = 0): { consumed: number; done: boolean; error: string | null; data: number } {
  const s = new ChunkedScanner();
  const buf = Buffer.from(text, 'latin1');
  let consumed = 0;
  const step = splitEvery || buf.length;
  for (let off = 0; off < buf.length && !s.done; off += step) {
    const n = s.scan(buf.subarray(off, Math.min(buf.length, off + step)));
    if (n < 0) return { consumed, done: false, error: s.error, data: s.dataBytes };
    consumed += n;
  }
  return { consumed, done: s.done, error: s.error, data: s.dataBytes };
}

describe('ChunkedScanner', () => {
  it('finds the end of a simple body and leaves the next message alone', () => {
    const body = '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n';
    const r = scanAll(body + 'GET / HTTP/1.1\r\n');
    expect(r).toMatchObject({ consumed: body.length, done: true, error: null, data: 11 });
  });

  it('gives the same answer whatever the split', () => {
    const body = 'a\r\n0123456789\r\n1;x="y z"\r\nQ\r\n0\r\nX-Sum: 1\r\nX-Two: 2\r\n\r\n';
    for (let k = 1; k <= body.length; k++) {
      expect(scanAll(body, k)).toMatchObject({ consumed: body.length, done: true, error: null, data: 11 });
    }
  });

  it('waits for more bytes when the body is incomplete', () => {
    expect(scanAll('5\r\nhel')).toMatchObject({ consumed: 6, done: false, error: null });
    expect(scanAll('0\r\n')).toMatchObject({ done: false, error: null });
  });

  it.each([
    ['sign', '+5\r\nhello\r\n0\r\n\r\n'],
    ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['space inside size', '5 5\r\nhello\r\n0\r\n\r\n'],
    ['17 hex digits', '00000000000000005\r\nhello\r\n0\r\n\r\n'],
    ['size above 2^53', 'fffffffffffffff\r\n'],
    ['missing CRLF after data', '5\r\nhelloX\r\n0\r\n\r\n'],
    ['bare LF after size', '5\nhello\r\n0\r\n\r\n'],
    ['bare LF after data', '5\r\nhello\n0\r\n\r\n'],
    ['obs-fold in trailer', '0\r\nX: a\r\n b\r\n\r\n'],
    ['trailer without colon', '0\r\nnocolon\r\n\r\n'],
    ['control in extension', '5;a\x01\r\nhello\r\n0\r\n\r\n'],
    ['empty size', '\r\nhello\r\n0\r\n\r\n'],
  ])('rejects %s', (_name, body) => {
    const r = scanAll(body);
    expect(r.error).not.toBeNull();
    expect(r.done).toBe(false);
  });

  it('accepts the largest 16-digit size below 2^53 and BWS before an extension', () => {
    expect(scanAll('001fffffffffffff\r\n').error).toBeNull();
    expect(scanAll('5 ;x\r\nhello\r\n0\r\n\r\n')).toMatchObject({ done: true, error: null });
  });

  it('bounds chunk extensions', () => {
    expect(scanAll(`1;${'a'.repeat(5000)}\r\nx\r\n0\r\n\r\n`).error).toMatch(/extension/);
  });

  it('never throws and never over-reads on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (bytes, step) => {
        const s = new ChunkedScanner();
        const buf = Buffer.from(bytes);
        for (let off = 0; off < buf.length; off += step) {
          const part = buf.subarray(off, off + step);
          const n = s.scan(part);
          if (n < 0) return;
          expect(n).toBeLessThanOrEqual(part.length);
          if (s.done) return;
          expect(n).toBe(part.length);
        }
      }),
    );
  });

  it('round-trips any chunking of random data', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 10 }), fc.integer({ min: 1, max: 64 }), (sizes, step) => {
        let body = '';
        for (const n of sizes) body += `${n.toString(16)}\r\n${'x'.repeat(n)}\r\n`;
        body += '0\r\n\r\n';
        const r = scanAll(body, step);
        expect(r).toMatchObject({ consumed: body.length, done: true, data: sizes.reduce((a, b) => a + b, 0) });
      }),
    );
  });
});
