/**
 * Values computed from variables, made safe to write into a head. Heads are written as latin1
 * strings, one byte per char, and variables can carry client bytes: $uri and regex captures are
 * percent-decoded, so `%0d%0a` is a CR LF in them, and a decoded UTF-8 char such as U+010A would
 * lose its high byte on the way out and become a bare LF. Either would let a request split our
 * response headers (or the upstream request). nginx 1.22 writes such values as they are
 * (`return 302 http://x$uri` with `%0d%0aSet-Cookie:...` sets a cookie there); we never do.
 *
 * Chars above U+00FF can only come from percent-decoded UTF-8, so a value holding one is written
 * as its UTF-8 bytes. Chars up to U+00FF are bytes as received and stay as they are.
 */

/** Anything needing work: C0 controls but HTAB, DEL, and chars that are not one latin1 byte. */
const UNSAFE_IN_HEADER = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;
/** The same for a URL: space and HTAB too (a request line ends a target at a space). */
const UNSAFE_IN_TARGET = /[\x00-\x20\x7f\u0100-\uffff]/;
const WIDE = /[\u0100-\uffff]/;
const HEADER_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f]+/g;
const LOCATION_CONTROLS = /[\x00-\x1f\x7f]/g;
const TARGET_CONTROLS = /[\x00-\x20\x7f]/g;

/** The UTF-8 bytes of `v` as a latin1 string, when it holds a char above U+00FF. */
function asBytes(v: string): string {
  return WIDE.test(v) ? Buffer.from(v, 'utf8').toString('latin1') : v;
}

function percent(ch: string): string {
  const c = ch.charCodeAt(0);
  return `%${c < 16 ? '0' : ''}${c.toString(16).toUpperCase()}`;
}

/** A header value (proxy_set_header, add_header, proxy_redirect): controls become a space. */
export function headerSafe(v: string): string {
  if (!UNSAFE_IN_HEADER.test(v)) return v;
  return asBytes(v).replace(HEADER_CONTROLS, ' ');
}

/** A Location value (return, rewrite, error_page redirects): controls are percent-encoded. */
export function locationSafe(url: string): string {
  if (!UNSAFE_IN_HEADER.test(url)) return url;
  return asBytes(url).replace(LOCATION_CONTROLS, percent);
}

/** A request target built from variables: controls and spaces are percent-encoded. */
export function targetSafe(target: string): string {
  if (!UNSAFE_IN_TARGET.test(target)) return target;
  return asBytes(target).replace(TARGET_CONTROLS, percent);
}

/** A body as the latin1 string of its UTF-8 bytes (so its length is its Content-Length). */
export function bodyBytes(body: string): string {
  return NON_ASCII.test(body) ? Buffer.from(body, 'utf8').toString('latin1') : body;
}

const NON_ASCII = /[^\x00-\x7f]/;
