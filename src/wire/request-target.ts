/**
 * The authority of a request (RFC 9112 §3.2): a Host header value or the authority of an
 * absolute-form target, checked alike (as nginx checks them), and the name servers are matched by.
 */

export interface AbsoluteTarget {
  /** The scheme as written, lowercased (nginx accepts any; it does not change $scheme). */
  readonly scheme: string;
  /** The authority as written ("example.test:8080"); it wins over the Host header (RFC 9112 3.2.2). */
  readonly host: string;
  /** Path and query, "/" when the target had no path. */
  readonly target: string;
}

/** nonOriginTarget: the asterisk form (`OPTIONS *`), which keeps the Host. */
export const ASTERISK_FORM = 'asterisk';

/**
 * A request target not in origin form ("/..."), the same for HTTP/1 and HTTP/2: `*` (OPTIONS
 * only) keeps the Host; an absolute-form target gives its authority and path, and the authority
 * wins over Host (RFC 9112 §3.2.2, nginx). null: the request is a 400.
 */
export function nonOriginTarget(method: string, target: string): AbsoluteTarget | typeof ASTERISK_FORM | null {
  if (target === '*') return method === 'OPTIONS' ? ASTERISK_FORM : null;
  return parseAbsoluteTarget(target);
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
 * path built from it; one trailing dot is allowed and dropped by hostName, as nginx does);
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

/**
 * A host validHost accepted → the name it is matched against server names by: the port dropped
 * (`[::1]:80` keeps its brackets), one trailing dot removed, lowercased.
 */
export function hostName(host: string): string {
  let end: number;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    end = host.indexOf(']') + 1;
  } else {
    const colon = host.indexOf(':');
    end = colon === -1 ? host.length : colon;
    if (host.charCodeAt(end - 1) === 0x2e /* . */) end--;
  }
  return host.slice(0, end).toLowerCase();
}
