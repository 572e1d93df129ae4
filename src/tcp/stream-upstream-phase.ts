/**
 * The upstream phase of a stream session, after preread, access, TLS and scripts (stream-site.ts
 * runs those): choose the group (`proxy_pass $var`, a Redis-fed key, the hash key), connect with
 * retries (proxy.ts), write the preread bytes and tunnel both ways, with js_filter when the server
 * has one. A session that cannot be proxied ends through StreamSite's abort/end, which log it.
 */
import type { Logger } from 'pino';
import { Tunnel } from '../core/tunnel.js';
import type { ErrorLogger } from '../log.js';
import { UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { ImplicitGroups } from '../upstream/implicit.js';
import { connectUpstream } from './proxy.js';
import { upstreamNameOf, type CompiledServer, type ListenSite } from './stream-compile.js';
import type { StreamScripts } from './stream-js.js';
import { streamRedisGroup, type StreamRedisUpstream } from './stream-redis.js';
import { proxyHeaderOf, type Session } from './stream-session.js';
import type { StreamTunnelTracker } from './stream-site-deps.js';
import type { SessionInfo } from './stream-vars.js';
import { secureUpstream, sessionTlsTarget, type UpstreamTlsSessions } from './upstream-tls.js';

/** How a session ends (StreamSite's): closed without an answer with `status`, or logged as it stands. */
export interface SessionEnds {
  abort(s: Session, received: number, status: number): void;
  end(s: Session): void;
}

export interface StreamUpstreamDeps {
  readonly logger: Logger;
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly dynamic: ImplicitGroups;
  readonly hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
  readonly redis: ReadonlyMap<string, StreamRedisUpstream>;
  readonly tlsSessions: UpstreamTlsSessions;
  readonly tunnels: StreamTunnelTracker | null;
  readonly scripts: StreamScripts | null;
  readonly ends: SessionEnds;
}

export class StreamUpstreamPhase {
  readonly #logger: Logger;
  readonly #groups: ReadonlyMap<string, UpstreamGroup>;
  readonly #dynamic: ImplicitGroups;
  readonly #hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
  readonly #redis: ReadonlyMap<string, StreamRedisUpstream>;
  readonly #tlsSessions: UpstreamTlsSessions;
  readonly #tunnels: StreamTunnelTracker | null;
  readonly #scripts: StreamScripts | null;
  readonly #ends: SessionEnds;

  constructor(deps: StreamUpstreamDeps) {
    this.#logger = deps.logger;
    this.#groups = deps.groups;
    this.#dynamic = deps.dynamic;
    this.#hashKeys = deps.hashKeys;
    this.#redis = deps.redis;
    this.#tlsSessions = deps.tlsSessions;
    this.#tunnels = deps.tunnels;
    this.#scripts = deps.scripts;
    this.#ends = deps.ends;
  }

  /** Proxy `s` to `server`'s upstream; `buffer` holds the bytes read so far (sent first). */
  async run(site: ListenSite, s: Session, server: CompiledServer, buffer: Buffer): Promise<void> {
    const cfg = server.config;
    const payload: Buffer = buffer;
    const upstream = upstreamNameOf(server, s);
    if (upstream === null) {
      this.#logger.error({ listen: site.key }, 'no handler configured for stream server');
      return this.#ends.abort(s, buffer.length, 500);
    }
    s.bytesReceived += buffer.length;

    let group = this.#groups.get(upstream);
    if (group === undefined && server.dynamicTarget !== null) {
      const found = this.#dynamic.resolve(upstream, null);
      group = (found instanceof Promise ? await found : found) ?? undefined;
      if (s.gone) return this.#ends.end(s);
    }
    if (group === undefined) {
      this.#logger.error({ upstream }, `upstream "${upstream}" not found`);
      return this.#ends.abort(s, 0, 500);
    }
    const hashKey = this.#hashKeys.get(group.name)?.(s) ?? null;
    const redis = this.#redis.size === 0 ? undefined : this.#redis.get(upstream);
    if (redis !== undefined) {
      const keyed = await streamRedisGroup(redis, s, this.#logger as unknown as ErrorLogger, { upstream, listen: site.key, client: s.remoteAddress });
      if (s.gone) return this.#ends.end(s);
      if (keyed === null) return this.#ends.abort(s, 0, 502);
      group = keyed;
    }
    const pp = cfg.proxyProtocolVersion === 0 ? null : proxyHeaderOf(cfg.proxyProtocolVersion, s);
    const upstreamTls = server.upstreamTls;
    const outcome = await connectUpstream(group, {
      clientAddress: s.remoteAddress,
      hashKey,
      connectTimeoutMs: cfg.proxyConnectTimeoutMs,
      nextUpstream: cfg.proxyNextUpstream,
      retry: server.retry,
      tcpNodelay: cfg.tcpNodelay,
      soKeepalive: cfg.soKeepalive || cfg.proxySocketKeepalive === true,
      attempts: (s.upstream = new UpstreamAttempts()),
      onAttempt: (attempt) => {
        s.pending = attempt;
        if (attempt !== null && s.gone) attempt.destroy();
      },
      aborted: () => s.gone,
      peerDisabled: (peer) => this.#logger.warn(
        { code: 'TSP_ERR_PEER_DISABLED', client: s.remoteAddress, server: site.key, upstream: peer.key },
        'upstream server temporarily disabled while connecting to upstream',
      ),
      establish: pp === null && upstreamTls === null ? undefined : async (raw, peer, attempt) => {
        if (pp !== null) {
          // In clear, before a proxy_ssl handshake (nginx sends it first too); on every try.
          raw.write(pp);
          attempt.bytesSent += pp.length;
        }
        if (upstreamTls === null) return raw;
        const secured = await secureUpstream(raw, sessionTlsTarget(upstreamTls, s, upstream), peer.key, this.#tlsSessions, cfg.proxyConnectTimeoutMs);
        if (typeof secured === 'string' && !s.gone) {
          this.#logger.error({ code: 'TSP_ERR_UPSTREAM_CONNECT', upstream, listen: site.key, client: s.remoteAddress, peer: peer.key }, secured);
        }
        return secured;
      },
    });
    if (outcome.kind === 'aborted') return this.#ends.end(s);
    if (outcome.kind === 'failed') {
      const tried = s.upstream.list.map((a) => a.addr);
      const { error } = outcome;
      this.#logger.error({ code: error.code, upstream, listen: site.key, client: s.remoteAddress, tried }, error.message);
      return this.#ends.abort(s, 0, error.status);
    }

    const { peer, socket: up, reader } = outcome;
    const attempt = s.upstream.last!;
    const filter = server.js?.filter ?? null;
    if (payload.length > 0 && filter === null) {
      up.write(payload);
      attempt.bytesSent += payload.length;
    }
    const entry = this.#tunnels?.register(
      { kind: 'tcp', listen: site.key, node: cfg, upstream },
      { client: s.socket, upstream: up, websocket: false },
    );
    const options = {
      idleTimeoutMs: cfg.proxyTimeoutMs, halfClose: cfg.proxyHalfClose, uploadRateBytes: cfg.proxyUploadRateBytes, downloadRateBytes: cfg.proxyDownloadRateBytes,
    };
    const onEnd = (end: Tunnel): void => {
      entry?.unregister();
      group.release(peer, false);
      s.bytesSent += end.bytesToClient;
      s.bytesReceived += end.bytesFromClient;
      attempt.bytesSent += end.bytesFromClient;
      attempt.bytesReceived += end.bytesToClient;
      if (end.firstUpstreamByteAt !== 0) attempt.firstByteMs = end.firstUpstreamByteAt - attempt.startMs;
      attempt.end(Date.now());
      if (end.idleTimedOut) this.#logger.info({ listen: site.key, upstream, peer: peer.key }, 'proxy timed out');
      this.#ends.end(s);
    };
    const tunnel = filter === null ? new Tunnel(s.socket, up, options, onEnd) : this.#scripts!.filterTunnel(s, filter, up, options, onEnd);
    if (tunnel === null) {
      // js_filter's function threw (logged): the session ends as njs ends it.
      up.destroy();
      group.release(peer, false);
      entry?.unregister();
      attempt.end(Date.now());
      return this.#ends.abort(s, 0, 500);
    }
    s.tunnel = tunnel;
    tunnel.listen(reader);
    if (filter !== null && payload.length > 0) {
      // The preread bytes go through the upload handler too (the tunnel counts them).
      s.bytesReceived -= payload.length;
      tunnel.fromClient(payload);
    }
  }
}
