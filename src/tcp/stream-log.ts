/**
 * nginx's stream variables: what a session exposes (SessionInfo) and a getter per name. The
 * compilers that turn templates and log formats into getters are in stream-vars.ts.
 */
import os from 'node:os';
import { ATTEMPT_VALUES, secondsOrDash, type UpstreamAttempt, type UpstreamAttempts } from '../upstream/attempts.js';
import { SSL_VARIABLES, type TlsInfo } from '../tls/info.js';

/** nginx's predefined stream format `basic`. */
export const BASIC_LOG_FORMAT =
  '$remote_addr [$time_local] $protocol $status $bytes_sent $bytes_received $session_time';

/** What a stream variable may read; the StreamSite session implements it. */
export interface SessionInfo {
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
}

export type Variable = (s: SessionInfo) => string;

const HOSTNAME = os.hostname();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

function tzOffset(d: Date, colon: boolean): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${sign}${pad(Math.floor(abs / 60))}${colon ? ':' : ''}${pad(abs % 60)}`;
}

/** "10/Oct/2000:13:55:36 -0700", as nginx $time_local. */
export function timeLocal(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tzOffset(d, false)}`;
}

function timeIso(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${tzOffset(d, true)}`;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/** A `$upstream_*` list, '' before any try. */
function attempts(value: (a: UpstreamAttempt) => string): Variable {
  return (s) => s.upstream?.format(value) ?? '';
}

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
  protocol: () => 'TCP',
  connection: (s) => String(s.connection),
  ssl_preread_server_name: (s) => s.sslPrereadServerName ?? '',
  ssl_preread_alpn_protocols: (s) => s.sslPrereadAlpn.join(','),
  proxy_protocol_addr: (s) => s.proxyProtocolAddress ?? '',
  proxy_protocol_port: (s) => (s.proxyProtocolPort === null ? '' : String(s.proxyProtocolPort)),
  host: (s) => s.host ?? '',
  realip_remote_addr: (s) => s.realipRemoteAddress ?? s.remoteAddress,
  realip_remote_port: (s) => String(s.realipRemotePort ?? s.remotePort),
  time_local: (s) => timeLocal(s.endedAt),
  time_iso8601: (s) => timeIso(s.endedAt),
  msec: (s) => seconds(s.endedAt),
  pid: () => String(process.pid),
  hostname: () => HOSTNAME,
  ...Object.fromEntries(Object.entries(SSL_VARIABLES).map(([name, get]) => [name, (s: SessionInfo) => get(s.tls ?? null)])),
};

/** nginx `escape=default`: `"`, `\` and bytes outside printable ASCII become \xHH. */
export function escapeDefault(v: string): string {
  return v.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function escapeJson(v: string): string {
  return JSON.stringify(v).slice(1, -1);
}
