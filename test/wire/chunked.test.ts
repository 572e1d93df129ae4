import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChunkedDecoder, ChunkedScanner, chunkParts, LAST_CHUNK } from '../../src/wire/chunked.js';

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

/** Feed `bytes` to a decoder in pieces of `step`; the data it gave and whether it saw the end. */
function decodeAll(bytes: Buffer, step = 0): { data: Buffer; done: boolean } {
  const d = new ChunkedDecoder();
  const parts: Buffer[] = [];
  const n = step || bytes.length;
  for (let off = 0; off < bytes.length; off += n) d.decode(bytes.subarray(off, off + n), (b) => parts.push(Buffer.from(b)));
  return { data: Buffer.concat(parts), done: d.done };
}

describe('ChunkedDecoder', () => {
  it.each([
    ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello'],
    ['extensions and BWS', '5 ;a=1;b="x y"\r\nhello\r\n6;x\r\n world\r\n0;end\r\n\r\n', 'hello world'],
    ['trailers', '3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Two: 2\r\n\r\n', 'abc'],
    ['upper-case hex', 'A\r\n0123456789\r\n0\r\n\r\n', '0123456789'],
    ['leading zeros', '0003\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['no data', '0\r\n\r\n', ''],
  ])('%s, split at every byte', (_name, body, data) => {
    for (let step = 1; step <= body.length; step++) {
      expect(decodeAll(Buffer.from(body, 'latin1'), step)).toEqual({ data: Buffer.from(data, 'latin1'), done: true });
    }
  });

  it('is not done before the empty line after the last chunk', () => {
    expect(decodeAll(Buffer.from('5\r\nhello\r\n0\r\n')).done).toBe(false);
    expect(decodeAll(Buffer.from('5\r\nhel'))).toEqual({ data: Buffer.from('hel'), done: false });
  });
});

describe('chunkParts', () => {
  it('frames data as one chunk and never as the last one', () => {
    expect(Buffer.concat(chunkParts(Buffer.from('hello'))).toString('latin1')).toBe('5\r\nhello\r\n');
    expect(Buffer.concat(chunkParts(Buffer.alloc(300, 0x61))).subarray(0, 5).toString('latin1')).toBe('12c\r\n');
    expect(chunkParts(Buffer.alloc(0)).length).toBe(0);
    expect(LAST_CHUNK.toString('latin1')).toBe('0\r\n\r\n');
  });
});

/** A chunked body made of `datas`, with optional extensions and trailers, as the fuzz builds it. */
const chunkedBody = fc.record({
  datas: fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
  ext: fc.constantFrom('', ';a', ';a=1', ' ;q="x y"', ';\x80'),
  trailers: fc.constantFrom('', 'X-A: 1\r\n', 'X-A: 1\r\nX-B:\r\n'),
  upper: fc.boolean(),
});

function build(b: { datas: Uint8Array[]; ext: string; trailers: string; upper: boolean }): Buffer {
  const parts: Buffer[] = [];
  for (const d of b.datas) {
    const size = d.length.toString(16);
    parts.push(Buffer.from(`${b.upper ? size.toUpperCase() : size}${b.ext}\r\n`, 'latin1'), Buffer.from(d), Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`0${b.ext}\r\n${b.trailers}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

describe('scanner and decoder agree (fuzz)', () => {
  it('on valid bodies: the scanner finds their end, the decoder gives their data, whatever the split', () => {
    fc.assert(
      fc.property(chunkedBody, fc.integer({ min: 1, max: 64 }), (b, step) => {
        const body = build(b);
        const want = Buffer.concat(b.datas.map((d) => Buffer.from(d)));
        expect(scanAll(body.toString('latin1'), step)).toMatchObject({ consumed: body.length, done: true, error: null, data: want.length });
        expect(decodeAll(body, step)).toEqual({ data: want, done: true });
        // the encoder's framing is the same framing
        const encoded = Buffer.concat([...b.datas.flatMap((d) => chunkParts(Buffer.from(d))), LAST_CHUNK]);
        expect(decodeAll(encoded, step)).toEqual({ data: want, done: true });
        expect(scanAll(encoded.toString('latin1'), step)).toMatchObject({ consumed: encoded.length, done: true });
      }),
      { numRuns: 500 },
    );
  });

  it('on mutated bodies: whatever the scanner accepts, the decoder reads the same data to the same end', () => {
    fc.assert(
      fc.property(
        chunkedBody,
        fc.nat(),
        fc.constantFrom('\r', '\n', '\r\n', ' ', ';', '0', 'f', 'x', ':', '\x00', ''),
        fc.integer({ min: 0, max: 2 }),
        (b, at, insert, remove) => {
          const body = build(b);
          const pos = at % (body.length + 1);
          const mutated = Buffer.concat([body.subarray(0, pos), Buffer.from(insert, 'latin1'), body.subarray(pos + remove)]);
          const scanner = new ChunkedScanner();
          const n = scanner.scan(mutated);
          if (n < 0 || !scanner.done) return;
          const accepted = mutated.subarray(0, n);
          const decoded = decodeAll(accepted);
          expect(decoded.done).toBe(true);
          expect(decoded.data.length).toBe(scanner.dataBytes);
          // byte by byte too: the decoder's state machine does not depend on how bytes arrive
          expect(decodeAll(accepted, 1)).toEqual(decoded);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
