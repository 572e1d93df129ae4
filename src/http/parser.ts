/**
 * The HTTP/1.1 wire parser (RFC 9112): request heads from clients, response heads from upstreams.
 * Pure and allocation-light: a head is located with one Buffer.indexOf per line, turned into one
 * latin1 string and scanned once with charCodeAt. Headers stay a flat [name, value, ...] array as
 * received, with a parallel array of lowercased names for lookups.
 *
 * Line endings: CRLF or a bare LF (RFC 9112 §2.2 allows a recipient to accept LF; nginx does, in
 * requests and in upstream responses, mixed too). A bare CR anywhere in a head is a 400, as in
 * nginx. This opens no smuggling door: what goes upstream (and back to the client) is always
 * re-serialised with CRLF from the parsed fields, and the Content-Length / Transfer-Encoding rules
 * and chunk framing (chunked.ts, CRLF only) stay strict.
 */
import { MAX_CHUNK_SIZE } from '../constants.js';
import { parseAbsoluteTarget, validHost } from './uri.js';

export interface HeadLimits {
  /** Longest request line in bytes (414 beyond it). */
  readonly requestLineBytes: number;
  /** Longest single header line in bytes (431 beyond it). */
  readonly headerLineBytes: number;
  /** Longest whole head in bytes (431 beyond it). */
  readonly headBytes: number;
}

export interface RequestHead {
  readonly method: string;
  /** origin-form target (path + query) after reducing absolute-form; "*" for OPTIONS *. */
  readonly target: string;
  /** The target as the request line had it ($request): the absolute form when one was sent, else `target`. */
  readonly rawTarget: string;
  readonly versionMinor: 0 | 1;
  /** Flat [name, value, ...] as received (values trimmed of OWS). */
  readonly headers: string[];
  /** Lowercased names, lnames[i] belongs to headers[2 * i]. */
  readonly lnames: string[];
  /**
   * The absolute-form authority when the target has one (it wins over Host, RFC 9112 §3.2.2, as in
   * nginx), else the Host header value; null when neither (HTTP/1.0 only). Never ''.
   */
  readonly host: string | null;
  /** -1 when there is no Content-Length. */
  readonly contentLength: number;
  readonly chunked: boolean;
  readonly keepAlive: boolean;
  /** Lowercased tokens of the Connection header(s); [] when absent. */
  readonly connection: string[];
  /** Lowercased Upgrade value when Connection lists "upgrade" and Upgrade is present, else null. */
  readonly upgrade: string | null;
  readonly expectContinue: boolean;
}

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

// Character classes as lookup tables (built once).
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Method characters as nginx accepts them (uppercase letters, '_' and '-'), a subset of tchar. */
const METHOD_CHAR = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) METHOD_CHAR[c] = 1;
METHOD_CHAR[0x5f] = 1;
METHOD_CHAR[0x2d] = 1;

/** field-vchar / SP / HTAB / obs-text. */
const VALUE_CHAR = new Uint8Array(256);
VALUE_CHAR[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE_CHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE_CHAR[c] = 1;

/** Request-target bytes: visible ASCII and obs-text (nginx passes raw UTF-8 through). */
const TARGET_CHAR = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET_CHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TARGET_CHAR[c] = 1;

const DIGITS_ONLY = /^[0-9]+$/;

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
  rest: Buffer | null = null;
  #pending: Buffer | null = null;

  get pendingBytes(): number {
    return this.#pending === null ? 0 : this.#pending.length;
  }

  reset(): void {
    this.#pending = null;
    this.rest = null;
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
    const headEnd = findHeadEnd(buf);
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
function findHeadEnd(buf: Buffer): number {
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

/**
 * The length of the line end at `i` of `s`: 2 for CRLF, 1 for a bare LF, 0 for anything else
 * (a bare CR included).
 */
function eolAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 10) return 1;
  return c === 13 && s.charCodeAt(i + 1) === 10 ? 2 : 0;
}

/**
 * Parse a complete request head (as given by HeadAccumulator). Returns the head or an error
 * status: 400, 405 (CONNECT/TRACE), 414, 431, 505.
 */
export function parseRequestHead(s: string, limits: HeadLimits): RequestHead | number {
  const len = s.length;
  let i = 0;
  // method
  while (i < len && METHOD_CHAR[s.charCodeAt(i)] === 1) i++;
  if (i === 0 || i >= len || s.charCodeAt(i) !== 0x20) return badLine(s, limits);
  const method = s.slice(0, i);
  const tStart = ++i;
  while (i < len && TARGET_CHAR[s.charCodeAt(i)] === 1) i++;
  if (i === tStart || i >= len || s.charCodeAt(i) !== 0x20) return badLine(s, limits);
  let target = s.slice(tStart, i);
  i++;
  // "HTTP/" DIGIT "." DIGIT CRLF (or LF)
  const eol = i + 9 > len ? 0 : eolAt(s, i + 8);
  if (eol === 0) return badLine(s, limits);
  if (s.slice(i, i + 5) !== 'HTTP/' || s.charCodeAt(i + 6) !== 0x2e) return 400;
  const major = s.charCodeAt(i + 5) - 0x30;
  const minor = s.charCodeAt(i + 7) - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return 400;
  if (i + 8 > limits.requestLineBytes) return 414;
  if (major !== 1) return major === 0 ? 400 : 505;
  const versionMinor: 0 | 1 = minor === 0 ? 0 : 1;
  i += 8 + eol;

  const headers: string[] = [];
  const lnames: string[] = [];
  let host: string | null = null;
  let hostCount = 0;
  let contentLength = -1;
  let clSeen = false;
  let te: string | null = null;
  let connection: string[] = [];
  let upgradeValue: string | null = null;
  let expectContinue = false;

  for (;;) {
    const lineStart = i;
    if (i >= len) return 400;
    let c = s.charCodeAt(i);
    if (c === 13 || c === 10) {
      if (eolAt(s, i) === 0) return 400;
      break;
    }
    while (TCHAR[c] === 1) c = s.charCodeAt(++i);
    if (c !== 0x3a || i === lineStart) return 400; // obs-fold, space before ':', bad name
    const name = s.slice(lineStart, i);
    c = s.charCodeAt(++i);
    while (c === 0x20 || c === 0x09) c = s.charCodeAt(++i);
    const vStart = i;
    let vEnd = i;
    while (VALUE_CHAR[c] === 1) {
      if (c !== 0x20 && c !== 0x09) vEnd = i + 1;
      c = s.charCodeAt(++i);
    }
    const lineEnd = eolAt(s, i);
    if (lineEnd === 0) return 400; // bare CR, NUL, other controls
    if (i - lineStart > limits.headerLineBytes) return 431;
    const value = s.slice(vStart, vEnd);
    i += lineEnd;
    const lname = name.toLowerCase();
    headers.push(name, value);
    lnames.push(lname);
    switch (lname) {
      case 'host':
        if (++hostCount > 1) return 400;
        host = value;
        break;
      case 'content-length': {
        const n = parseContentLength(value);
        if (n < 0 || (clSeen && n !== contentLength)) return 400;
        clSeen = true;
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        te = te === null ? value : `${te},${value}`;
        break;
      case 'connection':
        appendTokens(connection, value);
        break;
      case 'upgrade':
        upgradeValue = value.toLowerCase();
        break;
      case 'expect':
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        break;
    }
  }

  if (method === 'CONNECT' || method === 'TRACE') return 405;
  // nginx: HTTP/1.1 needs a Host header (absolute-form or not); an empty or invalid one is a 400
  // in any version (the Host is checked even when an absolute-form authority replaces it).
  if (host === null ? versionMinor === 1 : !validHost(host)) return 400;
  const rawTarget = target;
  if (target.charCodeAt(0) !== 0x2f) {
    if (target === '*') {
      if (method !== 'OPTIONS') return 400;
    } else {
      // RFC 9112 §3.2.2 (and nginx): the absolute-form authority wins over Host.
      const abs = parseAbsoluteTarget(target);
      if (abs === null) return 400;
      host = abs.host;
      target = abs.target;
    }
  }

  let chunked = false;
  if (te !== null) {
    // RFC 9112 §6.1: only "chunked" as the sole coding is forwardable by us; TE with CL or in
    // HTTP/1.0 is the classic smuggling vector, so both are refused outright.
    if (versionMinor === 0 || clSeen) return 400;
    if (!isExactlyChunked(te)) return 400;
    chunked = true;
  }
  const close = connection.includes('close');
  const keepAlive = versionMinor === 1 ? !close : !close && connection.includes('keep-alive');
  const upgrade = upgradeValue !== null && connection.includes('upgrade') ? upgradeValue : null;
  return {
    method,
    target,
    rawTarget,
    versionMinor,
    headers,
    lnames,
    host,
    contentLength,
    chunked,
    keepAlive,
    connection,
    upgrade,
    expectContinue,
  };
}

/** A request line that failed to parse is a 414 when it is also overlong (nginx order). */
function badLine(s: string, limits: HeadLimits): number {
  const lf = s.indexOf('\n');
  const end = lf > 0 && s.charCodeAt(lf - 1) === 13 ? lf - 1 : lf;
  return end > limits.requestLineBytes ? 414 : 400;
}

/** "5" or "5, 5" (identical list members collapse); anything else is -1. */
export function parseContentLength(value: string): number {
  if (DIGITS_ONLY.test(value)) {
    if (value.length > 15) return -1;
    return Number(value);
  }
  let n = -1;
  for (const part of value.split(',')) {
    const p = part.trim();
    if (!DIGITS_ONLY.test(p) || p.length > 15) return -1;
    const v = Number(p);
    if (n !== -1 && v !== n) return -1;
    n = v;
  }
  return n > MAX_CHUNK_SIZE ? -1 : n;
}

function isExactlyChunked(te: string): boolean {
  let start = 0;
  let end = te.length;
  while (start < end && (te.charCodeAt(start) === 0x20 || te.charCodeAt(start) === 0x09)) start++;
  while (end > start && (te.charCodeAt(end - 1) === 0x20 || te.charCodeAt(end - 1) === 0x09)) end--;
  return end - start === 7 && te.slice(start, end).toLowerCase() === 'chunked';
}

function appendTokens(out: string[], value: string): void {
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '') out.push(t);
  }
}

/**
 * Parse an upstream response head. `method` is the request's method (HEAD responses have no body).
 * Returns null for anything invalid (the proxy answers 502).
 */
export function parseResponseHead(s: string, method: string): ResponseHead | null {
  const len = s.length;
  if (len < 14 || !s.startsWith('HTTP/1.') || s.charCodeAt(8) !== 0x20) return null;
  const minor = s.charCodeAt(7) - 0x30;
  if (minor < 0 || minor > 9) return null;
  const d0 = s.charCodeAt(9) - 0x30;
  const d1 = s.charCodeAt(10) - 0x30;
  const d2 = s.charCodeAt(11) - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return null;
  const status = d0 * 100 + d1 * 10 + d2;
  let i = 12;
  let reason = '';
  let c = s.charCodeAt(i);
  if (c === 0x20) {
    const rStart = ++i;
    c = s.charCodeAt(i);
    while (VALUE_CHAR[c] === 1) c = s.charCodeAt(++i);
    reason = s.slice(rStart, i);
  }
  const statusEol = eolAt(s, i);
  if (statusEol === 0) return null;
  i += statusEol;

  const headers: string[] = [];
  const lnames: string[] = [];
  let contentLength = -1;
  let clBad = false;
  let te: string | null = null;
  const connection: string[] = [];
  for (;;) {
    const lineStart = i;
    if (i >= len) return null;
    c = s.charCodeAt(i);
    if (c === 13 || c === 10) {
      if (eolAt(s, i) === 0) return null;
      break;
    }
    while (TCHAR[c] === 1) c = s.charCodeAt(++i);
    if (c !== 0x3a || i === lineStart) return null;
    const name = s.slice(lineStart, i);
    c = s.charCodeAt(++i);
    while (c === 0x20 || c === 0x09) c = s.charCodeAt(++i);
    const vStart = i;
    let vEnd = i;
    while (VALUE_CHAR[c] === 1) {
      if (c !== 0x20 && c !== 0x09) vEnd = i + 1;
      c = s.charCodeAt(++i);
    }
    const lineEnd = eolAt(s, i);
    if (lineEnd === 0) return null;
    const value = s.slice(vStart, vEnd);
    i += lineEnd;
    const lname = name.toLowerCase();
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

  const versionMinor: 0 | 1 = minor === 0 ? 0 : 1;
  let keepAlive = versionMinor === 1 ? !connection.includes('close') : connection.includes('keep-alive');
  let body: BodyKind;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) {
    body = 'none';
  } else if (te !== null) {
    // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length; a final coding other than
    // chunked means the body ends when the connection closes.
    const codings = te.split(',');
    if (codings[codings.length - 1]!.trim().toLowerCase() === 'chunked') {
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

/** The value of the first header named `lname` (lowercase), or null. */
export function headerValue(head: { headers: string[]; lnames: string[] }, lname: string): string | null {
  const idx = head.lnames.indexOf(lname);
  return idx === -1 ? null : head.headers[2 * idx + 1]!;
}
