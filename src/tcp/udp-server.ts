/**
 * UdpServer: the sessions of one `listen ... udp` of a config (nginx's UDP stream sessions, one
 * per client address:port). A datagram from an address without a session starts one: limit_conn,
 * allow/deny, then `return` (one datagram back) or a peer picked as for TCP (same balancers,
 * passive health, $upstream_* records, proxy_next_upstream over failed connects) and a connected
 * datagram socket to it (udp-session.ts relays and decides the end). One server per UDP listen
 * (validate.ts), so no name routing. The access log and error lines are the stream ones, with
 * nginx's UDP wording ("udp client", "udp done", "udp timed out").
 */
import type { StreamServerConfig } from '../config/stream-types.js';
import type { StreamServerStats } from '../core/status/server-stats.js';
import { accountSession } from './stream-session.js';
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { PeerTries } from '../core/retry.js';
import { connectionStats } from '../core/connection-stats.js';
import { ProxyError, systemErrorText } from '../errors.js';
import type { LimitService } from '../core/limits/service.js';
import type { ErrorLogger } from '../log.js';
import { UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';
import { unmap } from '../wire/ip.js';
import { upstreamNameOf, type CompiledServer, type ListenSite } from './stream-compile.js';
import { applyStreamLimits, releaseStreamLimits } from './stream-limits.js';
import type { SessionInfo } from './stream-vars.js';
import { UdpSession, type UdpRelaySettings, type UdpSessionOwner } from './udp-session.js';
import type { StreamScripts } from './stream-js.js';

export interface UdpServerDeps {
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly logger: Logger;
  readonly hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
  readonly limits: LimitService;
  /** worker_connections: sessions at once per UDP listen (a flood of new addresses cannot exhaust sockets). */
  readonly maxSessions: number;
  /** `proxy_pass $var` naming no upstream: its implicit group (stream-site.ts's ImplicitGroups). */
  resolveDynamic(target: string): UpstreamGroup | null | Promise<UpstreamGroup | null>;
  /** The status counters of a server block (none without a StatusRegistry). */
  stats?(server: StreamServerConfig): StreamServerStats | undefined;
  /** stream {}'s scripts (a server with js_* has a plan only when there are). */
  readonly scripts: StreamScripts | null;
}

/** The relay settings of a server, made once per config. */
const relaySettings = new WeakMap<CompiledServer, UdpRelaySettings>();

function settingsOf(server: CompiledServer): UdpRelaySettings {
  let s = relaySettings.get(server);
  if (s === undefined) {
    const c = server.config;
    s = { responses: c.proxyResponses ?? null, requests: c.proxyRequests ?? 0, timeoutMs: c.proxyTimeoutMs };
    relaySettings.set(server, s);
  }
  return s;
}

export class UdpServer implements UdpSessionOwner {
  readonly logger: Logger;
  readonly #errorLog: ErrorLogger;
  readonly #site: ListenSite;
  readonly #deps: UdpServerDeps;
  /** Sessions by client "address port" (a detached session is no longer here). */
  readonly #byClient = new Map<string, UdpSession>();
  /** Every session not ended, detached ones too. */
  readonly #sessions = new Set<UdpSession>();
  /** The local address of each listening socket (asked once: a system call). */
  readonly #locals = new WeakMap<dgram.Socket, { address: string; port: number }>();
  #closed = false;
  /** When "worker_connections are not enough" was last logged (at most once a second). */
  #fullLoggedAt = 0;

  constructor(site: ListenSite, deps: UdpServerDeps) {
    this.#site = site;
    this.#deps = deps;
    this.logger = deps.logger;
    this.#errorLog = deps.logger as unknown as ErrorLogger;
  }

  /** The datagram handler the runtime calls for this listen. */
  readonly onDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket): void => {
    const key = `${rinfo.address} ${rinfo.port}`;
    const session = this.#byClient.get(key);
    if (session !== undefined) {
      session.fromClient(msg);
      return;
    }
    if (this.#closed) return;
    if (this.#sessions.size >= this.#deps.maxSessions) {
      // nginx drops the datagram with this alert; logged once a second at most (a flood of new
      // source addresses would otherwise write a line per datagram).
      const now = Date.now();
      if (now - this.#fullLoggedAt >= 1000) {
        this.#fullLoggedAt = now;
        this.#errorLog.alert({ listen: this.#site.key }, `${this.#deps.maxSessions} worker_connections are not enough`);
      }
      return;
    }
    const s = new UdpSession(this.#site, rinfo, key, via, this.#localOf(via), this);
    this.#byClient.set(key, s);
    this.#sessions.add(s);
    connectionStats.accepted++;
    connectionStats.active++;
    connectionStats.stream++;
    s.fromClient(msg);
    this.#start(s).catch((err: unknown) => {
      this.logger.error({ err, listen: this.#site.key }, 'udp session failed');
      s.finish(500);
    });
  };

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** No new sessions (a reload retired this config); running ones go on until they end. */
  close(): void {
    this.#closed = true;
  }

  /** End every session now (fast stop). */
  destroySessions(): void {
    for (const s of this.#sessions) s.finish(200);
  }

  detach(s: UdpSession): void {
    s.detached = true;
    if (this.#byClient.get(s.clientKey) === s) this.#byClient.delete(s.clientKey);
  }

  ended(s: UdpSession): void {
    if (!this.#sessions.delete(s)) return;
    this.detach(s);
    connectionStats.active--;
    connectionStats.stream--;
    const now = Date.now();
    const { peer, group, attempt } = s;
    if (attempt !== null) attempt.end(now);
    if (peer !== null && group !== null && group.release(peer, s.readFailed || s.writeFailed)) {
      this.logger.warn({ code: 'TSP_ERR_PEER_DISABLED', ...s.errorContext() }, 'upstream server temporarily disabled while proxying connection');
    }
    releaseStreamLimits(s, this.#deps.limits);
    s.endedAt = now;
    accountSession(s, this.#deps.stats?.(s.server.config));
    for (const log of s.server.logs) log.write(s);
  }

  #localOf(via: dgram.Socket): { address: string; port: number } {
    let local = this.#locals.get(via);
    if (local === undefined) {
      try {
        const a = via.address();
        local = { address: unmap(a.address), port: a.port };
      } catch {
        local = { address: '', port: 0 };
      }
      this.#locals.set(via, local);
    }
    return local;
  }

  async #start(s: UdpSession): Promise<void> {
    const server = s.server;
    // nginx's preaccess phase (limit_conn) comes before its access phase (allow/deny).
    if (server.limits !== null && !(await applyStreamLimits(s, server.limits, this.#deps.limits, this.#errorLog))) {
      return s.finish(503);
    }
    if (s.gone) return;
    if (!server.access(s.remoteAddress)) {
      this.logger.error(s.errorContext(), 'access forbidden by rule while initializing session');
      return s.finish(403);
    }
    if (server.js !== null) {
      const status = await this.#deps.scripts!.datagramPhases(s, server.js);
      if (s.gone) return;
      if (status !== 0) return s.finish(status);
    }
    if (server.ret !== null) {
      s.answer(Buffer.from(server.ret(s)));
      return;
    }
    const upstream = upstreamNameOf(server, s);
    if (upstream === null) {
      this.logger.error({ listen: this.#site.key }, 'no handler configured for stream server');
      return s.finish(500);
    }
    let group = this.#deps.groups.get(upstream) ?? null;
    if (group === null && server.dynamicTarget !== null) {
      const found = this.#deps.resolveDynamic(upstream);
      group = found instanceof Promise ? await found : found;
      if (s.gone) return;
    }
    if (group === null) {
      this.logger.error({ upstream }, `upstream "${upstream}" not found`);
      return s.finish(500);
    }
    await this.#connect(s, group, server);
  }

  /**
   * Pick and connect a datagram socket, as nginx: a connect that fails at once (no route, an
   * address of the wrong family) is a failed try and proxy_next_upstream may take the next peer;
   * what fails later (ICMP, no answer) fails the session, not the try (udp-session.ts).
   */
  async #connect(s: UdpSession, group: UpstreamGroup, server: CompiledServer): Promise<void> {
    const cfg = server.config;
    const attempts = (s.upstream = new UpstreamAttempts());
    const tries = new PeerTries(server.retry);
    tries.start(group);
    const hashKey = this.#deps.hashKeys.get(group.name)?.(s) ?? null;
    for (;;) {
      const peer = tries.pick(s.remoteAddress, hashKey);
      if (peer === null) {
        tries.noPeer(attempts)?.end(Date.now());
        this.logger.error({ ...s.errorContext(), upstream: group.name }, 'no live upstreams while connecting to upstream');
        return s.finish(502);
      }
      const attempt = tries.begin(peer, attempts);
      const result = await connectDatagram(peer);
      if (s.gone) {
        tries.release(peer, false);
        attempt.end(Date.now());
        if (!(result instanceof Error)) result.close();
        return;
      }
      if (!(result instanceof Error)) {
        attempt.connectMs = Date.now() - attempt.startMs;
        s.attach(result, peer, group, attempt, settingsOf(server));
        return;
      }
      attempt.end(Date.now());
      this.#errorLog[connectFailureLevel(result)]({ ...s.errorContext(), upstream: peer.key }, `connect() to ${peer.key} failed (${systemErrorText(result)}) while connecting to upstream`);
      if (tries.release(peer, true)) {
        this.logger.warn({ code: 'TSP_ERR_PEER_DISABLED', ...s.errorContext(), upstream: peer.key }, 'upstream server temporarily disabled while connecting to upstream');
      }
      tries.markTried(peer);
      if (!cfg.proxyNextUpstream || !tries.budgetLeft()) return s.finish(502);
    }
  }
}

/** nginx's level for a failed connect(): error for what the network says, crit for the rest (EACCES, ...). */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'EAGAIN', 'ECONNRESET', 'ENETDOWN', 'ENETUNREACH', 'EHOSTDOWN', 'EHOSTUNREACH']);

function connectFailureLevel(err: Error): 'error' | 'crit' {
  return NETWORK_ERRORS.has((err as NodeJS.ErrnoException).code ?? '') ? 'error' : 'crit';
}

function upstreamSocketOnError(): void {
  // Until the session listens (a few ticks), an ICMP error must not be an unhandled 'error'.
}

/** A datagram socket connected to `peer`, or why it could not be. */
function connectDatagram(peer: Peer): Promise<dgram.Socket | Error> {
  return new Promise((resolve) => {
    if (peer.path !== null || peer.host === null) {
      resolve(new ProxyError('TSP_ERR_UPSTREAM_CONNECT', 'a unix socket peer takes no datagrams', 502, true));
      return;
    }
    const socket = dgram.createSocket(peer.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', upstreamSocketOnError);
    const failed = (err: Error): void => {
      try {
        socket.close();
      } catch {
        // not open
      }
      resolve(err);
    };
    try {
      socket.connect(peer.port, peer.host, (err?: Error) => (err === undefined || err === null ? resolve(socket) : failed(err)));
    } catch (err) {
      failed(err as Error); // a port or address dgram refuses outright
    }
  });
}
