/**
 * Just enough HTTP/1.x to choose the tcp server of a `websocket_pass` connection
 * (nginx_tcp_proxy_module) among those sharing a port: find the end of the first request head in
 * the bytes read so far, take the request line and Host. The connection is then served by the
 * HTTP engine (src/config/websocket-http.ts), which parses every request itself.
 */

/** nginx client_header_buffer_size-sized bound on a routed head. */
export const HTTP_HEAD_MAX_BYTES = 8 * 1024;

export interface HeaderLine {
  /** Lower-cased name. */
  readonly name: string;
  readonly value: string;
  /** Offsets of the whole line in the input (without its line ending). */
  readonly start: number;
  readonly end: number;
}

export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** The path part of the target (no query), '' for `*` and authority-form. */
  readonly path: string;
  readonly version: '1.0' | '1.1';
  /** Host without port or trailing dot, lower-cased; null when absent. */
  readonly host: string | null;
  readonly headers: readonly HeaderLine[];
  /** Length of the request line including its line ending. */
  readonly requestLineLength: number;
  /** Bytes of the head including the empty line. */
  readonly headLength: number;
}

export type HttpPeekResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'ok'; readonly head: RequestHead };

const INCOMPLETE: HttpPeekResult = Object.freeze({ kind: 'incomplete' });
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::[0-9]*)?$/;

function invalid(reason: string): HttpPeekResult {
  return { kind: 'invalid', reason };
}

/** Find the end of the head: an empty line (CRLF CRLF, or bare LF as nginx tolerates). */
function findHeadEnd(buf: Buffer, limit: number): number {
  for (let i = buf.indexOf(0x0a); i !== -1 && i < limit; i = buf.indexOf(0x0a, i + 1)) {
    if (buf[i + 1] === 0x0a) return i + 2;
    if (buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

export function parseRequestHead(buf: Buffer, maxBytes = HTTP_HEAD_MAX_BYTES): HttpPeekResult {
  const limit = Math.min(buf.length, maxBytes);
  const headLength = findHeadEnd(buf, limit);
  if (headLength === -1 || headLength > maxBytes) {
    return buf.length >= maxBytes ? invalid('request head too large') : INCOMPLETE;
  }
  const text = buf.toString('latin1', 0, headLength);
  const lines: { line: string; start: number }[] = [];
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = text[nl - 1] === '\r' ? nl - 1 : nl;
    lines.push({ line: text.slice(pos, end), start: pos });
    pos = nl + 1;
  }
  lines.pop(); // the empty line
  if (lines.length === 0) return invalid('empty request');
  const requestLine = lines[0]!.line;
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return invalid('bad request line');
  const [method, target, proto] = parts as [string, string, string];
  if (!TOKEN.test(method)) return invalid('bad method');
  if (proto !== 'HTTP/1.1' && proto !== 'HTTP/1.0') return invalid('unsupported HTTP version');
  if (target === '' || /[\x00-\x20\x7f]/.test(target)) return invalid('bad request target');
  const headers: HeaderLine[] = [];
  let host: string | null = null;
  let hostSeen = false;
  for (let k = 1; k < lines.length; k++) {
    const { line, start } = lines[k]!;
    const colon = line.indexOf(':');
    // Obsolete line folding (leading whitespace) is a request-smuggling vector: refuse it.
    if (colon <= 0) return invalid('bad header line');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return invalid('bad header name');
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return invalid('bad header value');
    const lower = name.toLowerCase();
    headers.push({ name: lower, value, start, end: start + line.length });
    if (lower === 'host') {
      if (hostSeen) return invalid('duplicate Host header');
      hostSeen = true;
      host = normaliseHost(value);
      if (host === null) return invalid('bad Host header');
    }
  }
  let path: string;
  if (target.startsWith('/')) {
    path = pathOf(target);
  } else if (/^https?:\/\//i.test(target) || /^wss?:\/\//i.test(target)) {
    // absolute-form: its authority overrides Host (RFC 9112 section 3.2.2).
    const afterScheme = target.indexOf('//') + 2;
    const slash = target.indexOf('/', afterScheme);
    const authority = target.slice(afterScheme, slash === -1 ? target.length : slash);
    host = normaliseHost(authority);
    if (host === null) return invalid('bad host in request target');
    path = slash === -1 ? '/' : pathOf(target.slice(slash));
  } else if (target === '*' || method === 'CONNECT') {
    path = '';
  } else {
    return invalid('bad request target');
  }
  if (proto === 'HTTP/1.1' && !hostSeen) return invalid('missing Host header');
  return {
    kind: 'ok',
    head: {
      method,
      target,
      path,
      version: proto === 'HTTP/1.1' ? '1.1' : '1.0',
      host,
      headers,
      requestLineLength: text.indexOf('\n') + 1,
      headLength,
    },
  };
}

function pathOf(target: string): string {
  const q = target.search(/[?#]/);
  return q === -1 ? target : target.slice(0, q);
}

/** "Example.TEST:8081" → "example.test"; "[::1]:80" → "[::1]"; invalid → null. */
export function normaliseHost(value: string): string | null {
  if (!HOST.test(value)) return null;
  let host = value;
  if (host.startsWith('[')) host = host.slice(0, host.indexOf(']') + 1);
  else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.includes('..') || host.startsWith('.')) return null;
  return host.toLowerCase();
}
