/**
 * Locally generated responses: nginx-style error pages, `return`, redirects and the status page.
 * A response head is built as one string and written with the body in one socket.write.
 */
import { SERVER_NAME, STATUS_TEXT } from '../constants.js';
import { VERSION } from '../version.js';
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

/** The Server and Date lines every local response starts with. */
export function localHeadLines(serverTokens: boolean): string {
  return `Server: ${serverTokens ? SERVER_WITH_VERSION : SERVER_NAME}\r\nDate: ${httpDate()}\r\n`;
}

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? (status < 400 ? 'OK' : status < 500 ? 'Bad Request' : 'Internal Server Error');
}

const errorPages = new Map<number, string>();

/** nginx's built-in page for an error status (the same markup, tsproxy's name in the footer). */
export function errorPage(status: number): string {
  let page = errorPages.get(status);
  if (page === undefined) {
    const title = `${status} ${statusText(status)}`;
    page =
      `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n` +
      `<hr><center>${SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n`;
    errorPages.set(status, page);
  }
  return page;
}

/** Whether a response with this status carries a body at all (RFC 9110 §6.4.1). */
export function statusHasBody(status: number): boolean {
  return status >= 200 && status !== 204 && status !== 304;
}

export interface LocalResponse {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: string;
  /** Extra header lines, each ending in CRLF. */
  readonly headers: string;
}

/**
 * The bytes of a local response. `head` suppresses the body (HEAD requests) but keeps its length.
 * `keepAlive` decides the Connection header; HTTP/1.0 clients get a 1.1 status line as nginx sends.
 */
export function renderLocal(res: LocalResponse, keepAlive: boolean, head: boolean, serverTokens = true): { text: string; bodyBytes: number } {
  const hasBody = statusHasBody(res.status);
  // The head goes out as latin1: the body as the latin1 string of its UTF-8 bytes, so that its
  // Content-Length is the number of bytes written.
  const body = hasBody ? asBodyBytes(res.body) : '';
  const bodyBytes = body.length;
  let text = `HTTP/1.1 ${res.status} ${statusText(res.status)}\r\n${localHeadLines(serverTokens)}`;
  if (hasBody) {
    if (res.contentType !== null) text += `Content-Type: ${res.contentType}\r\n`;
    text += `Content-Length: ${bodyBytes}\r\n`;
  }
  text += res.headers;
  text += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
  if (hasBody && !head) text += body;
  return { text, bodyBytes: head ? 0 : bodyBytes };
}

export function errorResponse(status: number, headers = ''): LocalResponse {
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
  return { status: 400, contentType: 'text/html', body, headers: '' };
}

/** `return 301 URL` / redirects: nginx sends its error-page markup with a Location header. */
export function redirectResponse(status: number, location: string, headers = ''): LocalResponse {
  const title = `${status} ${statusText(status)}`;
  const body =
    `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n` +
    `<hr><center>${SERVER_NAME}</center>\r\n</body>\r\n</html>\r\n`;
  // The URL may hold decoded client bytes ($uri, captures): they must not split the head.
  return { status, contentType: 'text/html', body, headers: `Location: ${locationSafe(location)}\r\n${headers}` };
}

export const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** nginx absolute_redirect: a relative Location becomes scheme://host[:port]/path. */
export function absoluteLocation(url: string, scheme: string, host: string, port: number): string {
  if (url.charCodeAt(0) !== 0x2f) return url;
  const defaultPort = scheme === 'https' ? 443 : 80;
  return `${scheme}://${host}${port === defaultPort || port === 0 ? '' : `:${port}`}${url}`;
}
