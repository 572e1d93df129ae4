import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeBeginRequest, encodeParams, FCGI_ENDED, FCGI_INVALID, FCGI_MORE, FastcgiReader, stdinParts, STDIN_END, type FastcgiSink,
} from '../../src/wire/fastcgi.js';
import { CGI_HEAD_PENDING, CGI_HEAD_TOO_BIG, CGI_INVALID_HEADER, CGI_INVALID_STATUS, CgiHeadReader, parseCgiHead } from '../../src/wire/fastcgi-response.js';

/** A record as a FastCGI application writes it (request id 1). */
function record(type: number, content: Buffer, padding = 0): Buffer {
  const h = Buffer.from([1, type, 0, 1, content.length >> 8, content.length & 0xff, padding, 0]);
  return Buffer.concat([h, content, Buffer.alloc(padding)]);
}

const END = record(3, Buffer.from([0, 0, 0, 7, 0, 0, 0, 0]));

class Collect implements FastcgiSink {
  stdout: Buffer[] = [];
  stderr: Buffer[] = [];
  end: [number, number] | null = null;
  fcgiStdout(d: Buffer): void { this.stdout.push(Buffer.from(d)); }
  fcgiStderr(d: Buffer): void { this.stderr.push(Buffer.from(d)); }
  fcgiEnd(app: number, proto: number): void { this.end = [app, proto]; }
}

/** Decode name-value pairs of PARAMS records (the server side), for round trips. */
function decodeParams(bytes: Buffer): string[] {
  const out: string[] = [];
  let content = Buffer.alloc(0);
  let i = 0;
  for (;;) {
    const len = bytes.readUInt16BE(i + 4);
    const pad = bytes[i + 6]!;
    expect(bytes[i + 1]).toBe(4);
    if (len === 0) break;
    expect((len + pad) % 8).toBe(0);
    content = Buffer.concat([content, bytes.subarray(i + 8, i + 8 + len)]);
    i += 8 + len + pad;
  }
  expect(i + 8).toBe(bytes.length);
  let j = 0;
  const readLen = (): number => {
    if (content[j]! < 128) return content[j++]!;
    const n = content.readUInt32BE(j) & 0x7fffffff;
    j += 4;
    return n;
  };
  while (j < content.length) {
    const n = readLen();
    const v = readLen();
    out.push(content.toString('latin1', j, j + n), content.toString('latin1', j + n, j + n + v));
    j += n + v;
  }
  return out;
}

describe('encoding', () => {
  it('BEGIN_REQUEST: responder role, FCGI_KEEP_CONN only when asked', () => {
    expect([...encodeBeginRequest(false)]).toEqual([1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(encodeBeginRequest(true)[10]).toBe(1);
  });

  it('PARAMS: 1-byte lengths below 128, 4-byte ones (high bit set) from 128, records padded to 8, an empty record last', () => {
    const long = 'v'.repeat(200);
    const bytes = encodeParams(['A', 'b', 'LONG', long]);
    expect(decodeParams(bytes)).toEqual(['A', 'b', 'LONG', long]);
    // A=1 b=1: lengths 1,1 then "Ab"; LONG: 4, then 0x800000c8
    expect([...bytes.subarray(8, 12)]).toEqual([1, 1, 0x41, 0x62]);
    expect([...bytes.subarray(12, 17)]).toEqual([4, 0x80, 0, 0, 200]);
    expect(bytes.subarray(-8)).toEqual(Buffer.from([1, 4, 0, 1, 0, 0, 0, 0]));
  });

  it('PARAMS over 64 KB split into several records; STDIN likewise, STDIN_END empty', () => {
    const big = 'x'.repeat(150_000);
    expect(decodeParams(encodeParams(['BIG', big]))).toEqual(['BIG', big]);
    const parts = stdinParts(Buffer.alloc(70_000, 1));
    const all = Buffer.concat(parts);
    expect(all.readUInt16BE(4)).toBe(65535);
    expect(all[6]).toBe(1);
    expect(all.length).toBe(8 + 65535 + 1 + 8 + (70_000 - 65535) + ((8 - ((70_000 - 65535) % 8)) % 8));
    expect(stdinParts(Buffer.alloc(0))).toEqual([]);
    expect([...STDIN_END]).toEqual([1, 5, 0, 1, 0, 0, 0, 0]);
  });

  it('round trip of random pairs', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 300 }), fc.string({ maxLength: 400 }))), (pairs) => {
      const flat = pairs.flatMap(([n, v]) => [Buffer.from(n, 'latin1').toString('latin1'), Buffer.from(v, 'latin1').toString('latin1')]);
      expect(decodeParams(encodeParams(flat))).toEqual(flat);
    }));
  });
});

describe('FastcgiReader', () => {
  it('STDOUT, STDERR and END_REQUEST with padding, the bytes after END_REQUEST counted', () => {
    const bytes = Buffer.concat([record(6, Buffer.from('Status: 200\r\n\r\nhi'), 6), record(7, Buffer.from('oops')), END, Buffer.from('xyz')]);
    const sink = new Collect();
    const reader = new FastcgiReader();
    expect(reader.read(bytes, sink)).toBe(FCGI_ENDED);
    expect(Buffer.concat(sink.stdout).toString()).toBe('Status: 200\r\n\r\nhi');
    expect(Buffer.concat(sink.stderr).toString()).toBe('oops');
    expect(sink.end).toEqual([7, 0]);
    expect(reader.rest).toBe(3);
  });

  it('the same records split at every byte give the same result', () => {
    const bytes = Buffer.concat([record(6, Buffer.from('abc'), 5), record(7, Buffer.from('e'), 7), record(6, Buffer.alloc(0)), record(6, Buffer.from('def')), END]);
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 6 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const sink = new Collect();
      const reader = new FastcgiReader();
      let last = 0;
      let rc = FCGI_MORE;
      for (const p of [...points, bytes.length]) {
        rc = reader.read(bytes.subarray(last, p), sink);
        last = p;
      }
      expect(rc).toBe(FCGI_ENDED);
      expect(Buffer.concat(sink.stdout).toString()).toBe('abcdef');
      expect(Buffer.concat(sink.stderr).toString()).toBe('e');
      expect(sink.end).toEqual([7, 0]);
    }));
  });

  it('not FastCGI: a wrong version or a record type a responder never sends is invalid, with nginx\'s words', () => {
    const reader = new FastcgiReader();
    expect(reader.read(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), new Collect())).toBe(FCGI_INVALID);
    expect(reader.error).toBe('upstream sent unsupported FastCGI protocol version: 72');
    reader.reset();
    expect(reader.read(record(9, Buffer.alloc(0)), new Collect())).toBe(FCGI_INVALID);
    expect(reader.error).toBe('upstream sent invalid FastCGI record type: 9');
  });

  it('random bytes never throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      const rc = new FastcgiReader().read(Buffer.from(b), new Collect());
      expect([FCGI_MORE, FCGI_ENDED, FCGI_INVALID]).toContain(rc);
    }));
  });

  it('a reset from inside a callback ends the read in progress (a retry starts over)', () => {
    const reader = new FastcgiReader();
    const seen: string[] = [];
    const sink: FastcgiSink = {
      fcgiStdout(d) { seen.push(d.toString()); reader.reset(); },
      fcgiStderr() { seen.push('err'); },
      fcgiEnd() { seen.push('end'); },
    };
    expect(reader.read(Buffer.concat([record(6, Buffer.from('a')), record(7, Buffer.from('b')), END]), sink)).toBe(FCGI_MORE);
    expect(seen).toEqual(['a']);
  });
});

describe('the CGI head', () => {
  it('ends at a blank line (CRLF or bare LF), wherever the reads split it; the rest is body', () => {
    const r = new CgiHeadReader(1000);
    expect(r.push(Buffer.from('Content-Type: text/plain\r\n\r'))).toBe(CGI_HEAD_PENDING);
    expect(r.push(Buffer.from('\nbody'))).toBe('Content-Type: text/plain\r\n\r\n');
    expect(r.after?.toString()).toBe('body');
    const lf = new CgiHeadReader(1000);
    expect(lf.push(Buffer.from('A: b\n\nrest'))).toBe('A: b\n\n');
    expect(lf.after?.toString()).toBe('rest');
    expect(new CgiHeadReader(10).push(Buffer.from('X-Long: 12345678901234567890'))).toBe(CGI_HEAD_TOO_BIG);
  });

  it('Status sets status and reason (and is not passed on); Location without Status is 302; else 200', () => {
    const st = parseCgiHead('Status: 404 Gone Fishing\r\nX-A: 1\r\n\r\n', 'GET');
    expect(st).toMatchObject({ status: 404, reason: 'Gone Fishing', headers: ['X-A', '1'], body: 'chunked' });
    expect(parseCgiHead('Location: /x\r\n\r\n', 'GET')).toMatchObject({ status: 302, headers: ['Location', '/x'] });
    expect(parseCgiHead('Content-Length: 5\r\n\r\n', 'GET')).toMatchObject({ status: 200, contentLength: 5, body: 'length' });
    expect(parseCgiHead('Content-Length: 5\r\n\r\n', 'HEAD')).toMatchObject({ body: 'none', contentLength: 5 });
    expect(parseCgiHead('Status: 304\r\n\r\n', 'GET')).toMatchObject({ status: 304, body: 'none' });
    expect(parseCgiHead('\r\n', 'GET')).toMatchObject({ status: 200, headers: [] });
  });

  it('a line that is no header, or a Status without three digits, is refused', () => {
    expect(parseCgiHead('not a header\r\n\r\n', 'GET')).toBe(CGI_INVALID_HEADER);
    expect(parseCgiHead('Status: abc\r\n\r\n', 'GET')).toBe(CGI_INVALID_STATUS);
    expect(parseCgiHead('Content-Length: x\r\n\r\n', 'GET')).toBe(CGI_INVALID_HEADER);
  });
});
