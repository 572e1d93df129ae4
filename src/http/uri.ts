/**
 * Request-target handling: split off the query, read absolute-form targets, and normalize the
 * path into nginx's $uri (percent-decoded, dot segments resolved, slashes merged). Locations
 * match on the normalized form, so `/a/%2e%2e/b` can never escape a `location /a/` check.
 */

export interface SplitTarget {
  readonly path: string;
  /** Everything after the first '?', '' when there is none (nginx $args). */
  readonly args: string;
}

export function splitTarget(target: string): SplitTarget {
  const q = target.indexOf('?');
  if (q === -1) return { path: target, args: '' };
  return { path: target.slice(0, q), args: target.slice(q + 1) };
}

export interface AbsoluteTarget {
  /** The scheme as written, lowercased (nginx accepts any; it does not change $scheme). */
  readonly scheme: string;
  /** The authority as written ("example.test:8080"); it wins over the Host header (RFC 9112 3.2.2). */
  readonly host: string;
  /** Path and query, "/" when the target had no path. */
  readonly target: string;
}

/**
 * `scheme://host[:port][/path][?q]` → its parts; null when the target is not in absolute form or
 * its authority is not a valid host (validHost, exactly as a Host header: userinfo, an empty host,
 * bad ports and brackets are refused, as nginx refuses them).
 */
export function parseAbsoluteTarget(target: string): AbsoluteTarget | null {
  if (target.charCodeAt(0) === 0x2f /* / */) return null;
  const m = ABSOLUTE_FORM.exec(target);
  if (m === null) return null;
  const authority = m[2]!;
  if (!validHost(authority)) return null;
  let rest = m[3]!;
  if (rest === '' || rest.charCodeAt(0) === 0x3f /* ? */) rest = '/' + rest;
  return { scheme: m[1]!.toLowerCase(), host: authority, target: rest };
}

/** RFC 3986 scheme, then the authority up to the path or query. */
const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/;

/** reg-name characters (and pct-encoded's '%'); '_' too, as nginx accepts it in Host. */
const NAME_CHAR = new Uint8Array(256);
for (const c of "-._~!$&'()*+,;=%") NAME_CHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) NAME_CHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) NAME_CHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) NAME_CHAR[c] = 1;

/** Inside `[...]`: IPv6 (with an embedded IPv4) literals. */
const LITERAL_CHAR = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF:.') LITERAL_CHAR[c.charCodeAt(0)] = 1;

/**
 * A Host header value or an absolute-form authority: `name[:port]` or `[literal][:port]`. The
 * name has no leading dot and no `..` (either would let a Host name a parent domain or escape a
 * path built from it; one trailing dot is allowed and dropped by normalizeHost, as nginx does);
 * a port is at most 65535 (an empty one is allowed, as nginx does). Never userinfo, spaces,
 * slashes, controls or unbalanced brackets.
 */
export function validHost(host: string): boolean {
  const len = host.length;
  let i = 0;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    i = 1;
    while (i < len && LITERAL_CHAR[host.charCodeAt(i)] === 1) i++;
    if (i === 1 || host.charCodeAt(i) !== 0x5d /* ] */) return false;
    i++;
  } else {
    if (host.charCodeAt(0) === 0x2e /* . */) return false;
    let prevDot = false;
    while (i < len) {
      const c = host.charCodeAt(i);
      if (c === 0x3a /* : */) break;
      if (NAME_CHAR[c] !== 1) return false;
      const dot = c === 0x2e;
      if (dot && prevDot) return false;
      prevDot = dot;
      i++;
    }
    if (i === 0) return false;
  }
  if (i === len) return true;
  if (host.charCodeAt(i) !== 0x3a) return false;
  const port = len - i - 1;
  if (port === 0) return true;
  if (port > 5) return false;
  let n = 0;
  for (let k = i + 1; k < len; k++) {
    const d = host.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return false;
    n = n * 10 + d;
  }
  return n <= 65535;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Percent-decode; null on a bad escape or a decoded NUL. Non-UTF-8 byte runs decode as latin1. */
function percentDecode(s: string): string | null {
  let bytes: number[] | null = null;
  let out = '';
  let high = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x25 /* % */) {
      if (c === 0) return null;
      if (bytes !== null) {
        if (c < 0x80) bytes.push(c);
        else {
          // a raw non-ASCII char inside a run of escapes: flush the run first
          out += decodeBytes(bytes, high);
          bytes = null;
          high = false;
          out += s[i];
        }
      } else out += s[i];
      continue;
    }
    if (i + 2 >= s.length) return null;
    const h = hexValue(s.charCodeAt(i + 1));
    const l = hexValue(s.charCodeAt(i + 2));
    if (h < 0 || l < 0) return null;
    const b = (h << 4) | l;
    if (b === 0) return null;
    if (b < 0x80 && bytes === null) {
      out += String.fromCharCode(b);
    } else {
      bytes ??= [];
      bytes.push(b);
      if (b >= 0x80) high = true;
    }
    i += 2;
  }
  if (bytes !== null) out += decodeBytes(bytes, high);
  return out;
}

function decodeBytes(bytes: number[], high: boolean): string {
  if (!high) return String.fromCharCode(...bytes);
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return String.fromCharCode(...bytes);
  }
}

/**
 * The request path (no query) → nginx's normalized $uri, or null when the request must get 400:
 * not starting with '/', an invalid %xx, a decoded NUL, or `..` above the root.
 * A trailing `.`/`..` segment leaves a trailing slash, as nginx does (`/a/b/..` → `/a/`).
 */
export function normalizeUri(rawPath: string): string | null {
  if (rawPath.charCodeAt(0) !== 0x2f) return null;
  // Most paths need no work: return them as they are, without allocating.
  if (!rawPath.includes('%') && !rawPath.includes('//') && !rawPath.includes('/.')) {
    return rawPath.includes('\0') ? null : rawPath;
  }
  const decoded = percentDecode(rawPath);
  if (decoded === null) return null;
  if (decoded.charCodeAt(0) !== 0x2f) return null;
  const segments = decoded.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // segments[0] is the empty string before the leading '/'
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '' || seg === '.') {
      trailingSlash = true;
    } else if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      trailingSlash = true;
    } else {
      out.push(seg);
      trailingSlash = false;
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}
