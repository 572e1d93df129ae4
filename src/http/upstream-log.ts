/**
 * How a proxied request's failures read in the error log: nginx's wording ("connect() failed
 * (111: Connection refused) while connecting to upstream") and nginx's context (`*connection`,
 * client, server, request, upstream URL, host), which the error-log layout renders as
 *
 *   ... [error] 1234#0: *5 connect() failed (111: Connection refused) while connecting to
 *   upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1",
 *   upstream: "http://127.0.0.1:1/", host: "localhost"
 *
 * (checked against nginx 1.22 with ask-nginx). Only called on the error path: nothing here
 * runs for a request that succeeds.
 */
import { systemErrorText, type ErrorCode } from '../errors.js';
import { headerValue } from '../wire/headers.js';
import { responseHeadFault } from '../wire/http1-response.js';
import type { UpstreamConn } from './pool.js';
import type { HttpRequest } from './request.js';

export interface RequestLogContext {
  code?: ErrorCode;
  connection: number;
  client: string;
  server: string;
  request: string;
  /** An auth_request subrequest's URI (nginx prints it after the request). */
  subrequest?: string;
  upstream?: string;
  host?: string;
}

/**
 * The request's error-log context. `upstreamHost` is the peer ("127.0.0.1:8081") or, when no peer
 * was chosen, the upstream group's name (nginx: `upstream: "http://app/path"`); `upstreamHead`
 * the request head sent (or to be sent) upstream, whose request line gives the URI.
 */
export function requestLogContext(r: HttpRequest, code?: ErrorCode, scheme?: string, upstreamHost?: string, upstreamHead?: string): RequestLogContext {
  const head = r.head;
  const ctx: RequestLogContext = {
    ...(code === undefined ? {} : { code }),
    connection: r.connectionId,
    client: r.remoteAddr,
    server: r.serverName,
    request: `${head.method} ${head.rawTarget} HTTP/${r.httpVersion}`,
  };
  if (r.parent !== null) ctx.subrequest = r.uri;
  if (scheme !== undefined && upstreamHost !== undefined) ctx.upstream = `${scheme}://${upstreamHost}${upstreamHead === undefined ? '' : upstreamUri(upstreamHead)}`;
  const host = headerValue(head, 'host');
  if (host !== null) ctx.host = host;
  return ctx;
}

/** The URI of an upstream request head ("GET /x HTTP/1.1\r\n..." → "/x"). */
function upstreamUri(head: string): string {
  const eol = head.indexOf('\r\n');
  const start = head.indexOf(' ') + 1;
  const end = head.lastIndexOf(' ', eol);
  return start > 0 && end > start ? head.slice(start, end) : '';
}

/** What a try was doing, in nginx's words: "... while <phase>". */
export function upstreamPhase(up: UpstreamConn, readingBody: boolean): string {
  if (!up.tcpConnected) return 'connecting to upstream';
  if (!up.connected) return 'SSL handshaking to upstream';
  return readingBody ? 'reading upstream' : 'reading response header from upstream';
}

/** nginx's warning when a failure takes a peer out for fail_timeout (max_fails reached). */
export function disabledMessage(up: UpstreamConn | null, readingBody: boolean): string {
  return `upstream server temporarily disabled while ${up === null ? 'connecting to upstream' : upstreamPhase(up, readingBody)}`;
}

export function timeoutMessage(up: UpstreamConn, readingBody: boolean): string {
  return `upstream timed out (110: Connection timed out) while ${upstreamPhase(up, readingBody)}`;
}

/** nginx names the system call that failed; Node says read/write for what nginx does with recv/writev. */
const SYSCALLS: Readonly<Record<string, string>> = { read: 'recv', write: 'writev' };

/** The log message of an upstream connection lost before a response head. */
export function closeMessage(up: UpstreamConn, err: Error | null): string {
  const phase = upstreamPhase(up, false);
  if (up.tls !== null && up.tcpConnected && !up.connected) {
    return `upstream SSL handshake failed (${err === null ? 'connection closed' : tlsReason(err)}) while ${phase}`;
  }
  if (err === null) return `upstream prematurely closed connection while ${phase}`;
  const syscall = (err as NodeJS.ErrnoException).syscall ?? (up.tcpConnected ? 'recv' : 'connect');
  return `${SYSCALLS[syscall] ?? syscall}() failed (${systemErrorText(err)}) while ${phase}`;
}

/** A verification or handshake error as nginx-like text: OpenSSL's code and message. */
function tlsReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === undefined || err.message.includes(code) ? err.message : `${code}: ${err.message}`;
}

function hex(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * Why a response head was refused, in nginx's words: a bad status line is "upstream sent no valid
 * HTTP/1.0 header"; a bad header line is `upstream sent invalid header: "<the line up to the bad
 * byte>\xHH..."` (nginx prints the bytes before the bad one, then the bad one in hex); differing
 * Content-Length lines are a duplicate header. `head` is null when no whole head arrived.
 */
export function invalidResponseMessage(head: string | null, tooBig: boolean): string {
  const phase = ' while reading response header from upstream';
  if (tooBig) return `upstream sent too big header${phase}`;
  const fault = head === null ? null : responseHeadFault(head);
  switch (fault?.kind) {
    case 'status-line':
      return `upstream sent no valid HTTP/1.0 header${phase}`;
    case 'field-line':
      return `upstream sent invalid header: "${fault.text.replace(/[^\x20-\x7e]/g, hex)}${hex(String.fromCharCode(fault.bad))}..."${phase}`;
    case 'content-length':
      return `upstream sent duplicate header line: "${fault.line}", previous value: "${fault.previous}"${phase}`;
    default:
      return `upstream sent invalid header${phase}`;
  }
}
