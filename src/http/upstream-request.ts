/**
 * The upstream request head, built once per request as one string: request line (proxy_method,
 * the proxy_pass URI rule, proxy_http_version), rewritten headers, framing and Connection.
 */
import { buildRequestHeaders } from './headers.js';
import { headerValue } from './parser.js';
import type { ProxyPlan } from './plan.js';
import type { HttpRequest } from './request.js';
// Pure encoders shared with the stream proxy (no state, no I/O).
import { encodeProxyV1, encodeProxyV2 } from '../tcp/proxy-protocol.js';

/** The PROXY protocol header (`proxy_protocol on`) a new upstream connection starts with. */
export function proxyProtocolHeader(
  version: number,
  r: HttpRequest,
  conn: { readonly remotePort: number; readonly serverAddr: string; readonly serverPort: number },
): Buffer {
  const e = { sourceAddress: r.remoteAddr, sourcePort: conn.remotePort, destinationAddress: conn.serverAddr, destinationPort: conn.serverPort };
  return version === 1 ? encodeProxyV1(e) : encodeProxyV2(e);
}

/** `dynamicUri`: the URI part of an evaluated `proxy_pass http://$var/...`, sent as it is (nginx). */
export function buildUpstreamHead(proxy: ProxyPlan, r: HttpRequest, proxyHost = proxy.proxyHost, dynamicUri: string | null = null): string {
  const head = r.head;
  const method = proxy.method === null ? head.method : proxy.method(r);
  let uri: string;
  if (r.uriChanged) {
    // nginx: a URI changed by rewrite goes out whole; proxy_pass's own URI part is ignored.
    uri = escapePath(r.uri);
    if (r.args !== '') uri += `?${r.args}`;
  } else if (dynamicUri !== null) {
    uri = dynamicUri;
  } else if (proxy.replacement !== null && proxy.prefix !== null && r.uri.startsWith(proxy.prefix)) {
    // DESIGN.md: `proxy_pass http://up/x/;` replaces the matched location prefix with /x/.
    uri = proxy.replacement + escapePath(r.uri.slice(proxy.prefix.length));
    if (r.args !== '') uri += `?${r.args}`;
  } else {
    // No URI in proxy_pass: the request URI goes out exactly as the client sent it.
    uri = head.target;
  }
  // An HTTP/1.0 client cannot take a chunked response: ask the upstream in 1.0 as well.
  const v10 = proxy.http10 || head.versionMinor === 0;
  let text = `${method} ${uri} ${v10 ? 'HTTP/1.0' : 'HTTP/1.1'}\r\n`;
  text += buildRequestHeaders(proxy.reqHeaders, head, { clientAddress: r.remoteAddr, scheme: r.scheme, proxyHost }, r);
  if (!proxy.passBody) {
    // proxy_pass_request_body off: the body is read and dropped, so no framing goes out.
  } else if (head.chunked) text += 'Transfer-Encoding: chunked\r\n';
  else if (head.contentLength >= 0) text += `Content-Length: ${head.contentLength}\r\n`;
  if (head.upgrade !== null) text += `Upgrade: ${headerValue(head, 'upgrade')!}\r\nConnection: upgrade\r\n\r\n`;
  else text += v10 || proxy.keepalive <= 0 ? 'Connection: close\r\n\r\n' : 'Connection: keep-alive\r\n\r\n';
  return text;
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
