/**
 * The Host of the first request on a `websocket_pass` connection (nginx_tcp_proxy_module): it
 * chooses the tcp server among those sharing a port, whose allow/deny and TLS then apply. The
 * connection is served by the HTTP engine (src/config/websocket-http.ts), which parses every
 * request itself, with the same parser (src/wire/): a head refused here would be refused there.
 */
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../wire/head-accumulator.js';
import { parseRequestHead } from '../wire/http1-request.js';
import { hostName } from '../wire/request-target.js';

/** nginx client_header_buffer_size-sized bounds on a routed head. */
const PEEK_LIMITS: HeadLimits = Object.freeze({ requestLineBytes: 8192, headerLineBytes: 8192, headBytes: 8192 });

export type HttpPeek =
  | { readonly kind: 'incomplete' }
  /** The parser's answer to a head it refuses (400, 405, 414, 431, 505). */
  | { readonly kind: 'invalid'; readonly status: number }
  /** `host`: lowercased, port and trailing dot dropped; null for HTTP/1.0 without Host. */
  | { readonly kind: 'ok'; readonly host: string | null };

const INCOMPLETE: HttpPeek = Object.freeze({ kind: 'incomplete' });

/** Judge the bytes read so far from a connection: a first request head, or not yet. */
export function peekRequestHost(buf: Buffer): HttpPeek {
  const acc = new HeadAccumulator();
  const rc = acc.push(buf, PEEK_LIMITS);
  if (rc === HEAD_NEED_MORE) return INCOMPLETE;
  if (rc !== HEAD_READY) return { kind: 'invalid', status: rc };
  const head = parseRequestHead(acc.head, PEEK_LIMITS, acc.bytes);
  if (typeof head === 'number') return { kind: 'invalid', status: head };
  return { kind: 'ok', host: head.host === null ? null : hostName(head.host) };
}
