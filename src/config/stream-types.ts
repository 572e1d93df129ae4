/**
 * The stream {} / tcp {} part of the typed config tree (types.ts re-exports it): stream servers
 * and their handlers.
 */
import type { Loc } from '../errors.js';
import type { JsFunctionRef, JsHttpConfig } from './js-types.js';
import type { ConnLimits, LimitZoneConfig } from './limit-types.js';
import type { AccessLogConfig, AccessRule, ListenConfig, LogFormatConfig, MapConfig, ProxySslConfig, ProxyTarget, ServerName, SslConfig, UpstreamConfig } from './types.js';
import type { GeoConfig, SplitClientsConfig } from './variable-types.js';

// ---------------------------------------------------------------------------------------------
// tcp {} / stream {}

export type StreamHandler =
  | { readonly kind: 'proxy'; readonly target: ProxyTarget }
  /** `websocket_pass [path] target` in tcp servers: one entry per directive, in file order. */
  | { readonly kind: 'websocket'; readonly routes: readonly { readonly path: string | null; readonly target: ProxyTarget }[] }
  /** `return value;`: the value (a template) is sent and the connection closed. */
  | { readonly kind: 'return'; readonly value: string }
  | { readonly kind: 'none' };

export interface StreamServerConfig {
  readonly listens: readonly ListenConfig[];
  /** Matched against the TLS SNI (or Host for websocket_pass servers). */
  readonly serverNames: readonly ServerName[];
  readonly handler: StreamHandler;
  readonly proxyConnectTimeoutMs: number;
  /** Idle timeout between two successive reads or writes (nginx stream `proxy_timeout`). */
  readonly proxyTimeoutMs: number;
  /**
   * `proxy_half_close on`: one side's FIN is passed on and the other direction keeps flowing
   * until it ends too. Off (nginx's default): one side's FIN ends the session once what that
   * side sent is flushed.
   */
  readonly proxyHalfClose: boolean;
  /** proxy_responses (UDP): datagrams expected back per client datagram; absent: any number (nginx's default). */
  readonly proxyResponses?: number;
  /** proxy_requests (UDP): client datagrams per session; absent: no limit. */
  readonly proxyRequests?: number;
  readonly proxyNextUpstream: boolean;
  readonly proxyNextUpstreamTries: number;
  readonly proxyNextUpstreamTimeoutMs: number;
  /** 0 = off. */
  readonly proxyProtocolVersion: 0 | 1 | 2;
  readonly tcpNodelay: boolean;
  readonly soKeepalive: boolean;
  /** proxy_socket_keepalive on (SO_KEEPALIVE on upstream connections); absent when off. */
  readonly proxySocketKeepalive?: true;
  /** proxy_upload_rate / proxy_download_rate in bytes per second; absent when 0 (no limit). */
  readonly proxyUploadRateBytes?: number;
  readonly proxyDownloadRateBytes?: number;
  readonly sslPreread: boolean;
  readonly prereadTimeoutMs: number;
  /** `proxy_ssl on`: TLS to the upstream with these proxy_ssl_* settings; absent when off. */
  readonly proxySsl?: ProxySslConfig;
  /** preread_buffer_size; absent at nginx's default (16k), so configs without it keep their shape. */
  readonly prereadBufferBytes?: number;
  readonly accessLogs: readonly AccessLogConfig[];
  readonly accessRules: readonly AccessRule[];
  /**
   * nginx stream realip: connections from these peers (addresses, CIDRs, "unix:") take the client
   * address from the PROXY protocol header (the listen needs `proxy_protocol`); empty = off.
   */
  readonly setRealIpFrom: readonly string[];
  /** TLS settings, used when the server is on an `ssl` listen (terminated, then raw TCP upstream). */
  readonly ssl: SslConfig;
  /** limit_conn and its settings; absent while the server and stream {} set none. */
  readonly limits?: ConnLimits;
  /** js_access / js_preread / js_filter (ngx_stream_js_module); absent without any. */
  readonly js?: { readonly access?: JsFunctionRef; readonly preread?: JsFunctionRef; readonly filter?: JsFunctionRef };
  readonly loc: Loc;
}

export interface StreamConfig {
  readonly upstreams: readonly UpstreamConfig[];
  readonly servers: readonly StreamServerConfig[];
  readonly logFormats: readonly LogFormatConfig[];
  readonly maps: readonly MapConfig[];
  /** Present when the config has any (variable-types.ts). */
  readonly geo?: readonly GeoConfig[];
  readonly splitClients?: readonly SplitClientsConfig[];
  /** limit_conn_zone; absent when none is defined. */
  readonly limitConnZones?: readonly LimitZoneConfig[];
  /** njs scripting in stream {} (the http shape: js_import, js_set, js_var, js_shared_dict_zone); absent without js_*. */
  readonly js?: JsHttpConfig;
}
