/**
 * FastCGI records (the FastCGI 1.0 specification): what a web server sends to a responder
 * application (BEGIN_REQUEST, PARAMS name-value pairs, STDIN) and the records it reads back
 * (STDOUT, STDERR, END_REQUEST), with their 8-byte headers and padding.
 *
 * Encoding copies nothing it does not have to: a STDIN record is its 8-byte header, the data as
 * given, and a padding slice. Decoding is incremental (records may split anywhere across reads);
 * STDOUT and STDERR content is handed out as views of the bytes given, so a reader that keeps
 * them past the call copies them. One request per connection at a time, request id 1, as nginx.
 */

export const FCGI_VERSION = 1;
export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_RESPONDER = 1;
export const FCGI_KEEP_CONN = 1;
/** END_REQUEST protocolStatus: the request is complete. */
export const FCGI_REQUEST_COMPLETE = 0;

/** The request id tsproxy uses (one request per connection at a time, as nginx). */
const REQUEST_ID = 1;
const HEADER_BYTES = 8;
const MAX_CONTENT_BYTES = 65535;
const ZEROS = Buffer.alloc(8);

function header(type: number, contentLength: number, padding: number): Buffer {
  const h = Buffer.allocUnsafe(HEADER_BYTES);
  h[0] = FCGI_VERSION;
  h[1] = type;
  h.writeUInt16BE(REQUEST_ID, 2);
  h.writeUInt16BE(contentLength, 4);
  h[6] = padding;
  h[7] = 0;
  return h;
}

/** Padding that keeps records 8-byte aligned (nginx does the same). */
function paddingOf(length: number): number {
  return (8 - (length & 7)) & 7;
}

/** BEGIN_REQUEST for a responder; `keepConn` sets FCGI_KEEP_CONN (the application keeps the connection open). */
export function encodeBeginRequest(keepConn: boolean): Buffer {
  const b = Buffer.alloc(HEADER_BYTES + 8);
  header(FCGI_BEGIN_REQUEST, 8, 0).copy(b, 0);
  b.writeUInt16BE(FCGI_RESPONDER, 8);
  b[10] = keepConn ? FCGI_KEEP_CONN : 0;
  return b;
}

function lengthBytes(n: number): number {
  return n < 128 ? 1 : 4;
}

function writeLength(b: Buffer, at: number, n: number): number {
  if (n < 128) {
    b[at] = n;
    return at + 1;
  }
  b.writeUInt32BE((n | 0x80000000) >>> 0, at);
  return at + 4;
}

/**
 * PARAMS records of `pairs` ([name, value, name, value, ...], latin1: names and values are bytes)
 * followed by the empty PARAMS record that ends the stream, as one buffer.
 */
export function encodeParams(pairs: readonly string[]): Buffer {
  let bytes = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const n = Buffer.byteLength(pairs[i]!, 'latin1');
    const v = Buffer.byteLength(pairs[i + 1]!, 'latin1');
    bytes += lengthBytes(n) + lengthBytes(v) + n + v;
  }
  const content = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!;
    const value = pairs[i + 1]!;
    at = writeLength(content, at, name.length);
    at = writeLength(content, at, value.length);
    at += content.write(name, at, 'latin1');
    at += content.write(value, at, 'latin1');
  }
  const parts: Buffer[] = [];
  for (let off = 0; off < content.length; off += MAX_CONTENT_BYTES) {
    const piece = content.subarray(off, Math.min(content.length, off + MAX_CONTENT_BYTES));
    const pad = paddingOf(piece.length);
    parts.push(header(FCGI_PARAMS, piece.length, pad), piece, ZEROS.subarray(0, pad));
  }
  parts.push(header(FCGI_PARAMS, 0, 0));
  return Buffer.concat(parts);
}

/** STDIN records carrying `data` (header, data views, padding), for one writev; empty data gives none. */
export function stdinParts(data: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_CONTENT_BYTES) {
    const piece = data.subarray(off, Math.min(data.length, off + MAX_CONTENT_BYTES));
    const pad = paddingOf(piece.length);
    parts.push(header(FCGI_STDIN, piece.length, pad), piece);
    if (pad > 0) parts.push(ZEROS.subarray(0, pad));
  }
  return parts;
}

/** The empty STDIN record: the end of the request body. */
export const STDIN_END: Buffer = header(FCGI_STDIN, 0, 0);

/** What a FastcgiReader reports, in record order. */
export interface FastcgiSink {
  /** STDOUT content (a view of the bytes given to read(): copy to keep it). */
  fcgiStdout(data: Buffer): void;
  /** STDERR content (a view as well). */
  fcgiStderr(data: Buffer): void;
  /** END_REQUEST: the response is complete. */
  fcgiEnd(appStatus: number, protocolStatus: number): void;
}

/** read(): more bytes are needed. */
export const FCGI_MORE = 0;
/** read(): END_REQUEST was read; `rest` bytes after it are not this response's. */
export const FCGI_ENDED = 1;
/** read(): not FastCGI (bad version or a record a responder never sends); see `error`. */
export const FCGI_INVALID = -1;

const S_HEADER = 0;
const S_CONTENT = 1;
const S_PADDING = 2;
const S_ENDED = 3;

/** Reads the records of one response as its bytes arrive (reset() for the next one). */
export class FastcgiReader {
  /** Why the bytes are invalid, for the error log. */
  error = '';
  /** After FCGI_ENDED: bytes after END_REQUEST in the last chunk. */
  rest = 0;
  #state = S_HEADER;
  readonly #head = Buffer.alloc(HEADER_BYTES);
  #headBytes = 0;
  #type = 0;
  #remaining = 0;
  #padding = 0;
  /** END_REQUEST content, collected across reads. */
  readonly #end = Buffer.alloc(8);
  #endBytes = 0;

  /** Counts reset() calls: a reset from inside a sink callback ends the read in progress. */
  #generation = 0;

  reset(): void {
    this.#generation++;
    this.#state = S_HEADER;
    this.#headBytes = 0;
    this.#endBytes = 0;
    this.error = '';
    this.rest = 0;
  }

  read(chunk: Buffer, sink: FastcgiSink): number {
    const generation = this.#generation;
    let i = 0;
    const len = chunk.length;
    while (i < len) {
      switch (this.#state) {
        case S_HEADER: {
          const n = Math.min(HEADER_BYTES - this.#headBytes, len - i);
          chunk.copy(this.#head, this.#headBytes, i, i + n);
          this.#headBytes += n;
          i += n;
          if (this.#headBytes < HEADER_BYTES) return FCGI_MORE;
          this.#headBytes = 0;
          const h = this.#head;
          if (h[0] !== FCGI_VERSION) return this.#invalid(`upstream sent unsupported FastCGI protocol version: ${h[0]}`);
          this.#type = h[1]!;
          if (this.#type !== FCGI_STDOUT && this.#type !== FCGI_STDERR && this.#type !== FCGI_END_REQUEST) {
            return this.#invalid(`upstream sent invalid FastCGI record type: ${this.#type}`);
          }
          this.#remaining = h.readUInt16BE(4);
          this.#padding = h[6]!;
          if (this.#type === FCGI_END_REQUEST && this.#remaining !== 8) return this.#invalid('upstream sent invalid FastCGI END_REQUEST record');
          this.#state = this.#remaining > 0 ? S_CONTENT : this.#padding > 0 ? S_PADDING : S_HEADER;
          break;
        }
        case S_CONTENT: {
          const n = Math.min(this.#remaining, len - i);
          if (this.#type === FCGI_END_REQUEST) {
            chunk.copy(this.#end, this.#endBytes, i, i + n);
            this.#endBytes += n;
          } else {
            if (this.#type === FCGI_STDOUT) sink.fcgiStdout(chunk.subarray(i, i + n));
            else sink.fcgiStderr(chunk.subarray(i, i + n));
            // The sink started over (a retry on another connection): these bytes are no longer read.
            if (this.#generation !== generation) return FCGI_MORE;
          }
          i += n;
          this.#remaining -= n;
          if (this.#remaining > 0) return FCGI_MORE;
          if (this.#padding > 0) this.#state = S_PADDING;
          else {
            this.#state = S_HEADER;
            if (this.#type === FCGI_END_REQUEST) return this.#ended(sink, i, len);
          }
          break;
        }
        case S_PADDING: {
          const n = Math.min(this.#padding, len - i);
          i += n;
          this.#padding -= n;
          if (this.#padding > 0) return FCGI_MORE;
          this.#state = S_HEADER;
          if (this.#type === FCGI_END_REQUEST) return this.#ended(sink, i, len);
          break;
        }
        default:
          // Bytes after END_REQUEST: the caller decides (a connection kept open must have none).
          this.rest = len - i;
          return FCGI_ENDED;
      }
    }
    return this.#state === S_ENDED ? FCGI_ENDED : FCGI_MORE;
  }

  #ended(sink: FastcgiSink, at: number, len: number): number {
    this.#state = S_ENDED;
    this.rest = len - at;
    const e = this.#end;
    sink.fcgiEnd(e.readUInt32BE(0), e[4]!);
    return FCGI_ENDED;
  }

  #invalid(message: string): number {
    this.error = message;
    return FCGI_INVALID;
  }
}
