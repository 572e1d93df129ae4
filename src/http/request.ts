/**
 * The per-request object: what variables and access logs read (RequestInfo), filled in as the
 * request moves through routing and proxying. One plain class so every request has the same
 * hidden class.
 */
import type { Captures, RequestInfo } from './variables.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { TlsInfo } from '../tls/info.js';
import type { UpstreamAttempts } from '../upstream/attempts.js';

export class HttpRequest implements RequestInfo {
  readonly head: RequestHead;
  readonly method: string;
  readonly requestUri: string;
  readonly rawTarget: string;
  uri = '';
  args = '';
  /** A rewrite changed $uri: the upstream gets it instead of the client's request target. */
  uriChanged = false;
  readonly httpVersion: string;
  readonly scheme: 'http' | 'https';
  readonly tls: TlsInfo | null;
  readonly headers: readonly string[];
  /** The peer address, or the client address realip found in a header. */
  remoteAddr: string;
  /** The peer port, or the one realip found (0: none, $remote_port is empty). */
  remotePort: number;
  readonly realipRemoteAddr: string;
  readonly realipRemotePort: number;
  readonly proxyProtocolAddr: string | null;
  readonly proxyProtocolPort: number | null;
  readonly serverAddr: string;
  readonly serverPort: number;
  host = '';
  serverName = '';
  readonly connectionId: number;
  readonly connectionRequests: number;
  readonly startMs: number;
  captures: Captures | null = null;
  vars: Map<string, string> | null = null;
  status = 0;
  bytesSent = 0;
  bodyBytesSent = 0;
  requestLength: number;
  upstream: UpstreamAttempts | null = null;
  proxyHost = '';
  proxyPort = '';
  responseHeaders: readonly string[] | null = null;
  connectionHeader = '';

  constructor(
    head: RequestHead,
    headBytes: number,
    conn: {
      readonly remoteAddr: string; readonly remotePort: number; readonly serverAddr: string;
      readonly proxyProtocolAddr?: string | null; readonly proxyProtocolPort?: number | null; readonly serverPort: number; readonly id: number; readonly http2?: boolean; readonly tls?: TlsInfo | null },
    connectionRequests: number,
  ) {
    this.head = head;
    this.method = head.method;
    this.requestUri = head.target;
    this.rawTarget = head.rawTarget;
    this.httpVersion = conn.http2 === true ? '2.0' : head.versionMinor === 1 ? '1.1' : '1.0';
    this.headers = head.headers;
    this.tls = conn.tls ?? null;
    this.scheme = this.tls === null ? 'http' : 'https';
    this.remoteAddr = conn.remoteAddr;
    this.remotePort = conn.remotePort;
    this.realipRemoteAddr = conn.remoteAddr;
    this.realipRemotePort = conn.remotePort;
    this.proxyProtocolAddr = conn.proxyProtocolAddr ?? null;
    this.proxyProtocolPort = conn.proxyProtocolPort ?? null;
    this.serverAddr = conn.serverAddr;
    this.serverPort = conn.serverPort;
    this.connectionId = conn.id;
    this.connectionRequests = connectionRequests;
    this.startMs = Date.now();
    this.requestLength = headBytes;
  }
}
