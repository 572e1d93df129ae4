/**
 * Locally generated responses: nginx-style error pages, `return`, redirects and the status page.
 * Their heads are written field by field into a HeadWriter: the client's transport (one string
 * written with the body in one socket write on HTTP/1.1, one headers object on HTTP/2), or a
 * text head for the answers a connection gives before any request exists (renderLocal).
 */
import { SERVER_NAME } from '../constants.js';
import { errorPage, statusText } from '../wire/error-page.js';

export { errorPage, statusText };
import { VERSION } from '../version.js';
import { FieldLines } from './headers.js';
import type { HeadWriter } from './transport.js';
import { bodyBytes as asBodyBytes, locationSafe } from '../wire/head-text.js';

/** The Server header value: `server_tokens on` (the default) adds the version, as nginx. */
export const SERVER_WITH_VERSION = `${SERVER_NAME}/${VERSION}`;

let dateSecond = -1;
let dateText = '';

/** The Date header value, formatted at most once per second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** The Server and Date fields every local response starts with. */
export function writeServerFields(w: HeadWriter, serverTokens: boolean): void {
  w.field('Server', serverTokens ? SERVER_WITH_VERSION : SERVER_NAME);
  w.field('Date', httpDate());
}


/** Whether a response with this status carries a body at all (RFC 9110 §6.4.1). */
export function statusHasBody(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

/** No extra header fields. */
export const NO_FIELDS: readonly string[] = Object.freeze([]);

export interface LocalResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
  /** Extra header fields, flat [name, value, ...]. */
  readonly headers: readonly string[];
}

/**
 * The body of a local response as the latin1 string of its UTF-8 bytes (the head goes out as
 * latin1, so its length is its Content-Length), null when its status has none.
 */
export function localBody(res: LocalResponse): string | null {
  return statusHasBody(res.status) ? asBodyBytes(res.body) : null;
}

/**
 * Writes a local response's status line and fields (Server, Date, Content-Type, Content-Length,
 * its own): everything but add_header and the transport's own (Connection). `body` is localBody().
 * HTTP/1.0 clients get a 1.1 status line as nginx sends.
 */
export function writeLocalHead(w: HeadWriter, res: LocalResponse, body: string | null, serverTokens: boolean): void {
  w.status(res.status, statusText(res.status));
  writeServerFields(w, serverTokens);
  if (body !== null) {
    if (res.contentType !== null) w.field('Content-Type', res.contentType);
    w.field('Content-Length', `${body.length}`);
  }
  const fields = res.headers;
  for (let i = 0; i < fields.length; i += 2) w.field(fields[i]!, fields[i + 1]!);
}

/** An HTTP/1.1 head as text: status line and field lines (a transport adds Connection and the blank line). */
export class HeadText extends FieldLines implements HeadWriter {
  status(code: number, reason: string): void {
    this.text = `HTTP/1.1 ${code} ${reason}\r\n`;
  }
}

/**
 * The bytes of a local response sent without a request to route (a malformed head, plain HTTP on
 * a TLS port): always `Connection: close`.
 */
export function renderLocal(res: LocalResponse): string {
  const head = new HeadText();
  const body = localBody(res);
  writeLocalHead(head, res, body, true);
  return `${head.text}Connection: close\r\n\r\n${body ?? ''}`;
}

export function errorResponse(status: number, headers: readonly string[] = NO_FIELDS): LocalResponse {
  return { status, contentType: 'text/html', body: status >= 400 ? errorPage(status) : '', headers };
}

/**
 * nginx's 495 / 496 / 497 pages: status 400 with the reason as title and a second line
 * (`ssl_verify_client`: a certificate that failed verification / none when one is required;
 * a plain HTTP request on a TLS port).
 */
export function sslErrorResponse(kind: 'cert' | 'nocert' | 'plain'): LocalResponse {
  const reason = kind === 'cert' ? 'The SSL certificate error'
    : kind === 'nocert' ? 'No required SSL certificate was sent' : 'The plain HTTP request was sent to HTTPS port';
  const body =
    `<html>\r\n<head><title>400 ${reason}</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n` +
    `<center>${reason}</center>\r\n<hr><center>${SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n`;
  return { status: 400, contentType: 'text/html', body, headers: NO_FIELDS };
}

/** `return 301 URL` / redirects: nginx sends its error-page markup with a Location header. */
export function redirectResponse(status: number, location: string): LocalResponse {
  // nginx's page for the status: "302 Found" as title, though the status line says "Moved Temporarily"
  const body = errorPage(status);
  // The URL may hold decoded client bytes ($uri, captures): they must not split the head.
  return { status, contentType: 'text/html', body, headers: ['Location', locationSafe(location)] };
}

export const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** nginx absolute_redirect: a relative Location becomes scheme://host[:port]/path. */
export function absoluteLocation(url: string, scheme: string, host: string, port: number): string {
  if (url.charCodeAt(0) !== 0x2f) return url;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${port === defaultPort || port === 0 ? '' : `:${port}`}${url}`;
}
