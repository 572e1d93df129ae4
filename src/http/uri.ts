/**
 * Request-target handling: split off the query and normalize the path into nginx's $uri
 * (percent-decoded, dot segments resolved, slashes merged). Locations match on the normalized
 * form, so `/a/%2e%2e/b` can never escape a `location /a/` check. Absolute-form targets and Host
 * values are read by the head parser (src/wire/request-target.ts).
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
