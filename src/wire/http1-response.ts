/**
 * HTTP/1.x response heads (RFC 9112 §4 and §6.3): from upstreams (the proxy) and from checked
 * peers (health probes), by the same rules as request heads (headers.ts: CRLF or bare LF, no bare
 * CR, strict field lines).
 */
import { commonFieldName, commonLname, commonName } from './field-names.js';
import { appendTokens, eolAt, eolAtByte, finalCodingIsChunked, headBytesOf, parseContentLength, TCHAR, VALUE_CHAR } from './headers.js';

export type BodyKind = 'none' | 'length' | 'chunked' | 'close';

export interface ResponseHead {
  readonly versionMinor: 0 | 1;
  readonly status: number;
  readonly reason: string;
  readonly headers: string[];
  readonly lnames: string[];
  readonly contentLength: number;
  readonly body: BodyKind;
  readonly keepAlive: boolean;
  readonly connection: string[];
}

/** readStatusLine(): no line end yet. */
export const STATUS_LINE_INCOMPLETE = 0;
/** readStatusLine(): not an HTTP/1.x status line. */
export const STATUS_LINE_INVALID = -1;

/**
 * The status line at the start of `s` (`HTTP/1.x ddd[ reason]`, status 100-599): its length with
 * the line end, STATUS_LINE_INCOMPLETE while no line end has arrived (and what is there may still
 * become one), or STATUS_LINE_INVALID.
 */
function statusLineLength(s: string): number {
  const len = s.length;
  if (len < 13) {
    for (let k = 0; k < len; k++) if (!statusLinePrefixChar(s.charCodeAt(k), k)) return STATUS_LINE_INVALID;
    return STATUS_LINE_INCOMPLETE;
  }
  if (!s.startsWith('HTTP/1.') || !isDigit(s.charCodeAt(7)) || s.charCodeAt(8) !== 0x20) return STATUS_LINE_INVALID;
  const d0 = s.charCodeAt(9);
  if (d0 < 0x31 || d0 > 0x35 || !isDigit(s.charCodeAt(10)) || !isDigit(s.charCodeAt(11))) return STATUS_LINE_INVALID;
  let i = 12;
  let c = s.charCodeAt(i);
  if (c === 0x20) {
    c = s.charCodeAt(++i);
    while (VALUE_CHAR[c] === 1) c = s.charCodeAt(++i);
  }
  if (i >= len || (c === 13 && i + 1 === len)) return STATUS_LINE_INCOMPLETE;
  const eol = eolAt(s, i);
  return eol === 0 ? STATUS_LINE_INVALID : i + eol;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

export interface StatusLine {
  readonly versionMinor: 0 | 1;
  readonly status: number;
}

/**
 * The status line at the start of a response (bytes as received or a head's text), maybe only
 * its first bytes (a health check judges a peer by them): its fields, or STATUS_LINE_INCOMPLETE /
 * STATUS_LINE_INVALID.
 */
export function readStatusLine(head: Buffer | string): StatusLine | number {
  let s: string;
  if (typeof head === 'string') s = head;
  else {
    const lf = head.indexOf(10);
    s = head.toString('latin1', 0, lf === -1 ? head.length : lf + 1);
  }
  const n = statusLineLength(s);
  return n <= 0 ? n : { versionMinor: versionMinorOf(s), status: statusOf(s) };
}

/** Whether `c` may be byte `k` (< 13) of a status line: "HTTP/1.x ddd", then SP or a line end. */
function statusLinePrefixChar(c: number, k: number): boolean {
  if (k < 7) return c === 'HTTP/1.'.charCodeAt(k);
  if (k === 8) return c === 0x20;
  if (k === 9) return c >= 0x31 && c <= 0x35;
  return isDigit(c);
}

/** The status of a line statusLineLength() accepted. */
function statusOf(s: string): number {
  return (s.charCodeAt(9) - 0x30) * 100 + (s.charCodeAt(10) - 0x30) * 10 + (s.charCodeAt(11) - 0x30);
}

/** The minor version of a line statusLineLength() accepted (HTTP/1.2+ is read as 1.1). */
function versionMinorOf(s: string): 0 | 1 {
  return s.charCodeAt(7) === 0x30 ? 0 : 1;
}

/**
 * Parse a response head (complete, as HeadAccumulator gives it). `method` is the request's
 * method (HEAD responses have no body). Returns null for anything invalid (the proxy answers 502).
 * `bytes`: the head's bytes as received (HeadAccumulator.bytes; more may follow the head), which
 * the field lines are scanned over: a byte from a Uint8Array costs about half a charCodeAt
 * (issue 18). Without them they are made from `s`.
 */
export function parseResponseHead(s: string, method: string, bytes: Uint8Array | null = null): ResponseHead | null {
  const statusEnd = statusLineLength(s);
  if (statusEnd <= 0) return null;
  const b = bytes ?? headBytesOf(s);
  const status = statusOf(s);
  const reason = statusEnd > 13 ? s.slice(13, statusEnd - (s.charCodeAt(statusEnd - 2) === 13 ? 2 : 1)) : '';
  const len = s.length;
  let i = statusEnd;

  const headers: string[] = [];
  const lnames: string[] = [];
  let contentLength = -1;
  let clBad = false;
  let te: string | null = null;
  const connection: string[] = [];
  for (;;) {
    // The request parser's field-line loop (http1-request.ts), inlined in both: a shared
    // function cost ~6% of a head's parse time.
    const lineStart = i;
    if (i >= len) return null;
    let c = b[i]!;
    if (c === 13 || c === 10) {
      if (eolAtByte(b, i) === 0) return null;
      break;
    }
    while (TCHAR[c] === 1) c = b[++i]!;
    if (c !== 0x3a || i === lineStart) return null;
    const id = commonFieldName(b, lineStart, i);
    const name = id < 0 ? s.slice(lineStart, i) : commonName(id);
    c = b[++i]!;
    while (c === 0x20 || c === 0x09) c = b[++i]!;
    const vStart = i;
    let vEnd = i;
    while (VALUE_CHAR[c] === 1) {
      if (c !== 0x20 && c !== 0x09) vEnd = i + 1;
      c = b[++i]!;
    }
    const lineEnd = eolAtByte(b, i);
    if (lineEnd === 0) return null;
    const value = s.slice(vStart, vEnd);
    i += lineEnd;
    const lname = id < 0 ? name.toLowerCase() : commonLname(id);
    headers.push(name, value);
    lnames.push(lname);
    if (lname === 'content-length') {
      const n = parseContentLength(value);
      if (n < 0 || (contentLength !== -1 && n !== contentLength)) clBad = true;
      contentLength = n;
    } else if (lname === 'transfer-encoding') {
      te = te === null ? value : `${te},${value}`;
    } else if (lname === 'connection') {
      appendTokens(connection, value);
    }
  }

  const versionMinor = versionMinorOf(s);
  let keepAlive = versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
  let body: BodyKind;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) {
    body = 'none';
  } else if (te !== null) {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a final coding other than
    // chunked means the body ends when the connection closes.
    if (finalCodingIsChunked(te)) {
      body = 'chunked';
    } else {
      body = 'close';
      keepAlive = false;
    }
    contentLength = -1;
  } else if (clBad) {
    return null;
  } else if (contentLength >= 0) {
    body = 'length';
  } else {
    body = 'close';
    keepAlive = false;
  }
  return { versionMinor, status, reason, headers, lnames, contentLength, body, keepAlive, connection };
}

/** What responseHeadFault() found first in a head parseResponseHead() refused. */
export type ResponseHeadFault =
  | { readonly kind: 'status-line' }
  /** A field line: `text` is the line up to the byte it may not hold there, `bad` that byte (its line end when it has no colon). */
  | { readonly kind: 'field-line'; readonly text: string; readonly bad: number }
  /** A second Content-Length line unlike the first. */
  | { readonly kind: 'content-length'; readonly line: string; readonly previous: string };

const STATUS_LINE_FAULT: ResponseHeadFault = Object.freeze({ kind: 'status-line' });

/**
 * Why a response head was refused, for the error log (nginx names the first bad byte). Walks the
 * lines by the parser's rules (CRLF or bare LF ends); null when no single line is at fault.
 */
export function responseHeadFault(s: string): ResponseHeadFault | null {
  const statusEnd = statusLineLength(s);
  if (statusEnd <= 0) return STATUS_LINE_FAULT;
  let contentLength: string | null = null;
  for (let i = statusEnd; i < s.length; ) {
    const lf = s.indexOf('\n', i);
    const eol = lf === -1 ? s.length : lf > i && s.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
    const line = s.slice(i, eol);
    if (line === '') break;
    const colon = line.indexOf(':');
    for (let k = 0; k < line.length; k++) {
      const c = line.charCodeAt(k);
      // an empty name makes the colon itself the bad byte (nginx)
      const ok = colon < 0 || k < colon ? TCHAR[c] === 1 : k === colon ? colon > 0 : VALUE_CHAR[c] === 1;
      if (!ok) return { kind: 'field-line', text: line.slice(0, k), bad: c };
    }
    if (colon < 0) return { kind: 'field-line', text: line, bad: lf === -1 ? 13 : s.charCodeAt(eol) };
    if (line.slice(0, colon).toLowerCase() === 'content-length') {
      if (contentLength !== null && contentLength !== line) return { kind: 'content-length', line, previous: contentLength };
      contentLength = line;
    }
    if (lf === -1) break;
    i = lf + 1;
  }
  return null;
}

