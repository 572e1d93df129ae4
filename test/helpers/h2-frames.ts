/**
 * Raw HTTP/2 frames for tests that need what node:http2's client refuses to send (a repeated Host,
 * control characters, frames out of order, a missing SETTINGS): frames are written by hand and
 * what the server sends back is parsed into frames. Header blocks are HPACK literals without
 * indexing or Huffman coding (RFC 7541 §6.2.2), so no decoder state is needed on our side.
 */
import net from 'node:net';
import tls from 'node:tls';
import { onTestFinished } from 'vitest';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

export const END_STREAM = 0x1;
export const ACK = 0x1;
export const END_HEADERS = 0x4;

export const NO_ERROR = 0x0;
export const PROTOCOL_ERROR = 0x1;
export const FLOW_CONTROL_ERROR = 0x3;
export const STREAM_CLOSED = 0x5;
export const FRAME_SIZE_ERROR = 0x6;
export const REFUSED_STREAM = 0x7;
export const COMPRESSION_ERROR = 0x9;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** One frame: 9-byte header and payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** A SETTINGS frame with (id, value) pairs. */
export function settings(pairs: Array<[number, number]> = []): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(SETTINGS, 0, 0, p);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment, 0);
  return frame(WINDOW_UPDATE, 0, streamId, p);
}

/** HPACK integer with an n-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
export function hpackInt(value: number, prefixBits: number, first = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function hpackString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInt(b.length, 7), b]);
}

/** A header block of literal fields without indexing (new names, no Huffman). */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0]), hpackString(n), hpackString(v)]));
}

/** A request's HEADERS frame (END_HEADERS, and END_STREAM unless `body`). */
export function requestHeaders(streamId: number, fields: Array<[string, string]>, options: { body?: boolean } = {}): Buffer {
  return frame(HEADERS, END_HEADERS | (options.body === true ? 0 : END_STREAM), streamId, headerBlock(fields));
}

/** The usual pseudo-headers of a GET, followed by `extra`. */
export function get(path: string, extra: Array<[string, string]> = [], authority = 'localhost'): Array<[string, string]> {
  return [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority], ...extra];
}

/**
 * The :status of a response header block as nghttp2 encodes the common ones: an entry of the
 * static table (200 204 206 304 400 404 500), or a literal with the :status name and a raw
 * (not Huffman) value; otherwise -1. A leading dynamic table size update is skipped.
 */
export function statusOf(block: Buffer): number {
  let i = 0;
  while (i < block.length && (block[i]! & 0xe0) === 0x20) {
    i++;
    if ((block[i - 1]! & 0x1f) === 0x1f) while (block[i++]! & 0x80);
  }
  const b = block[i]!;
  const STATIC: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
  if (b & 0x80) return STATIC[b & 0x7f] ?? -1;
  const nameIndex = (b & 0x40) !== 0 ? b & 0x3f : b & 0x0f;
  if (nameIndex < 8 || nameIndex > 14) return -1;
  const len = block[i + 1]!;
  if (len & 0x80) return huffmanStatus(block.subarray(i + 2, i + 2 + (len & 0x7f)));
  return Number(block.subarray(i + 2, i + 2 + len).toString('latin1'));
}

/** Huffman codes of the digits (RFC 7541 Appendix B): '0' '1' '2' are 5 bits, '3'..'9' are 6. */
const DIGIT_CODES: Array<[number, number]> = [
  [0x0, 5], [0x1, 5], [0x2, 5], [0x19, 6], [0x1a, 6], [0x1b, 6], [0x1c, 6], [0x1d, 6], [0x1e, 6], [0x1f, 6],
];

/** A Huffman-coded status (three digits). */
function huffmanStatus(bytes: Buffer): number {
  let bits = '';
  for (const byte of bytes) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  let pos = 0;
  while (out.length < 3) {
    const d = DIGIT_CODES.findIndex(([code, n]) => bits.slice(pos, pos + n) === code.toString(2).padStart(n, '0'));
    if (d < 0) return -1;
    out += String(d);
    pos += DIGIT_CODES[d]![1];
  }
  return Number(out);
}

export interface Goaway {
  lastStreamId: number;
  code: number;
}

export function goawayOf(f: Frame): Goaway {
  return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) };
}

/** A raw HTTP/2 client connection: everything received is parsed into `frames`. */
export class RawH2 {
  readonly frames: Frame[] = [];
  /** Bytes that did not parse as frames (an HTTP/1.1 answer, for instance). */
  rest = Buffer.alloc(0);
  closed = false;
  readonly socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      let buf = Buffer.concat([this.rest, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        this.frames.push({ type: buf[3]!, flags: buf[4]!, streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) });
        buf = buf.subarray(9 + len);
      }
      this.rest = buf;
    });
    socket.on('close', () => {
      this.closed = true;
    });
    onTestFinished(() => {
      socket.destroy();
    });
  }

  /** Connect (TLS with ALPN h2 when `tlsOptions` is given); nothing is sent yet. */
  static async connect(port: number, tlsOptions?: tls.ConnectionOptions, before?: Buffer): Promise<RawH2> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      if (tlsOptions !== undefined) {
        const s = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false, ...tlsOptions }, () => resolve(s));
        s.once('error', reject);
      } else {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }
    });
    if (before !== undefined) socket.write(before);
    return new RawH2(socket);
  }

  /** Connect and send the preface and an empty SETTINGS. */
  static async open(port: number, tlsOptions?: tls.ConnectionOptions): Promise<RawH2> {
    const c = await RawH2.connect(port, tlsOptions);
    c.write(PREFACE, settings());
    return c;
  }

  write(...bufs: Buffer[]): void {
    this.socket.write(Buffer.concat(bufs));
  }

  /** The first received frame matching `pred` (polling until `timeoutMs`). */
  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (Date.now() > until) throw new Error(`no such frame; got ${this.describe()}`);
      if (this.closed && this.frames.find(pred) === undefined) throw new Error(`closed; got ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The response status of a stream (its first HEADERS frame). */
  async status(streamId: number, timeoutMs = 5000): Promise<number> {
    const f = await this.waitFor((x) => x.type === HEADERS && x.streamId === streamId, timeoutMs);
    return statusOf(f.payload);
  }

  /** The GOAWAY the server sent. */
  async goaway(timeoutMs = 5000): Promise<Goaway> {
    return goawayOf(await this.waitFor((f) => f.type === GOAWAY, timeoutMs));
  }

  /** The RST_STREAM error code of a stream. */
  async rst(streamId: number, timeoutMs = 5000): Promise<number> {
    const f = await this.waitFor((x) => x.type === RST_STREAM && x.streamId === streamId, timeoutMs);
    return f.payload.readUInt32BE(0);
  }

  /** The DATA of a stream received so far, as text. */
  body(streamId: number): string {
    return Buffer.concat(this.frames.filter((f) => f.type === DATA && f.streamId === streamId).map((f) => f.payload)).toString('latin1');
  }

  /** Resolves when the server closed the connection. */
  async whenClosed(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > until) throw new Error(`still open; got ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  describe(): string {
    const names = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];
    const list = this.frames.map((f) => {
      const extra = f.type === GOAWAY ? ` ${JSON.stringify(goawayOf(f))}` : f.type === RST_STREAM ? ` code=${f.payload.readUInt32BE(0)}` : f.type === HEADERS ? ` status=${statusOf(f.payload)}` : '';
      return `${names[f.type] ?? f.type}(s=${f.streamId},fl=${f.flags}${extra})`;
    });
    return `[${list.join(' ')}]${this.closed ? ' closed' : ''}${this.rest.length > 0 ? ` rest=${JSON.stringify(this.rest.toString('latin1').slice(0, 80))}` : ''}`;
  }
}
