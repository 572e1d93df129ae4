/**
 * The typed config tree: what src/config/build.ts produces from the directive table and what
 * every other layer reads. It is plain data (JSON-serialisable but for Loc objects, which are
 * plain too), deeply frozen after build, and hashed so that an unchanged reload is a no-op.
 *
 * Conventions: durations are integer milliseconds in fields ending in `Ms`, sizes are bytes in
 * fields ending in `Bytes`. Strings that may contain `$variables` are kept as written (type
 * `Template`); the http layer compiles them once per config into functions.
 * Every directive default lives in src/config/directives.ts, never here.
 */
import type { Loc } from '../errors.js';
import type { LogLevel } from '../log/levels.js';
import type { CertificateConfig, PemFile, ProxySslConfig, SslConfig, SslSessionCache, TicketKeyFile, TlsProtocol } from './tls-types.js';
import type { StreamHandler, StreamServerConfig, StreamConfig } from './stream-types.js';
import type { JsFunctionRef, JsHttpConfig } from './js-types.js';
import type { AccessConfig, AuthRequestSet } from './access-types.js';
import type { GeoConfig, SplitClientsConfig } from './variable-types.js';
import type { FileSettings } from './static-types.js';
import type { GzipSettings, SubFilterSettings } from './filter-types.js';
import type { RewriteExtra, TryFilesConfig } from './rewrite-types.js';
import type { FastcgiSettings } from './fastcgi-types.js';
import type { BalanceMethod, CheckConfig, CheckType, HttpStatusClass, ProxyTarget, ResolverConfig, UpstreamConfig, UpstreamServerConfig } from './upstream-types.js';
import type { ConnLimits, HttpLimits, LimitLogLevel, LimitReqRule, LimitConnRule, LimitReqZoneConfig, LimitZoneConfig } from './limit-types.js';
import type { CacheSettings, CacheZoneConfig } from './cache-types.js';
import type { RedisConfig, RedisPeersConfig } from './redis-types.js';

/** Redis blocks and what upstreams take from them live in redis-types.ts. */
export type { RedisConfig, RedisPeersConfig };

/** Upstream groups (shared by http, websocket and stream proxying) live in upstream-types.ts. */
export type { BalanceMethod, CheckConfig, CheckType, HttpStatusClass, ProxyTarget, ResolverConfig, UpstreamConfig, UpstreamServerConfig };
/** The TLS part of the tree lives in tls-types.ts. */
export type { CertificateConfig, PemFile, ProxySslConfig, SslConfig, SslSessionCache, TicketKeyFile, TlsProtocol };
/** The stream part lives in stream-types.ts. */
export type { StreamHandler, StreamServerConfig, StreamConfig };
/** The access phase (allow/deny, satisfy, auth_basic, auth_request) lives in access-types.ts. */
export type { AccessConfig, AuthRequestSet };
export type { GeoConfig, SplitClientsConfig };
/** The static-file and rewrite-module parts live in static-types.ts and rewrite-types.ts. */
export type { ExpiresConfig, FileSettings } from './static-types.js';
export type { GzipDisableRegex, GzipProxied, GzipSettings, SubFilterRule, SubFilterSettings } from './filter-types.js';
export type { IfBlock, IfCondition, RewriteExtra, TryFilesConfig } from './rewrite-types.js';
export type { FastcgiParam, FastcgiSettings } from './fastcgi-types.js';
export type { ConnLimits, HttpLimits, LimitLogLevel, LimitReqRule, LimitConnRule, LimitReqZoneConfig, LimitZoneConfig };

/** A string as written in the config, possibly containing `$var` / `${var}` references. */
export type Template = string;

export interface Config {
  /** Absolute path of the main config file ("inline.conf" style name for text configs). */
  readonly file: string;
  /** The prefix relative paths are resolved against (-p, default: the config file's directory). */
  readonly prefix: string;
  readonly main: MainConfig;
  /** null when the config has no http {} and no top-level server {}. */
  readonly http: HttpConfig | null;
  /** All tcp {} and stream {} blocks merged; null when there are none. */
  readonly stream: StreamConfig | null;
  /** The `redis NAME {}` blocks (issue 17); absent when there are none. */
  readonly redis?: readonly RedisConfig[];
  /** Every file the config was read from (main file first, then includes), for reload watching. */
  readonly files: readonly string[];
  /**
   * The absolute patterns of the `include` globs the loader expanded (one that matched nothing
   * too): their directories are watched, so a new file that matches reloads.
   */
  readonly includeGlobs: readonly string[];
  /** sha256 of the canonical JSON of everything above except `files` and `includeGlobs`; equal hash = no-op reload. */
  readonly hash: string;
}

// ---------------------------------------------------------------------------------------------
// main context

/** nginx's error_log levels (defined with the log, which must not import the config). */
export type { LogLevel };

export interface ErrorLogConfig {
  /** Absolute path, or 'stderr'. */
  readonly target: string;
  readonly level: LogLevel;
  /** 'text': nginx's layout; 'json': pino's JSON lines (`error_log ... json`). */
  readonly format: 'text' | 'json';
  readonly loc: Loc;
}

export interface MainConfig {
  /** Absolute pid file path, or null for `pid off;`. */
  readonly pid: string | null;
  /** Empty when the config names none: then the -e file, else stderr at notice. */
  readonly errorLogs: readonly ErrorLogConfig[];
  /** 'auto' means one per CPU. */
  readonly workerProcesses: number | 'auto';
  readonly workerConnections: number;
  readonly workerShutdownTimeoutMs: number;
  readonly daemon: boolean;
  readonly user: { readonly user: string; readonly group: string | null } | null;
  /** Watch the config files and reload on change (`watch on|off`). */
  readonly watch: boolean;
  /** How long tunnels whose route vanished on reload may live on (`stream_close_delay`). */
  readonly streamCloseDelayMs: number;
}

// ---------------------------------------------------------------------------------------------
// shared pieces

export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export interface ListenConfig {
  readonly address: ListenAddress;
  /** Canonical text of the address ("127.0.0.1:8080", "[::1]:80", "unix:/run/x.sock"); listeners are diffed on it. */
  readonly key: string;
  readonly defaultServer: boolean;
  readonly reuseport: boolean;
  readonly backlog: number | null;
  readonly proxyProtocol: boolean;
  readonly ssl: boolean;
  readonly http2: boolean;
  /** `udp` (stream): a datagram socket, sessions per client address (src/tcp/udp-server.ts); absent for TCP. */
  readonly udp?: true;
  /** nginx's other socket parameters; absent when the listen sets none of them. */
  readonly socket?: ListenSocketOptions;
  readonly loc: Loc;
}

/** `so_keepalive=`: off, on (the system's timers), or keepidle:keepintvl:keepcnt (null: the system's). */
export interface ListenKeepalive {
  readonly enabled: boolean;
  readonly idleMs: number | null;
  readonly intervalMs: number | null;
  readonly count: number | null;
}

/** listen's socket parameters besides backlog= and reuseport (what Node cannot apply is accepted: README). */
export interface ListenSocketOptions {
  readonly rcvbufBytes: number | null;
  readonly sndbufBytes: number | null;
  readonly keepalive: ListenKeepalive | null;
  readonly fastopen: number | null;
  readonly deferred: boolean;
  readonly bind: boolean;
  /** null: tsproxy's default (an IPv6 wildcard also takes IPv4). */
  readonly ipv6only: boolean | null;
}

/** allow / deny (compiled by core/address-match.ts). */
export interface AccessRule {
  readonly action: 'allow' | 'deny';
  /** "all", an address, or a CIDR. */
  readonly source: string;
  readonly loc: Loc;
}

export type ServerName =
  | { readonly kind: 'exact'; readonly name: string; readonly loc: Loc }
  /** `*.example.org` (suffix holds ".example.org"); `.example.org` yields exact + this. */
  | { readonly kind: 'leadingWildcard'; readonly suffix: string; readonly loc: Loc }
  /** `www.example.*` (prefix holds "www.example."). */
  | { readonly kind: 'trailingWildcard'; readonly prefix: string; readonly loc: Loc }
  /** `~^(?<user>.+)\.example\.org$`; source is the regex without the `~`. */
  | { readonly kind: 'regex'; readonly source: string; readonly loc: Loc };

export interface AccessLogConfig {
  /** Absolute path, 'stderr', 'stdout', or null for `access_log off`. */
  readonly path: string | null;
  /** Name of a log_format (default "combined"). */
  readonly format: string;
  /** buffer= / flush= / gzip (absent: each line is written at once). */
  readonly buffering?: AccessLogBuffering;
  readonly loc: Loc;
}

export interface AccessLogBuffering {
  readonly bufferBytes: number;
  /** 0: written when the buffer is full (and on USR1 / exit), as nginx without flush=. */
  readonly flushMs: number;
  /** 0: not compressed; 1-9: gzip level. */
  readonly gzipLevel: number;
}

export interface LogFormatConfig {
  readonly name: string;
  readonly escape: 'default' | 'json' | 'none';
  /** The format strings concatenated, as written. */
  readonly template: Template;
  readonly loc: Loc;
}

/** `map $source $target { default x; key value; ~regex value; }` */
export interface MapConfig {
  readonly source: Template;
  /** Variable name without `$`. */
  readonly variable: string;
  readonly hostnames: boolean;
  /** `volatile`: computed again at each use instead of once per request / session. */
  readonly volatile?: true;
  readonly defaultValue: Template;
  readonly entries: readonly {
    readonly kind: 'exact' | 'regex' | 'regexCaseless';
    readonly key: string;
    readonly value: Template;
    readonly loc: Loc;
  }[];
  readonly loc: Loc;
}

// ---------------------------------------------------------------------------------------------
// http {}

export interface HttpConfig {
  readonly upstreams: readonly UpstreamConfig[];
  readonly servers: readonly HttpServerConfig[];
  readonly logFormats: readonly LogFormatConfig[];
  readonly maps: readonly MapConfig[];
  /** Variables auth_request_set declares (absent when none). */
  readonly authRequestVariables?: readonly string[];
  /** Present when the config has any (variable-types.ts). */
  readonly geo?: readonly GeoConfig[];
  readonly splitClients?: readonly SplitClientsConfig[];
  /** limit_req_zone / limit_conn_zone; absent when none is defined (configs without them keep their shape). */
  readonly limitReqZones?: readonly LimitReqZoneConfig[];
  readonly limitConnZones?: readonly LimitZoneConfig[];
  /** njs scripting (js-types.ts); absent when no js_* directive is used. */
  readonly js?: JsHttpConfig;
  /** proxy_cache_path; absent when none is defined. */
  readonly cacheZones?: readonly CacheZoneConfig[];
}

export interface HeaderOp {
  readonly name: string;
  /** An empty value removes the header (nginx `proxy_set_header X "";`). */
  readonly value: Template;
  readonly loc: Loc;
}

export interface AddHeader {
  readonly name: string;
  readonly value: Template;
  readonly always: boolean;
  readonly loc: Loc;
}

export interface ErrorPage {
  readonly codes: readonly number[];
  /** `=code` rewrites the response status; `=` alone takes the status of the target. */
  readonly overrideStatus: number | 'target' | null;
  readonly target: Template;
  readonly loc: Loc;
}

export interface RewriteRule {
  readonly regex: string;
  readonly replacement: Template;
  readonly flag: 'last' | 'break' | 'redirect' | 'permanent' | null;
  readonly loc: Loc;
}

export type ProxyRedirect =
  | { readonly kind: 'default' }
  | { readonly kind: 'off' }
  | { readonly kind: 'rules'; readonly rules: readonly { readonly from: Template; readonly to: Template }[] };

export type NextUpstreamCondition =
  | 'error' | 'timeout' | 'invalid_header' | 'http_500' | 'http_502' | 'http_503' | 'http_504'
  | 'http_403' | 'http_404' | 'http_429' | 'non_idempotent';

/**
 * Everything a request handled by one location needs, after nginx-style inheritance
 * (http → server → location; a level that sets any proxy_set_header replaces the parent's list).
 */
/** How a client connection closes: lingering_close / lingering_time / lingering_timeout, reset_timedout_connection. */
export interface LingeringConfig {
  readonly mode: 'on' | 'off' | 'always';
  readonly timeMs: number;
  readonly timeoutMs: number;
  /** reset_timedout_connection: a timed out request's connection (and `return 444`) ends with a RST. */
  readonly resetTimedout: boolean;
}

/**
 * What is kept of a request body for $request_body / $request_body_file: client_body_buffer_size,
 * client_body_in_file_only, client_body_in_single_buffer, client_body_temp_path and
 * proxy_request_buffering.
 */
export interface ClientBodyConfig {
  readonly bufferSizeBytes: number;
  readonly inFileOnly: 'off' | 'on' | 'clean';
  readonly singleBuffer: boolean;
  /** The directory of body files, resolved against the prefix. */
  readonly tempPath: string;
  /** Subdirectory levels: how many digits of the file name each takes (nginx `1 2`), [] for none. */
  readonly tempLevels: readonly number[];
  /** proxy_request_buffering: off keeps nothing ($request_body stays empty, as nginx). */
  readonly requestBuffering: boolean;
}

/** limit_rate, limit_rate_after, proxy_limit_rate and proxy_ignore_headers of a location. */
export interface RateConfig {
  /** Bytes per second to the client, a size or a template of one ('0': no limit). */
  readonly limitRate: Template;
  /** Bytes sent at full speed first, a size or a template of one. */
  readonly limitRateAfter: Template;
  /** Bytes per second read from the upstream (0: no limit). */
  readonly proxyLimitRateBytes: number;
  /** Upstream response fields whose special meaning is ignored (lowercase). */
  readonly proxyIgnoreHeaders: readonly string[];
}

/** underscores_in_headers / ignore_invalid_headers / max_headers of a server. */
export interface HeaderNameRules {
  readonly underscoresInHeaders: boolean;
  readonly ignoreInvalidHeaders: boolean;
  readonly maxHeaders: number;
}

export interface LocationSettings {
  readonly proxyConnectTimeoutMs: number;
  readonly proxyReadTimeoutMs: number;
  readonly proxySendTimeoutMs: number;
  readonly proxySetHeaders: readonly HeaderOp[];
  readonly proxyHideHeaders: readonly string[];
  readonly proxyPassHeaders: readonly string[];
  readonly proxyHttpVersion: '1.0' | '1.1';
  readonly proxyMethod: Template | null;
  readonly proxyPassRequestHeaders: boolean;
  readonly proxyPassRequestBody: boolean;
  readonly proxyRedirect: ProxyRedirect;
  readonly proxyInterceptErrors: boolean;
  readonly proxyBuffering: boolean;
  /** proxy_ignore_client_abort: a client that goes away does not abort the upstream request. */
  readonly proxyIgnoreClientAbort: boolean;
  /** proxy_socket_keepalive: SO_KEEPALIVE on upstream connections (the system's timers). */
  readonly proxySocketKeepalive: boolean;
  /** Set X-Forwarded-For / X-Real-IP / X-Forwarded-Proto (tsproxy default on; nginx has none). */
  readonly proxyForwardedHeaders: boolean;
  /** Send a PROXY protocol header to HTTP upstreams (0 = off, 1 or 2). */
  readonly proxyProtocolVersion: 0 | 1 | 2;
  /** TLS towards `proxy_pass https://` upstreams. */
  readonly proxySsl: ProxySslConfig;
  /** Empty means `off`. */
  readonly proxyNextUpstream: readonly NextUpstreamCondition[];
  /** 0 = unlimited (bounded by the number of peers). */
  readonly proxyNextUpstreamTries: number;
  readonly proxyNextUpstreamTimeoutMs: number;
  readonly clientMaxBodySizeBytes: number;
  readonly clientBodyTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  readonly addHeaders: readonly AddHeader[];
  readonly errorPages: readonly ErrorPage[];
  readonly accessLogs: readonly AccessLogConfig[];
  readonly root: string;
  readonly index: readonly string[];
  readonly websocketReadTimeoutMs: number;
  readonly serverTokens: boolean;
  /**
   * nginx realip: when the peer address is in `from`, the client address is taken from `header`
   * ("X-Real-IP", "X-Forwarded-For", "proxy_protocol" or any header name, as written); with
   * `recursive`, the last address in X-Forwarded-For that is not in `from`.
   */
  readonly realIp: RealIpConfig;
  /** Absent while nginx's defaults apply (lingering_close on, 30s, 5s, reset_timedout_connection off). */
  readonly lingering?: LingeringConfig;
  /** Absent while nginx's defaults apply (16k, off, off, `client_body_temp`, buffering on). */
  readonly clientBody?: ClientBodyConfig;
  /** Absent while no allow/deny, auth_basic or auth_request applies. */
  readonly access?: AccessConfig;
  /** Static-file settings (types, etag, expires, ...); absent while the defaults apply. */
  readonly files?: FileSettings;
  /** limit_req / limit_conn and their settings; absent while no level sets any of them. */
  readonly limits?: HttpLimits;
  /** limit_rate and friends; absent while no level sets any of them. */
  readonly rate?: RateConfig;
  /** gzip_* (gzip_static, gzip_vary, ...); absent while no level sets any of them. */
  readonly gzip?: GzipSettings;
  /** sub_filter*; absent while no level sets any of them. */
  readonly subFilter?: SubFilterSettings;
  /** `chunked_transfer_encoding off`: present (false) only then. */
  readonly chunkedTransferEncoding?: false;
  /** fastcgi_* settings (fastcgi-types.ts); absent while no level sets any of them. */
  readonly fastcgi?: FastcgiSettings;
  /**
   * `resolver` (+ `resolver_timeout`) for `proxy_pass http://$var` names; absent while no level
   * sets either. No `servers`: only a resolver_timeout was set (no resolver).
   */
  readonly resolver?: ResolverConfig;
  /** proxy_cache*; absent while no level sets any of them (cache-types.ts). */
  readonly cache?: CacheSettings;
}

export interface RealIpConfig {
  /** Trusted peers: IPv4/IPv6 addresses or CIDRs as written (validated), or "unix:"; empty = off. */
  readonly from: readonly string[];
  readonly header: string;
  readonly recursive: boolean;
}

export type LocationMatch =
  | { readonly kind: 'exact'; readonly path: string }
  | { readonly kind: 'prefix'; readonly path: string }
  /** `^~`: a prefix that, when it is the longest match, skips regex locations. */
  | { readonly kind: 'prefixNoRegex'; readonly path: string }
  | { readonly kind: 'regex'; readonly source: string; readonly caseless: boolean }
  /** `@name`: only reachable from error_page / try_files. */
  | { readonly kind: 'named'; readonly name: string };

export type LocationHandler =
  | { readonly kind: 'proxy'; readonly target: ProxyTarget }
  | { readonly kind: 'websocket'; readonly path: string | null; readonly target: ProxyTarget }
  /** fastcgi_pass: a FastCGI responder (an upstream group, host:port or unix:path). */
  | { readonly kind: 'fastcgi'; readonly target: ProxyTarget }
  | { readonly kind: 'return'; readonly code: number; readonly text: Template | null; readonly loc: Loc }
  | { readonly kind: 'checkStatus'; readonly format: 'html' | 'json' | 'prometheus' }
  /** stub_status: nginx's connection and request counters. */
  | { readonly kind: 'stubStatus' }
  /** js_content: a script function answers (http/js/). */
  | { readonly kind: 'js'; readonly ref: JsFunctionRef }
  /** No content handler: serve static files from root (404 when absent). */
  | { readonly kind: 'static' };

export interface LocationConfig {
  readonly match: LocationMatch;
  readonly handler: LocationHandler;
  /** Rewrite-phase directives in file order (rewrite, set, return before content). */
  readonly rewrites: readonly RewriteRule[];
  readonly sets: readonly { readonly variable: string; readonly value: Template; readonly loc: Loc }[];
  readonly settings: LocationSettings;
  readonly locations: readonly LocationConfig[];
  /** `try_files` (absent when none; not inherited, as nginx). */
  readonly tryFiles?: TryFilesConfig;
  /** `internal`: only internal redirects reach it (absent: false). */
  readonly internal?: true;
  /** `if`, `break` and `return` inside an if, in file order with rewrites/sets (absent when none). */
  readonly extras?: readonly RewriteExtra[];
  /** js_access (absent when none): a script function run in the access phase. */
  readonly jsAccess?: JsFunctionRef;
  /** js_header_filter (absent when none). */
  readonly jsHeaderFilter?: JsFunctionRef;
  /** js_body_filter (absent when none); `buffer`: buffer_type=buffer (the data is a Buffer, else a string). */
  readonly jsBodyFilter?: { readonly ref: JsFunctionRef; readonly buffer: boolean };
  readonly loc: Loc;
}

export interface HttpServerConfig {
  /** Listens of this server; a server without `listen` gets `*:80` (nginx) - see directives.ts. */
  readonly listens: readonly ListenConfig[];
  /** Names in file order; [] means the server only answers as a default. */
  readonly serverNames: readonly ServerName[];
  readonly clientHeaderTimeoutMs: number;
  readonly clientHeaderBufferSizeBytes: number;
  readonly largeClientHeaderBuffers: { readonly count: number; readonly sizeBytes: number };
  /** Absent while nginx's defaults apply (underscores off, invalid names ignored, 1000 headers). */
  readonly headerNames?: HeaderNameRules;
  /** Server-level rewrite phase (runs before location matching, as nginx). */
  readonly rewrites: readonly RewriteRule[];
  /** Server-level `set` (absent when none); runs with `rewrites` in file order (by loc). */
  readonly sets?: readonly { readonly variable: string; readonly value: Template; readonly loc: Loc }[];
  readonly returnDirective: { readonly code: number; readonly text: Template | null; readonly loc: Loc } | null;
  /** `stub_status` in the server block: requests no location matches get the status page; absent otherwise. */
  readonly stubStatus?: true;
  /** Server-level `if` / `break` (absent when none). */
  readonly extras?: readonly RewriteExtra[];
  /** Server-level `try_files` (used when no location matches; absent when none). */
  readonly tryFiles?: TryFilesConfig;
  /** TLS settings, used when the server is on an `ssl` listen (chosen by SNI). */
  readonly ssl: SslConfig;
  /** HTTP/2 offered to clients: `http2 on;` or a listen with `http2`. */
  readonly http2: boolean;
  /** http2_max_concurrent_streams (absent: 128, nginx's default). */
  readonly http2MaxConcurrentStreams?: number;
  /** http2_body_preread_size: the stream's initial window (absent: 256 KiB). */
  readonly http2BodyPrereadSizeBytes?: number;
  /** keepalive_time: how long a client connection may serve requests (absent: 1h, nginx's default). */
  readonly keepaliveTimeMs?: number;
  /** Settings used when no location matches (and inherited by locations). */
  readonly settings: LocationSettings;
  readonly locations: readonly LocationConfig[];
  readonly loc: Loc;
}
