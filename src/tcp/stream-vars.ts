/**
 * stream's variables (nginx's stream core, upstream, realip, ssl_preread and ssl modules): what a
 * session exposes to them (SessionInfo) and a getter per name (STREAM_VARIABLES), bound to the
 * engine in core/variables/ that compiles templates, `map` blocks and log formats once per
 * config, e.g. routing by SNI with `map $ssl_preread_server_name $backend { ... }` and
 * `proxy_pass $backend;`. A session only runs the compiled getters.
 */
import os from 'node:os';
import type { LogFormatConfig, MapConfig } from '../config/types.js';
import { compileLogFormat as compileLogWith } from '../core/variables/log-format.js';
import { compileMaps, type VariableModules } from '../core/variables/maps.js';
import { compileTemplate, type Getter, type TemplateScope, type VariableScope, type VariableTable } from '../core/variables/template.js';
import { timeIso8601, timeLocal } from '../core/variables/time.js';
import { SSL_VARIABLES, type TlsInfo } from '../tls/info.js';
import { ATTEMPT_VALUES, seconds, secondsOrDash, type UpstreamAttempt, type UpstreamAttempts } from '../upstream/attempts.js';

/** nginx's predefined stream format `basic`. */
export const BASIC_LOG_FORMAT =
  '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time';

/** What a stream variable may read; the StreamSite session implements it. */
export interface SessionInfo extends VariableScope {
  readonly connection: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly serverAddress: string;
  readonly serverPort: number;
  /** Bytes sent to / received from the client. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Epoch ms of accept, and of the end (the log time). */
  readonly startedAt: number;
  readonly endedAt: number;
  /** Every upstream try, in order ($upstream_* list one value per try); null before the first. */
  readonly upstream: UpstreamAttempts | null;
  readonly status: number;
  readonly sslPrereadServerName: string | null;
  readonly sslPrereadAlpn: readonly string[];
  /** The highest TLS version the ClientHello offers (0: none read). */
  readonly sslPrereadVersion?: number;
  readonly proxyProtocolAddress: string | null;
  readonly proxyProtocolPort: number | null;
  /** Host of a websocket_pass request head, null otherwise. */
  readonly host: string | null;
  readonly serverName: string;
  /** The socket's peer before realip replaced remoteAddress/remotePort (nginx $realip_remote_addr). */
  readonly realipRemoteAddress?: string;
  readonly realipRemotePort?: number;
  /** TLS state of a session on an `ssl` listen, else null/absent. */
  readonly tls?: TlsInfo | null;
  /** $limit_conn_status, '' before limit_conn decided. */
  readonly limitConnStatus?: string;
  /** A session of a `udp` listen ($protocol UDP). */
  readonly udp?: boolean;
}

export type Variable = Getter<SessionInfo>;

/** Map variables by name (without `$`). */
export type StreamMaps = ReadonlyMap<string, Variable>;

export type StreamTemplateContext = TemplateScope<SessionInfo>;

const HOSTNAME = os.hostname();

/** A `$upstream_*` list, '' before any try. */
function attempts(value: (a: UpstreamAttempt) => string): Variable {
  return (s) => s.upstream?.format(value) ?? '';
}

/** Every name of config/template.ts STREAM_BUILTIN_VARIABLES (test/tcp/stream-vars.test.ts keeps both equal). */
/** nginx's names for ClientHello versions 0x0300..0x0304 ($ssl_preread_protocol). */
const TLS_VERSION_NAMES: readonly string[] = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export const STREAM_VARIABLES: Readonly<Record<string, Variable>> = {
  remote_addr: (s) => s.remoteAddress,
  remote_port: (s) => String(s.remotePort),
  binary_remote_addr: (s) => s.remoteAddress,
  server_addr: (s) => s.serverAddress,
  server_port: (s) => String(s.serverPort),
  server_name: (s) => s.serverName,
  bytes_sent: (s) => String(s.bytesSent),
  bytes_received: (s) => String(s.bytesReceived),
  session_time: (s) => seconds(s.endedAt - s.startedAt),
  ...Object.fromEntries(Object.entries(ATTEMPT_VALUES).map(([name, value]) => [name, attempts(value)])),
  upstream_first_byte_time: attempts((a) => secondsOrDash(a.firstByteMs)),
  upstream_session_time: attempts((a) => secondsOrDash(a.endMs)),
  status: (s) => String(s.status),
  protocol: (s) => (s.udp === true ? 'UDP' : 'TCP'),
  connection: (s) => String(s.connection),
  ssl_preread_server_name: (s) => s.sslPrereadServerName ?? '',
  ssl_preread_alpn_protocols: (s) => s.sslPrereadAlpn.join(','),
  ssl_preread_protocol: (s) => TLS_VERSION_NAMES[(s.sslPrereadVersion ?? 0) - 0x0300] ?? '',
  proxy_protocol_addr: (s) => s.proxyProtocolAddress ?? '',
  proxy_protocol_port: (s) => (s.proxyProtocolPort === null ? '' : String(s.proxyProtocolPort)),
  host: (s) => s.host ?? '',
  realip_remote_addr: (s) => s.realipRemoteAddress ?? s.remoteAddress,
  realip_remote_port: (s) => String(s.realipRemotePort ?? s.remotePort),
  // the time of the log line, which is the session's end
  time_local: (s) => timeLocal(s.endedAt),
  time_iso8601: (s) => timeIso8601(s.endedAt),
  msec: (s) => seconds(s.endedAt),
  pid: () => String(process.pid),
  hostname: () => HOSTNAME,
  limit_conn_status: (s) => s.limitConnStatus ?? '',
  ...Object.fromEntries(Object.entries(SSL_VARIABLES).map(([name, get]) => [name, (s: SessionInfo) => get(s.tls ?? null)])),
};

/** stream's variables for the engine in core/variables/: no prefix families. */
export const STREAM_TABLE: VariableTable<SessionInfo> = { builtins: STREAM_VARIABLES, families: {}, emptyIsSet: new Set() };

const NONE: StreamTemplateContext = { maps: new Map(), declared: new Set() };

/** `text with $vars` against the stream variables and the config's maps (proxy_pass, hash keys). */
export function compileStreamTemplate(template: string, ctx: StreamTemplateContext = NONE): Variable {
  return compileTemplate(template, STREAM_TABLE, ctx);
}

/** A stream log_format: every line ends in a newline (the sinks write lines as they are). */
export function compileLogFormat(template: string, escape: LogFormatConfig['escape'] = 'default', ctx: StreamTemplateContext = NONE): Variable {
  return compileLogWith({ template, escape }, STREAM_TABLE, ctx, '\n');
}

/** stream's `map`, `geo` and `split_clients` blocks → variables (core/variables/maps.ts). */
export function compileStreamMaps(maps: readonly MapConfig[], declared: ReadonlySet<string> = new Set(), modules: VariableModules = {}): StreamMaps {
  return compileMaps(maps, STREAM_TABLE, declared, modules);
}
