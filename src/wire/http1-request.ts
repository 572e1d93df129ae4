/**
 * HTTP/1.1 request heads (RFC 9112 §3 and §6), as HeadAccumulator hands them over: one latin1
 * string scanned once with charCodeAt. Headers stay a flat [name, value, ...] array as received,
 * with a parallel array of lowercased names for lookups.
 *
 * Line ends are CRLF or a bare LF (nginx takes both, mixed too); a bare CR anywhere is a 400, as
 * in nginx. This opens no smuggling door: what goes on (upstream, back to a client) is always
 * re-serialised with CRLF from the parsed fields, and the Content-Length / Transfer-Encoding rules
 * and chunk framing (chunked.ts, CRLF only) stay strict.
 */
import type { HeadLimits } from './head-accumulator.js';
import { commonFieldName, commonLname, commonName } from './field-names.js';
import { appendTokens, eolAt, eolAtByte, headBytesOf, isExactlyChunked, METHOD_CHAR, NAME_INVALID, parseContentLength, TARGET_CHAR, TCHAR, VALUE_CHAR } from './headers.js';
import { ASTERISK_FORM, nonOriginTarget, validHost } from './request-target.js';

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

/**
 * Parse a complete request head (as given by HeadAccumulator). Returns the head or an error
 * status: 400, 405 (CONNECT/TRACE), 414, 431, 505.
 */
export function parseRequestHead(s: string, limits: HeadLimits, bytes: Uint8Array | null = null): RequestHead | number {
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
  const connection: string[] = [];
  let upgradeValue: string | null = null;
  let expectContinue = false;
  const nameChars = limits.headerNames ?? TCHAR;
  const b = bytes ?? headBytesOf(s);
  const maxHeaders = limits.maxHeaders ?? Infinity;
  let lines = 0;

  for (;;) {
    const lineStart = i;
    if (i >= len) return 400;
    let c = b[i]!;
    if (c === 13 || c === 10) {
      if (eolAtByte(b, i) === 0) return 400;
      break;
    }
    // classes are bits (1 valid, 2 invalid): or-ing them costs no branch per character
    let classes = 0;
    let k: number;
    while ((k = nameChars[c]!) > 0) {
      classes |= k;
      c = b[++i]!;
    }
    if (c !== 0x3a || i === lineStart) return 400; // obs-fold, space before ':', bad name
    const nameEnd = i;
    c = b[++i]!;
    while (c === 0x20 || c === 0x09) c = b[++i]!;
    const vStart = i;
    let vEnd = i;
    while (VALUE_CHAR[c] === 1) {
      if (c !== 0x20 && c !== 0x09) vEnd = i + 1;
      c = b[++i]!;
    }
    const lineEnd = eolAtByte(b, i);
    if (lineEnd === 0) return 400; // bare CR, NUL, other controls
    if (i - lineStart > limits.headerLineBytes) return 431;
    i += lineEnd;
    // nginx (max_headers, 1.27.2): too many lines is a 400; an invalid name is ignored (nginx logs it at info).
    if (++lines > maxHeaders) return 400;
    if ((classes & NAME_INVALID) !== 0) continue;
    const value = s.slice(vStart, vEnd);
    const id = commonFieldName(b, lineStart, nameEnd);
    const name = id < 0 ? s.slice(lineStart, nameEnd) : commonName(id);
    const lname = id < 0 ? name.toLowerCase() : commonLname(id);
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
    const other = nonOriginTarget(method, target);
    if (other === null) return 400;
    if (other !== ASTERISK_FORM) {
      host = other.host;
      target = other.target;
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
