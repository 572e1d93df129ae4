/**
 * Finding a whole HTTP/1 head in a byte stream (RFC 9112 §2): the bytes up to and including the
 * first empty line, lines ended by CRLF or a bare LF (mixed too). A head is located with one
 * Buffer.indexOf per line and handed to the parsers as one latin1 string.
 */

export interface HeadLimits {
  /** Longest request line in bytes (414 beyond it). */
  readonly requestLineBytes: number;
  /** Longest single header line in bytes (431 beyond it). */
  readonly headerLineBytes: number;
  /** Longest whole head in bytes (431 beyond it). */
  readonly headBytes: number;
  /** Request header name classes (headerNameTable in headers.ts); absent: any token name, none ignored. */
  readonly headerNames?: Uint8Array;
  /** Most request header lines (max_headers: 400 beyond it); absent: no count limit. */
  readonly maxHeaders?: number;
}

export const HEAD_NEED_MORE = 0;
export const HEAD_READY = 1;

/**
 * Collects bytes until a whole head is present. push() returns HEAD_NEED_MORE, HEAD_READY (then
 * `head` holds the head text including its empty last line and `rest` the bytes after it) or an
 * error status (400/414/431) for heads that can never become valid. `rest` is a view of the
 * pushed chunk; a partial head is kept as a copy, so callers may reuse their read buffer.
 */
export class HeadAccumulator {
  head = '';
  /**
   * After HEAD_READY: the head's bytes from index 0 (`head` is their text; the bytes after it may
   * follow), for a parser that scans bytes. A view of the pushed chunk, like `rest`.
   */
  bytes: Buffer | null = null;
  rest: Buffer | null = null;
  #pending: Buffer | null = null;

  get pendingBytes(): number {
    return this.#pending === null ? 0 : this.#pending.length;
  }

  /** The bytes of a head not complete yet (null when none): for judging its first line early. */
  get pending(): Buffer | null {
    return this.#pending;
  }

  reset(): void {
    this.#pending = null;
    this.rest = null;
    this.bytes = null;
    this.head = '';
  }

  push(chunk: Buffer, limits: HeadLimits): number {
    const joined = this.#pending !== null;
    let buf = joined ? Buffer.concat([this.#pending!, chunk]) : chunk;
    // RFC 9112 §2.2: ignore empty lines before a request line (clients add CRLF after bodies);
    // nginx skips any CR and LF there.
    let skip = 0;
    while (skip < buf.length && (buf[skip] === 13 || buf[skip] === 10)) skip++;
    if (skip > 0) buf = buf.subarray(skip);
    const headEnd = headLength(buf);
    if (headEnd === -1) {
      // A view of `chunk` would not survive the caller: upstream reads reuse their buffer.
      this.#pending = buf.length === 0 ? null : joined ? buf : Buffer.from(buf);
      return checkIncomplete(buf, limits);
    }
    if (headEnd > limits.headBytes) {
      this.#pending = null;
      return firstLineTooLong(buf, limits) ? 414 : 431;
    }
    this.head = buf.toString('latin1', 0, headEnd);
    this.bytes = buf;
    this.rest = headEnd < buf.length ? buf.subarray(headEnd) : null;
    this.#pending = null;
    return HEAD_READY;
  }
}

/**
 * The length of the head at the start of `buf` (up to and including the first empty line, its
 * lines ended by CRLF or LF), or -1 while no empty line has arrived. As fast as one
 * indexOf("\r\n\r\n") on real heads: one native search per line.
 */
export function headLength(buf: Buffer): number {
  const len = buf.length;
  let from = 0;
  for (;;) {
    const lf = buf.indexOf(10, from);
    if (lf === -1 || lf + 1 >= len) return -1;
    const next = buf[lf + 1];
    if (next === 10) return lf + 2;
    if (next === 13) {
      if (lf + 2 >= len) return -1;
      // CR not followed by LF: not an empty line; the parser refuses the bare CR.
      if (buf[lf + 2] === 10) return lf + 3;
    }
    from = lf + 1;
  }
}

function firstLineTooLong(buf: Buffer, limits: HeadLimits): boolean {
  const lf = buf.indexOf(10);
  if (lf === -1) return buf.length > limits.requestLineBytes;
  return (lf > 0 && buf[lf - 1] === 13 ? lf - 1 : lf) > limits.requestLineBytes;
}

function checkIncomplete(buf: Buffer, limits: HeadLimits): number {
  if (firstLineTooLong(buf, limits)) return 414;
  if (buf.length > limits.headBytes) return 431;
  // A bare CR can never be part of a valid head: fail now (as nginx) instead of at a timeout.
  for (let i = buf.indexOf(13); i !== -1 && i + 1 < buf.length; i = buf.indexOf(13, i + 1)) {
    if (buf[i + 1] !== 10) return 400;
  }
  return HEAD_NEED_MORE;
}
