/** What a StreamSite is given by the runtime (stream-site.ts): groups, logs, shared zones, the HTTP engine for websocket_pass, scripts. */
import type net from 'node:net';
import type { Logger } from 'pino';
import type { StreamServerConfig } from '../config/stream-types.js';
import type { AccessLogConfig } from '../config/types.js';
import type { StreamServerStats } from '../core/status/server-stats.js';
import type { JsModules } from '../core/js/loader.js';
import type { LimitService } from '../core/limits/service.js';
import type { SessionZones } from '../tls/sessions.js';
import type { TlsInfo } from '../tls/info.js';
import type { UpstreamGroup } from '../upstream/group.js';

export interface StreamSiteDeps {
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly logger: Logger;
  openAccessLog(path: string, buffering?: AccessLogConfig['buffering']): { write(line: string): void };
  /** Where tunnels are reported, so a reload can close those whose route vanished (src/runtime/connections.ts). */
  readonly tunnels?: StreamTunnelTracker;
  /** Who serves websocket_pass connections, per listen key: the runtime's HTTP engine (#handOff). */
  readonly websocketHandoff?: (listenKey: string) => WebsocketHandoff | null;
  /** The runtime's ssl_session_cache shared zones (kept across reloads; the primary's with workers). */
  readonly tlsSessions?: SessionZones;
  /** The runtime's limit_conn zones (kept across reloads; the primary's with workers). */
  readonly limits?: LimitService;
  /** worker_connections: UDP sessions at once per UDP listen; unset: no limit. */
  readonly maxUdpSessions?: number;
  /** The status counters of a server block, kept across reloads (the runtime's StatusRegistry). */
  readonly streamStats?: (server: StreamServerConfig) => StreamServerStats;
  /** The modules of stream {}'s js_import, loaded by the snapshot; absent without scripts. */
  readonly scripts?: JsModules | null;
  /** Whether stream {} sets ngx's globals (false when http {} has scripts: it does). */
  readonly scriptGlobals?: boolean;
}

/** What the HTTP engine needs of a connection the stream side accepted (its AcceptedConnection). */
export interface HandedOffConnection {
  readonly tls: TlsInfo | null;
  readonly proxyProtocolAddr: string | null;
  readonly proxyProtocolPort: number | null;
  readonly remoteAddr: string;
  readonly remotePort: number;
}

export type WebsocketHandoff = (socket: net.Socket, accepted: HandedOffConnection, buffered: Buffer) => void;

export interface StreamTunnelTracker {
  register(
    route: { kind: 'tcp'; listen: string; node: object | null; upstream: string },
    sockets: { client: net.Socket; upstream: net.Socket; websocket: boolean },
  ): { unregister(): void };
}
