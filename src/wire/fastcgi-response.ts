/**
 * The CGI response a FastCGI responder writes to STDOUT (RFC 3875 §6): header lines (CRLF or a
 * bare LF), a blank line, then the body. `Status: 404 Not Found` sets the status; without it a
 * `Location` makes a 302 and anything else is a 200 (nginx's reading). The head comes out as a
 * ResponseHead, so the client side of a FastCGI response is the one of a proxied response.
 */
import { parseResponseHead, type BodyKind, type ResponseHead } from './http1-response.js';

/** CgiHeadReader.push(): the head is not complete yet. */
export const CGI_HEAD_PENDING = 0;
/** CgiHeadReader.push(): the head outgrew the limit (nginx: "upstream sent too big header"). */
export const CGI_HEAD_TOO_BIG = 1;

/** Collects STDOUT bytes until the blank line that ends the CGI head. */
export class CgiHeadReader {
  /** After a complete head: the bytes of the chunk given last that follow it (a view), else null. */
  after: Buffer | null = null;
  #text = '';
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  reset(): void {
    this.#text = '';
    this.after = null;
  }

  /** The whole head's text (its blank line included), or CGI_HEAD_PENDING / CGI_HEAD_TOO_BIG. */
  push(data: Buffer): string | typeof CGI_HEAD_PENDING | typeof CGI_HEAD_TOO_BIG {
    const before = this.#text.length;
    const text = this.#text + data.toString('latin1');
    // The blank line may start in the bytes kept from before: look from a little earlier.
    const from = Math.max(0, before - 3);
    const end = headEnd(text, from);
    if (end < 0) {
      if (text.length > this.#maxBytes) return CGI_HEAD_TOO_BIG;
      this.#text = text;
      return CGI_HEAD_PENDING;
    }
    if (end > this.#maxBytes) return CGI_HEAD_TOO_BIG;
    this.#text = '';
    const used = end - before;
    this.after = used < data.length ? data.subarray(used) : null;
    return text.slice(0, end);
  }
}

/** Where the head ends (just after its blank line), or -1. */
function headEnd(s: string, from: number): number {
  // A head that is only a blank line ends at once.
  if (from === 0) {
    if (s.startsWith('\r\n')) return 2;
    if (s.startsWith('\n')) return 1;
  }
  for (let i = s.indexOf('\n', from); i >= 0; i = s.indexOf('\n', i + 1)) {
    if (s.charCodeAt(i + 1) === 10) return i + 2;
    if (s.charCodeAt(i + 1) === 13 && s.charCodeAt(i + 2) === 10) return i + 3;
  }
  return -1;
}

/** parseCgiHead(): a line that is no header (nginx: "upstream sent invalid header"). */
export const CGI_INVALID_HEADER = 1;
/** parseCgiHead(): a Status whose first three characters are no status (nginx: "upstream sent invalid status"). */
export const CGI_INVALID_STATUS = 2;

/** The field lines of a CGI head are an HTTP/1.1 head's: they are parsed as one, after this status line. */
const CGI_STATUS_LINE = 'HTTP/1.1 200 OK\r\n';

/**
 * A CGI head (as CgiHeadReader gives it) as the response head the client gets. The Status field
 * is read and dropped; `method` HEAD, and 204/304, have no body; a body without Content-Length
 * is 'chunked' (the caller frames it).
 */
export function parseCgiHead(s: string, method: string): ResponseHead | typeof CGI_INVALID_HEADER | typeof CGI_INVALID_STATUS {
  const parsed = parseResponseHead(CGI_STATUS_LINE + s, method);
  if (parsed === null) return CGI_INVALID_HEADER;
  const { headers, lnames } = parsed;
  let status = 0;
  let reason = '';
  for (let k = lnames.indexOf('status'); k >= 0; k = lnames.indexOf('status')) {
    const value = headers[2 * k + 1]!;
    // nginx: ngx_atoi of the first three characters, the rest is the reason phrase.
    if (!/^\d{3}/.test(value) || Number(value.slice(0, 3)) < 100) return CGI_INVALID_STATUS;
    status = Number(value.slice(0, 3));
    reason = value.slice(3).trim();
    headers.splice(2 * k, 2);
    lnames.splice(k, 1);
  }
  if (status === 0) status = lnames.includes('location') ? 302 : 200;
  let body: BodyKind;
  if (method === 'HEAD' || status === 204 || status === 304 || status < 200) body = 'none';
  else body = parsed.body === 'length' ? 'length' : 'chunked';
  return { ...parsed, status, reason, body, keepAlive: true };
}
