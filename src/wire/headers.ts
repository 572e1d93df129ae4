/**
 * What every HTTP/1 head codec shares (RFC 9110 §5, RFC 9112 §2.2 and §5): character classes as
 * lookup tables, line ends, the framing fields' rules, and lookups over the flat
 * `[name, value, ...]` arrays heads keep. Pure: strings in, numbers out.
 */
import { MAX_CHUNK_SIZE } from '../constants.js';

/** RFC 9110 tchar: what a field name, a method or a chunk trailer name is made of. */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Classes of a request header name's characters (headerNameTable). */
export const NAME_VALID = 1;
/** A character that makes the name invalid: the header is ignored (ignore_invalid_headers on). */
export const NAME_INVALID = 2;

/**
 * nginx's request header name rules as a table (checked with nginx 1.22):
 * ignore_invalid_headers on (default): letters, digits and '-' (and '_' with
 * underscores_in_headers) are valid; any other visible character or obs-text makes the header
 * invalid and it is ignored. Off: a token (tchar) name passes whole, '_' included whatever
 * underscores_in_headers says. Space, controls and ':' end the name either way (a 400 unless
 * ':' is next).
 */
export function headerNameTable(underscores: boolean, ignoreInvalid: boolean): Uint8Array {
  if (!ignoreInvalid) return TCHAR;
  const t = new Uint8Array(256);
  for (let c = 0x21; c <= 0xff; c++) if (c !== 0x3a && c !== 0x7f) t[c] = NAME_INVALID;
  for (let c = 0x30; c <= 0x39; c++) t[c] = NAME_VALID;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = NAME_VALID;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = NAME_VALID;
  t[0x2d] = NAME_VALID;
  if (underscores) t[0x5f] = NAME_VALID;
  return t;
}

/** True when a header name is one the table marks invalid (for heads not parsed from text: HTTP/2). */
export function isInvalidHeaderName(name: string, table: Uint8Array): boolean {
  for (let i = 0; i < name.length; i++) if (table[name.charCodeAt(i)] !== NAME_VALID) return true;
  return false;
}

/** Method characters as nginx accepts them (uppercase letters, '_' and '-'), a subset of tchar. */
export const METHOD_CHAR = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) METHOD_CHAR[c] = 1;
METHOD_CHAR[0x5f] = 1;
METHOD_CHAR[0x2d] = 1;

/** Request-target bytes: visible ASCII and obs-text (nginx passes raw UTF-8 through). */
export const TARGET_CHAR = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET_CHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) TARGET_CHAR[c] = 1;

/** Every character of `s` is in `table` (one of the classes here; a code above 0xff never is). */
export function allCharsIn(table: Uint8Array, s: string): boolean {
  for (let i = 0; i < s.length; i++) if (table[s.charCodeAt(i)] !== 1) return false;
  return true;
}

/** field-vchar / SP / HTAB / obs-text: what a field value (or a reason phrase) may hold. */
export const VALUE_CHAR = new Uint8Array(256);
VALUE_CHAR[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE_CHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE_CHAR[c] = 1;

/**
 * The length of the line end at `i` of `s`: 2 for CRLF, 1 for a bare LF, 0 for anything else
 * (a bare CR included). Heads accept both ends (RFC 9112 §2.2 lets a recipient take a bare LF;
 * nginx does, in requests and in upstream responses); a bare CR is always refused.
 */
export function eolAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 10) return 1;
  return c === 13 && s.charCodeAt(i + 1) === 10 ? 2 : 0;
}

/** eolAt() over a head's bytes (`b[i]` past the end is undefined: no line end). */
export function eolAtByte(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === 10) return 1;
  return c === 13 && b[i + 1] === 10 ? 2 : 0;
}

const ABOVE_LATIN1 = /[^\x00-\xff]/;

/**
 * The bytes of a head given as text, for a parser that scans bytes: a head read from a socket is
 * latin1, one char per byte. A char above U+00FF (text built by hand) becomes NUL, a byte no head
 * rule accepts anywhere, just as the char itself is accepted nowhere: the verdict is the text's.
 */
export function headBytesOf(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  if (ABOVE_LATIN1.test(s)) for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) b[i] = 0;
  return b;
}

/** The value of the first header named `lname` (lowercase), or null. */
export function headerValue(head: { readonly headers: readonly string[]; readonly lnames: readonly string[] }, lname: string): string | null {
  const idx = head.lnames.indexOf(lname);
  return idx === -1 ? null : head.headers[2 * idx + 1]!;
}

/** Append the lowercased members of a comma-separated token list (Connection, Upgrade) to `out`. */
export function appendTokens(out: string[], value: string): void {
  // The usual single token, as sent: no list split per head (Connection on every response).
  if (value === 'keep-alive' || value === 'close' || value === 'upgrade') {
    out.push(value);
    return;
  }
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '') out.push(t);
  }
}

const DIGITS_ONLY = /^[0-9]+$/;

/** Content-Length: "5" or "5, 5" (identical list members collapse); anything else is -1. */
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

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** A request's Transfer-Encoding (all its fields joined by ","): exactly `chunked`, nothing else. */
export function isExactlyChunked(te: string): boolean {
  let start = 0;
  let end = te.length;
  while (start < end && isOws(te.charCodeAt(start))) start++;
  while (end > start && isOws(te.charCodeAt(end - 1))) end--;
  return end - start === 7 && te.slice(start, end).toLowerCase() === 'chunked';
}

/** A response's Transfer-Encoding: whether its final coding is chunked (RFC 9112 §6.3). */
export function finalCodingIsChunked(te: string): boolean {
  const codings = te.split(',');
  return codings[codings.length - 1]!.trim().toLowerCase() === 'chunked';
}
