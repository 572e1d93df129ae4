/**
 * Field names most heads carry, as constants: a parser that meets one spelled exactly so takes the
 * constant and its lowercase form instead of slicing the name out of the head and lowercasing it.
 * Constants are internalized strings whose hash V8 keeps, so the lookups that follow (the hidden
 * header Set, `switch (lname)`, the Connection-token checks) hash nothing again (issue 18).
 *
 * Only the exact spellings below match; any other goes the general way (slice, lowercase), so a
 * parser returns equal strings either way.
 */
const NAMES = [
  // responses
  'Server', 'Date', 'Content-Type', 'Content-Length', 'Connection', 'ETag', 'Etag', 'Cache-Control',
  'Last-Modified', 'Accept-Ranges', 'Transfer-Encoding', 'Location', 'Set-Cookie', 'Vary', 'Expires',
  'Content-Encoding', 'Keep-Alive', 'Pragma', 'Age', 'Via', 'Link', 'X-Powered-By',
  'Access-Control-Allow-Origin', 'Strict-Transport-Security', 'X-Frame-Options', 'X-Content-Type-Options',
  // requests
  'Host', 'User-Agent', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Cookie', 'Referer', 'Origin',
  'Authorization', 'If-None-Match', 'If-Modified-Since', 'Upgrade', 'X-Forwarded-For', 'X-Real-IP',
  'X-Forwarded-Proto', 'Expect',
  // senders that write names in lowercase (node:http's setHeader callers, HTTP/2 habits)
  'host', 'user-agent', 'accept', 'content-type', 'content-length', 'connection', 'date', 'server',
  'etag', 'cache-control', 'transfer-encoding', 'keep-alive',
];

/** The lowercase form of each name, same index. */
const LNAMES = NAMES.map((n) => n.toLowerCase());

/** The bytes of each name, same index: compared in place (a String startsWith call costs more than the loop). */
const BYTES = NAMES.map((n) => Buffer.from(n, 'latin1'));

/** Indices into NAMES by name length. */
const BY_LENGTH: number[][] = [];
for (let id = 0; id < NAMES.length; id++) {
  const len = NAMES[id]!.length;
  while (BY_LENGTH.length <= len) BY_LENGTH.push([]);
  BY_LENGTH[len]!.push(id);
}

/** The id of the common name spelled exactly as the head's bytes `b` have it from `start` to `end`, or -1. */
export function commonFieldName(b: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len >= BY_LENGTH.length) return -1;
  const ids = BY_LENGTH[len]!;
  for (let k = 0; k < ids.length; k++) {
    const id = ids[k]!;
    const name = BYTES[id]!;
    let j = 0;
    while (j < len && b[start + j] === name[j]) j++;
    if (j === len) return id;
  }
  return -1;
}

/** The name of an id commonFieldName() returned. */
export function commonName(id: number): string {
  return NAMES[id]!;
}

/** The lowercase name of an id commonFieldName() returned. */
export function commonLname(id: number): string {
  return LNAMES[id]!;
}
