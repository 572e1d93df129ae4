/**
 * The upstream request head, built once per request as one string: request line (proxy_method,
 * the proxy_pass URI rule, proxy_http_version), rewritten headers, framing, Upgrade and Connection.
 *
 * Upgrades: a client's `Upgrade: websocket` is forwarded by itself (tsproxy's default: WebSocket
 * just works); any other Upgrade (curl's and Java's `h2c`, ...) is not, since nginx forwards none
 * unless configured and an h2c upgrade that a backend accepts would tunnel the client past every
 * location rule. `proxy_set_header Upgrade ...` keeps nginx's meaning: that value is sent.
 */
import type net from 'node:net';
import { buildRequestHeaders, setValue } from './headers.js';
import { headerValue } from '../wire/headers.js';
import type { ProxyPlan } from './plan.js';
import { BODY_CHUNKED, BODY_STREAM, type HttpRequest } from './request.js';
import { targetSafe } from '../wire/head-text.js';
// Pure encoders shared with the stream proxy (no state, no I/O).
import { encodeProxyV1, encodeProxyV2 } from '../wire/proxy-protocol.js';

/**
 * The PROXY protocol header (`proxy_protocol on`) a new upstream connection starts with: the
 * client address (after realip) and the connection's own port.
 */
export function proxyProtocolHeader(version: number, r: HttpRequest): Buffer {
  const e = { sourceAddress: r.remoteAddr, sourcePort: r.realipRemotePort, destinationAddress: r.serverAddr, destinationPort: r.serverPort };
  return version === 1 ? encodeProxyV1(e) : encodeProxyV2(e);
}

export interface UpstreamHead {
  readonly text: string;
  /**
   * The upgrade asked of the upstream (lowercased tokens of the Upgrade sent), when the client
   * asked for one and the request carries `Connection: upgrade`; a 101 must name one of them.
   * Null when a 101 cannot be relayed.
   */
  readonly upgrade: readonly string[] | null;
  /** The Connection sent lets the upstream connection be reused (not close, not upgrade). */
  readonly reusable: boolean;
}

/** `dynamicUri`: the URI part of an evaluated `proxy_pass http://$var/...`, sent as it is (nginx). */
export function buildUpstreamHead(proxy: ProxyPlan, r: HttpRequest, proxyHost = proxy.proxyHost, dynamicUri: string | null = null, keepalive = proxy.keepalive): UpstreamHead {
  const head = r.head;
  const sub = r.parent !== null && !r.ownHead;
  // An auth_request subrequest is a GET of its own URI (nginx), its head the client's.
  const method = proxy.method !== null ? targetSafe(proxy.method(r)) : sub ? 'GET' : head.method;
  const uri = upstreamUri(proxy, r, dynamicUri);
  // proxy_http_version whatever the client speaks (nginx): a chunked answer to an HTTP/1.0
  // client is de-chunked on its way out (proxy.ts).
  const v10 = proxy.http10;
  let text = `${method} ${uri} ${v10 ? 'HTTP/1.0' : 'HTTP/1.1'}\r\n`;
  text += buildRequestHeaders(proxy.reqHeaders, head, { clientAddress: r.remoteAddr, scheme: r.scheme, proxyHost }, r);
  if (!proxy.passBody || sub) {
    // proxy_pass_request_body off: the body is read and dropped, so no framing goes out.
    // A subrequest has no body (nginx would send the client's Content-Length and no body).
  } else if (r.body === BODY_CHUNKED || r.body === BODY_STREAM) {
    // An HTTP/2 body without content-length goes chunked (proxy.ts frames its DATA).
    text += 'Transfer-Encoding: chunked\r\n';
  }
  else if (head.contentLength >= 0) text += `Content-Length: ${head.contentLength}\r\n`;
  const plan = proxy.reqHeaders;
  const upgrade = plan.upgrade !== null ? setValue(plan.upgrade, r) : head.upgrade === 'websocket' ? headerValue(head, 'upgrade')! : '';
  const explicit = plan.connection === null ? '' : setValue(plan.connection, r);
  if (upgrade !== '') text += `Upgrade: ${upgrade}\r\n`;
  if (explicit === '') {
    // Ours: an upgrade, else keep-alive when the connection may be pooled.
    const close = v10 || keepalive <= 0;
    if (upgrade !== '') text += 'Connection: upgrade\r\n\r\n';
    else text += close ? 'Connection: close\r\n\r\n' : 'Connection: keep-alive\r\n\r\n';
    return { text, upgrade: upgrade !== '' && head.upgrade !== null ? tokens(upgrade) : null, reusable: upgrade === '' && !close };
  }
  // proxy_set_header Connection: honoured as written (`close` from nginx's websocket map too).
  text += `Connection: ${explicit}\r\n\r\n`;
  const options = tokens(explicit);
  const upgrading = upgrade !== '' && head.upgrade !== null && options.includes('upgrade');
  return { text, upgrade: upgrading ? tokens(upgrade) : null, reusable: !options.includes('close') && !options.includes('upgrade') };
}

/**
 * Write a request head and the body bytes received before it went out (null: none) to an
 * upstream socket, in one writev; returns the bytes written.
 */
export function writeUpstreamRequest(s: net.Socket, head: string, held: readonly Buffer[] | null): number {
  if (held === null) {
    s.write(head, 'latin1');
    return head.length;
  }
  let bytes = head.length;
  s.cork();
  s.write(head, 'latin1');
  for (const b of held) {
    s.write(b);
    bytes += b.length;
  }
  s.uncork();
  return bytes;
}

/** Lowercased comma-separated tokens. */
function tokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t !== '') out.push(t);
  }
  return out;
}

/** A 101 switches to what was asked: its Upgrade names only protocols the request offered. */
export function upgradeMatches(asked: readonly string[], answered: string | null): boolean {
  if (answered === null) return false;
  const got = tokens(answered);
  return got.length > 0 && got.every((t) => asked.includes(t));
}

/** websocket_pass path: matches the first path segment exactly (/chat matches /chat/1, not /chatroom). */
export function firstSegmentIs(uri: string, path: string): boolean {
  const p = path.charCodeAt(0) === 0x2f ? path : `/${path}`;
  return uri === p || uri.startsWith(p.endsWith('/') ? p : `${p}/`);
}

const UNSAFE_PATH = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/** Re-escape a decoded path for the upstream request line. */
export function escapePath(path: string): string {
  if (!UNSAFE_PATH.test(path)) return path;
  let out = '';
  for (const ch of path) {
    if (UNSAFE_PATH.test(ch)) {
      for (const b of Buffer.from(ch, 'utf8')) out += `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
    } else out += ch;
  }
  return out;
}

/** The request target sent upstream (after the proxy_pass URL, nginx's default proxy_cache_key). */
export function upstreamUri(proxy: ProxyPlan, r: HttpRequest, dynamicUri: string | null): string {
  const sub = r.parent !== null && !r.ownHead;
  let uri: string;
  if ((r.uriChanged && (proxy.replacement === null || r.broke)) || (sub && proxy.replacement === null && dynamicUri === null)) {
    // nginx: a URI changed by `rewrite ... break` goes out whole, proxy_pass's own URI part
    // ignored; after `last` (or an internal redirect) the location found again replaces its
    // prefix as for any request (valid_location; checked with ask-nginx).
    uri = currentUri(r);
  } else if (dynamicUri !== null) {
    // Variables ($uri, captures) hold decoded bytes: a CR LF or a space must not split the line.
    uri = targetSafe(dynamicUri) || '/';
  } else if (proxy.replacement !== null && proxy.prefix !== null && r.uri.startsWith(proxy.prefix)) {
    // DESIGN.md: `proxy_pass http://up/x/;` replaces the matched location prefix with /x/.
    uri = proxy.replacement + escapePath(r.uri.slice(proxy.prefix.length));
    if (r.args !== '') uri += `?${r.args}`;
  } else if (r.uriChanged) {
    uri = currentUri(r);
  } else {
    // No URI in proxy_pass: the request URI goes out exactly as the client sent it.
    uri = r.head.target;
  }
  return uri;
}

/** The request's URI as it is now (after rewrite or a redirect), escaped, with its args. */
function currentUri(r: HttpRequest): string {
  return r.args === '' ? escapePath(r.uri) : `${escapePath(r.uri)}?${r.args}`;
}
