/**
 * What inherited directives fill, typed by the field: one draft per settings kind, as the
 * directives write them (paths not yet resolved, related values not yet grouped). build.ts turns
 * a level's merged draft into the typed config (LocationSettings, StreamServerConfig, ...).
 *
 * A draft is split into its single values (`*Values`, set by `setting()`: the last directive of
 * a level wins) and its lists (`*Items`, element types, filled by `listSetting()`: every
 * directive adds an entry, and a level with any entry replaces the parent's whole list). The
 * spec constructors in scope.ts take a field of these types, so a directive whose parser returns
 * another type than its field's does not compile.
 */
import type { Loc } from '../../errors.js';
import type {
  AccessLogConfig, AccessRule, AddHeader, AuthRequestSet, ClientBodyConfig, FileSettings, ErrorLogConfig, ErrorPage, GzipSettings, HeaderOp, HttpStatusClass, LingeringConfig, LocationSettings, MainConfig,
  SslConfig, SubFilterRule, SubFilterSettings, Template, TlsProtocol,
} from '../types.js';
import type { LimitConnRule, LimitLogLevel, LimitReqRule, LimitReqZoneConfig, LimitZoneConfig } from '../limit-types.js';
import type { ResolverConfig } from '../types.js';
import type { CacheValidRule, CacheZoneConfig } from '../cache-types.js';

/** `resolver` as written; `resolver_timeout` (inherited on its own) completes it at assembly. */
export type ResolverDraft = Omit<ResolverConfig, 'timeoutMs'>;

/** `resolver` / `resolver_timeout` (http, stream and, as nginx 1.27, upstream {}: directives/resolver.ts). */
export interface ResolverValues {
  resolver: ResolverDraft | null;
  resolverTimeoutMs: number;
}

/** Which draft a setting lives in (merged along the scope chain). */
export type SettingKind = 'main' | 'http' | 'stream' | 'upstream';

/** A path as written; resolved against the prefix at assembly. */
export interface PathArg {
  readonly path: string;
  readonly loc: Loc;
}

export interface MainValues {
  workerProcesses: MainConfig['workerProcesses'];
  workerShutdownTimeoutMs: number;
  /** null: `pid off`. */
  pid: string | null;
  daemon: boolean;
  user: MainConfig['user'];
  watch: boolean;
  streamCloseDelayMs: number;
  workerConnections: number;
}

export interface MainItems {
  errorLogs: ErrorLogConfig;
}

/** ssl_* of http and stream servers (same names in both areas, each area its own values). */
export interface SslValues {
  sslPasswordFile: PathArg | null;
  sslProtocols: TlsProtocol[];
  sslCiphers: string;
  sslPreferServerCiphers: boolean;
  sslSessionTimeoutMs: number;
  sslSessionTickets: boolean;
  sslEcdhCurve: string;
  sslDhparam: PathArg | null;
  sslVerifyClient: SslConfig['verifyClient'];
  sslVerifyDepth: number;
  sslClientCertificate: PathArg | null;
  sslTrustedCertificate: PathArg | null;
  sslSessionCache: SslConfig['sessionCache'];
  sslRejectHandshake: boolean;
}

/** `ssl_certificate` and `ssl_certificate_key`: inherited separately, paired by position at assembly. */
export interface SslItems {
  sslCertificates: PathArg;
  sslCertificateKeys: PathArg;
  sslSessionTicketKeys: PathArg;
}

/** proxy_ssl_* (TLS towards `proxy_pass https://`), grouped into ProxySslConfig at assembly. */
export interface ProxySslValues {
  proxySslServerName: boolean;
  proxySslName: Template;
  proxySslVerify: boolean;
  proxySslVerifyDepth: number;
  proxySslTrustedCertificate: PathArg | null;
  proxySslCertificate: PathArg | null;
  proxySslCertificateKey: PathArg | null;
  proxySslPasswordFile: PathArg | null;
  proxySslProtocols: TlsProtocol[];
  proxySslCiphers: string;
  proxySslSessionReuse: boolean;
}

/**
 * http, server and location values. Most are LocationSettings fields of the same name and type
 * (build.ts copies them); `root`, the realIp* and proxySsl* ones are resolved or grouped, and the
 * client_header_*, http2 and ssl* ones are read by servers only.
 */
export interface HttpValues extends SslValues, ProxySslValues, ResolverValues {
  proxyConnectTimeoutMs: number;
  proxyReadTimeoutMs: number;
  proxySendTimeoutMs: number;
  proxyHttpVersion: LocationSettings['proxyHttpVersion'];
  proxyMethod: Template | null;
  proxyPassRequestHeaders: boolean;
  proxyPassRequestBody: boolean;
  proxyRedirect: LocationSettings['proxyRedirect'];
  proxyInterceptErrors: boolean;
  proxyBuffering: boolean;
  proxyIgnoreClientAbort: boolean;
  proxySocketKeepalive: boolean;
  proxyForwardedHeaders: boolean;
  proxyProtocolVersion: LocationSettings['proxyProtocolVersion'];
  proxyNextUpstream: LocationSettings['proxyNextUpstream'];
  proxyNextUpstreamTries: number;
  proxyNextUpstreamTimeoutMs: number;
  clientMaxBodySizeBytes: number;
  clientBodyTimeoutMs: number;
  sendTimeoutMs: number;
  keepaliveTimeoutMs: number;
  keepaliveRequests: number;
  /** As written; resolved against the prefix at assembly. */
  root: string;
  index: readonly string[];
  websocketReadTimeoutMs: number;
  serverTokens: boolean;
  realIpHeader: string;
  realIpRecursive: boolean;
  clientHeaderTimeoutMs: number;
  clientHeaderBufferSizeBytes: number;
  largeClientHeaderBuffers: { readonly count: number; readonly sizeBytes: number };
  http2: boolean;
  /** http2_max_concurrent_streams / http2_body_preread_size (directives/http2.ts); null: not set. */
  http2MaxConcurrentStreams: number | null;
  http2BodyPrereadSizeBytes: number | null;
  /** keepalive_time of client connections (directives/client-keepalive.ts); null: not set (1h). */
  clientKeepaliveTimeMs: number | null;
  underscoresInHeaders: boolean;
  ignoreInvalidHeaders: boolean;
  maxHeaders: number;
  lingeringClose: LingeringConfig['mode'];
  lingeringTimeMs: number;
  lingeringTimeoutMs: number;
  resetTimedoutConnection: boolean;
  clientBodyBufferSizeBytes: number;
  clientBodyInFileOnly: ClientBodyConfig['inFileOnly'];
  clientBodyInSingleBuffer: boolean;
  /** As written; resolved against the prefix at assembly. */
  clientBodyTempPath: { readonly path: string; readonly levels: readonly number[] };
  proxyRequestBuffering: boolean;
  /** limit_rate / limit_rate_after (templates: sizes that may hold variables), proxy_limit_rate, proxy_ignore_headers (directives/rate.ts): RateConfig when any is set. */
  limitRate: Template;
  limitRateAfter: Template;
  proxyLimitRateBytes: number;
  proxyIgnoreHeaders: readonly string[];
  /** satisfy, auth_basic, auth_basic_user_file, auth_request (directives/access.ts); null: off / not set. */
  satisfy: 'all' | 'any';
  authBasic: Template | null;
  authBasicUserFile: Template | null;
  authRequest: string | null;
  /** directives/files.ts, grouped into FileSettings at assembly. */
  defaultType: string;
  mimeTypes: FileSettings['types'];
  etag: boolean;
  expires: FileSettings['expires'];
  ifModifiedSince: FileSettings['ifModifiedSince'];
  autoindex: boolean;
  autoindexFormat: FileSettings['autoindexFormat'];
  autoindexExactSize: boolean;
  autoindexLocaltime: boolean;
  logNotFound: boolean;
  /** `alias` wrote `root` at this level. */
  alias: boolean;
  /** limit_req_* / limit_conn_* (directives/limits.ts): HttpLimits when any is set. */
  limitReqStatus: number;
  limitReqLogLevel: LimitLogLevel;
  limitReqDryRun: boolean;
  limitConnStatus: number;
  limitConnLogLevel: LimitLogLevel;
  limitConnDryRun: boolean;
  /** gzip_* (directives/gzip.ts): GzipSettings when any is set. */
  gzip: boolean;
  gzipStatic: GzipSettings['static'];
  gzipCompLevel: number;
  gzipMinLengthBytes: number;
  gzipVary: boolean;
  gzipProxied: GzipSettings['proxied'];
  gzipTypes: GzipSettings['types'];
  gzipDisable: { readonly regexes: GzipSettings['disable']; readonly msie6: boolean };
  gzipHttpVersion: GzipSettings['httpVersion'];
  /** sub_filter_* (directives/sub-filter.ts): SubFilterSettings when any is set. */
  subFilterOnce: boolean;
  subFilterTypes: SubFilterSettings['types'];
  subFilterLastModified: boolean;
  chunkedTransferEncoding: boolean;
  /** fastcgi_* (directives/fastcgi.ts), grouped into FastcgiSettings at assembly. */
  fastcgiIndex: string;
  /** '' when none. */
  fastcgiSplitPathInfo: string;
  fastcgiKeepConn: boolean;
  fastcgiConnectTimeoutMs: number;
  fastcgiReadTimeoutMs: number;
  fastcgiSendTimeoutMs: number;
  fastcgiInterceptErrors: boolean;
  fastcgiPassRequestHeaders: boolean;
  fastcgiPassRequestBody: boolean;
  fastcgiNextUpstream: LocationSettings['proxyNextUpstream'];
  fastcgiNextUpstreamTries: number;
  fastcgiNextUpstreamTimeoutMs: number;
  /** proxy_cache* (directives/cache.ts): CacheSettings when any is set. null: `proxy_cache off`. */
  proxyCache: { readonly name: string; readonly loc: Loc } | null;
  /** null: nginx's built-in key (the proxy_pass URL and the URI sent upstream). */
  proxyCacheKey: Template | null;
  proxyCacheMethods: readonly string[];
  proxyCacheMinUses: number;
  proxyCacheConvertHead: boolean;
  proxyCacheUseStale: readonly string[];
  proxyCacheLock: boolean;
  proxyCacheRevalidate: boolean;
  proxyCacheLockTimeoutMs: number;
  proxyCacheLockAgeMs: number;
  proxyCacheBackgroundUpdate: boolean;
  /** null: no limit (nginx's largest offset). */
  proxyCacheMaxRangeOffsetBytes: number | null;
}

export interface HttpItems extends SslItems {
  proxySetHeaders: HeaderOp;
  proxyHideHeaders: string;
  proxyPassHeaders: string;
  addHeaders: AddHeader;
  errorPages: ErrorPage;
  /** Paths as written; resolved against the prefix at assembly. */
  accessLogs: AccessLogConfig;
  realIpFrom: string;
  /** allow / deny and auth_request_set (directives/access.ts). */
  accessRules: AccessRule;
  authRequestSet: AuthRequestSet;
  /** `fastcgi_param`, fastcgi_hide_header, fastcgi_pass_header (directives/fastcgi.ts). */
  fastcgiParams: { name: string; value: Template; ifNotEmpty: boolean };
  fastcgiHideHeaders: string;
  fastcgiPassHeaders: string;
  limitReqs: LimitReqRule;
  limitConns: LimitConnRule;
  subFilters: SubFilterRule;
  /** Zones (http level only): HttpConfig.limitReqZones / limitConnZones. */
  limitReqZones: LimitReqZoneConfig;
  limitConnZones: LimitZoneConfig;
  /** proxy_cache_path (http level only), proxy_cache_valid, proxy_cache_bypass / proxy_no_cache (one entry per directive). */
  proxyCachePaths: CacheZoneConfig;
  proxyCacheValid: CacheValidRule;
  proxyCacheBypass: readonly Template[];
  proxyNoCache: readonly Template[];
}

/** stream {} / tcp {} and stream server values (StreamServerConfig fields unless noted). */
export interface StreamValues extends SslValues, ProxySslValues, ResolverValues {
  /** `proxy_ssl on`: StreamServerConfig.proxySsl is present. */
  proxySsl: boolean;
  proxyConnectTimeoutMs: number;
  /** proxy_timeout, and its tcp_proxy_module names proxy_read_timeout / proxy_send_timeout. */
  proxyTimeoutMs: number;
  proxyHalfClose: boolean;
  /** proxy_responses (UDP); null: unset, any number. */
  proxyResponses: number | null;
  /** proxy_requests (UDP); 0: no limit. */
  proxyRequests: number;
  proxyNextUpstream: boolean;
  proxyNextUpstreamTries: number;
  proxyNextUpstreamTimeoutMs: number;
  /** `proxy_protocol on|off` and `proxy_protocol_version`: StreamServerConfig.proxyProtocolVersion. */
  proxyProtocol: boolean;
  proxyProtocolVersionNumber: 1 | 2;
  tcpNodelay: boolean;
  soKeepalive: boolean;
  /** proxy_socket_keepalive / proxy_upload_rate / proxy_download_rate: in StreamServerConfig only when not the defaults. */
  proxySocketKeepalive: boolean;
  proxyUploadRateBytes: number;
  proxyDownloadRateBytes: number;
  sslPreread: boolean;
  prereadTimeoutMs: number;
  prereadBufferBytes: number;
  limitConnLogLevel: LimitLogLevel;
  limitConnDryRun: boolean;
}

export interface StreamItems extends SslItems {
  accessLogs: AccessLogConfig;
  setRealIpFrom: string;
  /** allow / deny (directives/access.ts, the same specs as http's). */
  accessRules: AccessRule;
  limitConns: LimitConnRule;
  /** stream level only: StreamConfig.limitConnZones. */
  limitConnZones: LimitZoneConfig;
}

/** upstream {} values (UpstreamConfig, and the check_* ones of its CheckConfig). */
export interface UpstreamValues extends ResolverValues {
  keepalive: number;
  keepaliveTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveRequests: number;
  httpSend: string;
  expectAlive: HttpStatusClass[];
  /** check_keepalive_requests (CheckConfig.keepaliveRequests). */
  keepaliveRequestsCheck: number;
}

/** Nothing in upstream {} is a list. */
export type UpstreamItems = Record<never, never>;

/** Single values of each kind, by field. */
export interface ValuesByKind {
  main: MainValues;
  http: HttpValues;
  stream: StreamValues;
  upstream: UpstreamValues;
}

/** Element types of the lists of each kind, by field. */
export interface ItemsByKind {
  main: MainItems;
  http: HttpItems;
  stream: StreamItems;
  upstream: UpstreamItems;
}

/** The lists of a draft, from their element types. */
export type Lists<I> = { [F in keyof I]: I[F][] };

/** A whole draft: every field has a value (the table's defaults fill what no level sets). */
export type SettingsOf<K extends SettingKind> = ValuesByKind[K] & Lists<ItemsByKind[K]>;

/** What one level sets itself: only the fields its directives wrote. */
export type OwnOf<K extends SettingKind> = Partial<ValuesByKind[K]> & Partial<Lists<ItemsByKind[K]>>;

/**
 * A block's own settings by kind. Only the kind of the block's context is ever filled, created at
 * the block's first setting: a block that sets nothing has none, which build.ts checks first.
 */
export type OwnSettings = { [K in SettingKind]?: OwnOf<K> };

export type MainSettings = SettingsOf<'main'>;
export type HttpSettings = SettingsOf<'http'>;
export type StreamSettings = SettingsOf<'stream'>;
export type UpstreamSettings = SettingsOf<'upstream'>;
export type SslSettings = SslValues & Lists<SslItems>;
