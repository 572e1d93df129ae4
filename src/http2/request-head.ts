/**
 * An HTTP/2 request's header block as the engine's request head (http/parser.ts RequestHead),
 * built straight from the fields node's http2 hands over: no HTTP/1.1 text in between. It is
 * checked by the rules the HTTP/1.1 parser applies to a request line and fields (method and target
 * characters, field values, Content-Length, Host), so a request is refused alike whichever
 * protocol carried it, with the same limits (large_client_header_buffers: 414 for the
 * `:method :path` line, 431 for a field or the whole head, each counted as its HTTP/1.1 line
 * would be).
 *
 * `:authority` is the Host (else a host field); fields that are specific to an HTTP/1.1
 * connection (Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade) are dropped. The head says
 * HTTP/1.1 without keep-alive: one request per stream.
 */
import type http2 from 'node:http2';
import type { HeadLimits } from '../wire/head-accumulator.js';
import { HOP_BY_HOP_HEADERS } from '../constants.js';
import { allCharsIn, isInvalidHeaderName, METHOD_CHAR, parseContentLength, TARGET_CHAR, TCHAR, VALUE_CHAR } from '../wire/headers.js';
import type { RequestHead } from '../wire/http1-request.js';
import { ASTERISK_FORM, nonOriginTarget, validHost } from '../wire/request-target.js';

/** Fields of an HTTP/1.1 connection, not of an HTTP/2 request (RFC 9113 §8.2.2); Host comes from :authority. */
const SKIPPED: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'host']);

/** `CRLF` after each line, `: ` in a field line, ` HTTP/1.1` after the target. */
const LINE_END = 2;
const FIELD_SEPARATOR = 2;
const VERSION_PART = 9;

/** A request head made from HTTP/2 fields; `bytes` is its size as HTTP/1.1 text ($request_length). */
export interface Http2RequestHead extends RequestHead {
  readonly bytes: number;
}

/**
 * The request head of `headers`, or the status to refuse it with (400, 405, 414, 431), as the
 * HTTP/1.1 parser would answer the same request.
 */
export function http2RequestHead(headers: http2.IncomingHttpHeaders, limits: HeadLimits): Http2RequestHead | number {
  const method = headers[':method'] ?? '';
  const path = headers[':path'] ?? (method === 'CONNECT' ? headers[':authority'] : undefined);
  let host: string | null = headers[':authority'] ?? (typeof headers.host === 'string' ? headers.host : null);
  const lineBytes = method.length + 1 + (path?.length ?? 0) + VERSION_PART;
  const list: string[] = [];
  const lnames: string[] = [];
  let bytes = lineBytes + LINE_END;
  let longestField = 0;
  let bad = false;
  if (host !== null) {
    const value = trimOws(host);
    bytes += 4 + FIELD_SEPARATOR + value.length + LINE_END;
    longestField = 4 + FIELD_SEPARATOR + value.length;
    if (!allCharsIn(VALUE_CHAR, value)) bad = true;
    list.push('host', value);
    lnames.push('host');
    host = value;
  }
  let contentLength = -1;
  let expectContinue = false;
  // underscores_in_headers / ignore_invalid_headers / max_headers apply to HTTP/2 fields as to
  // HTTP/1.1 lines (nginx checks both the same way); TCHAR: every token name passes.
  const nameRules = limits.headerNames ?? TCHAR;
  let fields = host === null ? 0 : 1;
  // Object.keys, not for-in: node's header object has no prototype and is in dictionary mode,
  // where for-in re-checks every key (half of this function's time, profiled).
  const names = Object.keys(headers);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name.charCodeAt(0) === 0x3a) continue;
    const field = headers[name];
    if (field === undefined) continue;
    const values = typeof field === 'string' ? null : field;
    const count = values === null ? 1 : values.length;
    fields += count;
    if (SKIPPED.has(name)) continue;
    if (!allCharsIn(TCHAR, name)) bad = true;
    else if (nameRules !== TCHAR && isInvalidHeaderName(name, nameRules)) continue;
    for (let k = 0; k < count; k++) {
      const value = trimOws(values === null ? (field as string) : values[k]!);
      const length = name.length + FIELD_SEPARATOR + value.length;
      bytes += length + LINE_END;
      if (length > longestField) longestField = length;
      if (!allCharsIn(VALUE_CHAR, value)) bad = true;
      list.push(name, value);
      lnames.push(name);
      if (name === 'content-length') {
        const n = parseContentLength(value);
        if (n < 0 || (contentLength !== -1 && n !== contentLength)) bad = true;
        contentLength = n;
      } else if (name === 'expect' && value.toLowerCase() === '100-continue') {
        expectContinue = true;
      }
    }
  }
  bytes += LINE_END;
  if (fields > (limits.maxHeaders ?? Infinity)) bad = true;
  // The parser's order: the whole head, the request line, then the fields and their values.
  if (bytes > limits.headBytes) return lineBytes > limits.requestLineBytes ? 414 : 431;
  if (path === undefined || path === '' || !allCharsIn(METHOD_CHAR, method) || !allCharsIn(TARGET_CHAR, path)) return lineBytes > limits.requestLineBytes ? 414 : 400;
  if (lineBytes > limits.requestLineBytes) return 414;
  if (bad) return 400;
  if (longestField > limits.headerLineBytes) return 431;
  // nginx refuses CONNECT over HTTP/2 as a bad request (checked with nginx 1.22), TRACE as on HTTP/1.1.
  if (method === 'CONNECT') return 400;
  if (method === 'TRACE') return 405;
  if (host === null || !validHost(host)) return 400;
  let target = path;
  if (target.charCodeAt(0) !== 0x2f) {
    const other = nonOriginTarget(method, target);
    if (other === null) return 400;
    if (other !== ASTERISK_FORM) {
      host = other.host;
      target = other.target;
    }
  }
  return {
    method,
    target,
    rawTarget: path,
    versionMinor: 1,
    headers: list,
    lnames,
    host,
    contentLength,
    chunked: false,
    keepAlive: false,
    connection: [],
    upgrade: null,
    expectContinue,
    bytes,
  };
}

/** A value without leading and trailing SP / HTAB (the HTTP/1.1 parser trims OWS). */
function trimOws(v: string): string {
  const n = v.length;
  if (n === 0) return v;
  const first = v.charCodeAt(0);
  const last = v.charCodeAt(n - 1);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return v;
  return v.replace(/^[ \t]+|[ \t]+$/g, '');
}
