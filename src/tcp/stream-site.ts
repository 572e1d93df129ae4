/**
 * StreamSite: the tcp {} / stream {} servers of one config, as connection handlers per listen key.
 * A session reads a PROXY header if the listen asks for one, peeks the TLS ClientHello (SNI) or
 * the HTTP head (websocket_pass) when it must choose among servers, checks allow/deny, connects
 * to an upstream peer and pipes bytes both ways. Without `listen ... ssl` TLS passes through:
 * peeked bytes are forwarded exactly as read (only a websocket_pass head gains X-Forwarded-For /
 * X-Real-IP); with it, TLS is terminated with the SNI-chosen server's settings (#terminate) and
 * the upstream gets plain TCP. What is compiled once per config is in stream-compile.ts; the
 * upstream phase (group, connect, tunnel) is stream-upstream-phase.ts.
 */
import type { StreamServerConfig } from '../config/stream-types.js';
import type { StreamServerStats } from '../core/status/server-stats.js';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { StreamConfig } from '../config/types.js';
import type { UpstreamGroup } from '../upstream/group.js';
import { errorPage, statusText } from '../wire/error-page.js';
import { peekRequestHost, type HttpPeek } from './http-peek.js';
import { UpstreamTlsSessions } from './upstream-tls.js';
import { parseClientHello, type ClientHelloResult } from '../wire/tls-client-hello.js';
import { ImplicitGroups } from '../upstream/implicit.js';
import { compileStreamSteps, effectiveSsl, NO_ALPN, type CompiledStream, type ListenSite } from './stream-compile.js';
import { runNow, type Steps } from '../time-slicer.js';
import type { SessionInfo } from './stream-vars.js';
import { Session, accountSession } from './stream-session.js';
import { startHandshake } from '../tls/accept.js';
import { preread, prereadProxyHeader } from '../tls/preread.js';
import { TlsServers } from '../tls/context.js';
import { tlsInfoOf } from '../tls/info.js';
import { LocalLimits, type LimitService } from '../core/limits/service.js';
import { connectionStats } from '../core/connection-stats.js';
import type { ErrorLogger } from '../log.js';
import { applyStreamLimits, releaseStreamLimits } from './stream-limits.js';
import { UdpServer } from './udp-server.js';
import { streamRedisUpstreams } from './stream-redis.js';
import type dgram from 'node:dgram';
import type { StreamSiteDeps, WebsocketHandoff } from './stream-site-deps.js';
import { StreamScripts } from './stream-js.js';
import { StreamUpstreamPhase } from './stream-upstream-phase.js';

/** What a server-choosing peek found. */
type Peeked =
  | { readonly kind: 'tls'; readonly hello: ClientHelloResult }
  | { readonly kind: 'http'; readonly head: HttpPeek }
  | { readonly kind: 'other' };

const OTHER: Peeked = Object.freeze({ kind: 'other' });

function socketOnError(): void {
  // Errors end the session through 'close'; this listener only keeps them from being thrown.
}

export class StreamSite {
  readonly #sites: ReadonlyMap<string, ListenSite>;
  readonly #groups: ReadonlyMap<string, UpstreamGroup>;
  readonly #logger: Logger;
  readonly #hashKeys: ReadonlyMap<string, (s: SessionInfo) => string>;
  readonly #sessions = new Set<Session>();
  /** `proxy_pass $var`: the group the value names (an address has no default port in stream, as nginx). */
  readonly #dynamic: ImplicitGroups;
  readonly #websocketHandoff: ((listenKey: string) => WebsocketHandoff | null) | null;
  /** TLS contexts of this config, one per SslConfig (src/tls/context.ts). */
  readonly #tls: TlsServers;
  /** What runs once a session is to be proxied: group, connect, tunnel (stream-upstream-phase.ts). */
  readonly #upstream: StreamUpstreamPhase;
  readonly #limits: LimitService;
  readonly #maxUdpSessions: number;
  /** Status counters per server block (none without a StatusRegistry). */
  readonly #stats = new Map<StreamServerConfig, StreamServerStats>();
  /** The servers of `udp` listens, by listen key (made on first use). */
  readonly #udp = new Map<string, UdpServer>();
  #closed = false;
  readonly #scripts: StreamScripts | null;

  /** --explain (runtime/explain/stream.ts): what #serve routes a session of `listenKey` with. */
  explainView(listenKey: string): { site: ListenSite; groups: ReadonlyMap<string, UpstreamGroup>; hashKeys: ReadonlyMap<string, (s: SessionInfo) => string> } | null {
    const site = this.#sites.get(listenKey);
    return site === undefined ? null : { site, groups: this.#groups, hashKeys: this.#hashKeys };
  }

  /** Build a site at once (tests); a reload builds it in steps (StreamSite.steps) with the same code. */
  constructor(stream: StreamConfig, deps: StreamSiteDeps, parts: StreamSiteParts = runNow(streamSiteParts(stream, deps))) {
    this.#limits = deps.limits ?? new LocalLimits();
    for (const [server, stats] of parts.stats) this.#stats.set(server, stats);
    this.#maxUdpSessions = deps.maxUdpSessions ?? Number.POSITIVE_INFINITY;
    this.#tls = parts.tls;
    this.#groups = deps.groups;
    this.#websocketHandoff = deps.websocketHandoff ?? null;
    this.#logger = parts.logger;
    this.#dynamic = new ImplicitGroups({
      named: deps.groups,
      namespace: 'stream dynamic ',
      keepalive: { keepalive: 0, keepaliveTimeoutMs: 60_000, keepaliveRequests: 1000, keepaliveTimeMs: 3_600_000 },
      // bounded: client-controlled values (an SNI through a map) cannot grow memory without limit
      maxCached: 256,
    });
    const scripts = parts.scripts;
    this.#scripts = scripts;
    const compiled = parts.compiled;
    this.#sites = compiled.sites;
    this.#hashKeys = compiled.hashKeys;
    this.#upstream = new StreamUpstreamPhase({
      logger: this.#logger, groups: deps.groups, dynamic: this.#dynamic, hashKeys: compiled.hashKeys,
      redis: streamRedisUpstreams(deps.groups, compiled.redisKeys), tlsSessions: new UpstreamTlsSessions(),
      tunnels: deps.tunnels ?? null, scripts,
      ends: { abort: (s, received, status) => this.#abort(s, received, status), end: (s) => this.#end(s) },
    });
  }

  /** The site built in steps (a reload pauses between servers; see src/time-slicer.ts). */
  static *steps(stream: StreamConfig, deps: StreamSiteDeps): Steps<StreamSite> {
    return new StreamSite(stream, deps, yield* streamSiteParts(stream, deps));
  }

  /** The connection handler for one listen key (the runtime calls it per accepted socket). */
  handler(listenKey: string): (socket: net.Socket) => void {
    const site = this.#sites.get(listenKey);
    return (socket) => {
      socket.on('error', socketOnError);
      if (site === undefined || this.#closed) {
        socket.destroy();
        return;
      }
      const session = new Session(socket, site);
      this.#sessions.add(session);
      connectionStats.stream++;
      this.#serve(site, session).catch((err: unknown) => {
        this.#logger.error({ err, listen: listenKey }, 'stream session failed');
        session.status = 500;
        socket.destroy();
        this.#end(session);
      });
    };
  }

  /** The datagram handler of a `udp` listen (the runtime calls it per datagram). */
  datagramHandler(listenKey: string): (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket) => void {
    const site = this.#sites.get(listenKey);
    if (site === undefined) return () => {};
    let udp = this.#udp.get(listenKey);
    if (udp === undefined) {
      udp = new UdpServer(site, {
        groups: this.#groups, logger: this.#logger, hashKeys: this.#hashKeys, limits: this.#limits, maxSessions: this.#maxUdpSessions,
        stats: (server) => this.#stats.get(server), resolveDynamic: (target) => this.#dynamic.resolve(target, null), scripts: this.#scripts });
      this.#udp.set(listenKey, udp);
    }
    return udp.onDatagram;
  }

  /** Number of sessions in progress, TCP and UDP (tests, graceful stop). */
  get activeSessions(): number {
    let n = this.#sessions.size;
    for (const u of this.#udp.values()) n += u.activeSessions;
    return n;
  }

  /** This config serves now: its js_periodic tasks start (close() stops them). */
  startScripts(): void { this.#scripts?.periodic?.start(); }
  /**
   * Stop handing new connections to this site. Sessions already running keep flowing: a reload
   * retires the old site while its tunnels live on (the runtime decides when to cut them).
   */
  close(): void {
    this.#closed = true;
    this.#scripts?.periodic?.stop();
    for (const u of this.#udp.values()) u.close();
  }

  /** Destroy every running session now (fast stop). */
  destroySessions(): void {
    for (const u of this.#udp.values()) u.destroySessions();
    for (const s of this.#sessions) {
      s.tunnel?.destroy();
      s.pending?.destroy();
      s.socket.destroy();
    }
  }

  async #serve(site: ListenSite, s: Session): Promise<void> {
    const socket = s.socket;
    // We pass each FIN on ourselves; the listener's default would close our write side early.
    socket.allowHalfOpen = true;
    socket.once('close', () => {
      s.gone = true;
      s.pending?.destroy();
    });
    let buffer: Buffer = Buffer.alloc(0);

    if (site.proxyProtocol) {
      const r = await prereadProxyHeader(socket, buffer, site.prereadTimeoutMs);
      if (r.kind !== 'done' || r.value.kind !== 'ok') {
        if (r.kind === 'done' && r.value.kind === 'invalid') {
          this.#logger.info({ listen: site.key, client: s.remoteAddress }, `broken header: ${r.value.reason}`);
        }
        return this.#abort(s, r.buffer.length, 400);
      }
      const h = r.value.header;
      if (h.family === 'tcp4' || h.family === 'tcp6') {
        s.proxyProtocolAddress = h.sourceAddress;
        s.proxyProtocolPort = h.sourcePort;
      }
      s.bytesReceived += r.value.length;
      buffer = r.buffer.subarray(r.value.length);
    }

    let server = site.defaultServer;
    if (site.peek) {
      const r = await preread<Peeked>(socket, buffer, site.prereadTimeoutMs, (b) => {
        if (b.length === 0) return undefined;
        if (b[0] === 0x16) {
          const hello = parseClientHello(b, site.prereadBufferBytes);
          return hello.kind === 'incomplete' ? undefined : { kind: 'tls', hello };
        }
        if (!site.hasWebsocket) return OTHER;
        const h = peekRequestHost(b);
        return h.kind === 'incomplete' ? undefined : { kind: 'http', head: h };
      });
      buffer = r.buffer;
      if (r.kind !== 'done') return this.#abort(s, buffer.length, r.kind === 'timeout' ? 200 : 400);
      const p = r.value;
      if (p.kind === 'tls' && p.hello.kind === 'tooLarge') {
        // nginx: "preread buffer full", the session ends (400)
        this.#logger.error({ listen: site.key, client: s.remoteAddress }, 'preread buffer full while prereading client data');
        return this.#abort(s, buffer.length, 400);
      }
      if (p.kind === 'tls' && p.hello.kind === 'ok') {
        s.sslPrereadServerName = p.hello.hello.serverName;
        s.sslPrereadAlpn = p.hello.hello.alpn;
        s.sslPrereadVersion = p.hello.hello.version;
        server = site.names.find(s.sslPrereadServerName).server;
      } else if (p.kind === 'http' && p.head.kind === 'ok') {
        // The first request's Host chooses the server whose allow/deny and TLS apply (the HTTP
        // engine then routes every request, this one included, by its own Host and path).
        s.host = p.head.host;
        server = site.names.find(s.host).server;
      } else if (p.kind === 'http' && site.defaultServer.routes !== null) {
        // The HTTP engine would give the same answer: it parses with the same parser.
        s.server = site.defaultServer;
        return this.#respond(s, buffer.length, p.head.kind === 'invalid' ? p.head.status : 400);
      }
      if (site.ssl && !(p.kind === 'tls' && p.hello.kind === 'ok')) {
        const stats = this.#stats.get(server.config);
        if (stats !== undefined) stats.tlsFailures++;
        this.#logger.info({ listen: site.key, client: s.remoteAddress }, 'TLS handshake failed: not a TLS ClientHello');
        return this.#abort(s, buffer.length, 400);
      }
    }
    s.server = server;
    const cfg = server.config;
    if (s.proxyProtocolAddress !== null && server.realip?.(s.remoteAddress) === true) {
      s.remoteAddress = s.proxyProtocolAddress;
      s.remotePort = s.proxyProtocolPort ?? 0;
    }
    socket.setNoDelay(cfg.tcpNodelay);
    if (cfg.soKeepalive) socket.setKeepAlive(true);

    // nginx's preaccess phase (limit_conn) comes before its access phase (allow/deny).
    if (server.limits !== null && !(await applyStreamLimits(s, server.limits, this.#limits, this.#logger as unknown as ErrorLogger))) {
      return this.#abort(s, buffer.length, 503);
    }
    if (s.gone) return this.#end(s);
    if (!server.access(s.remoteAddress)) {
      // nginx's line: the listen address (with the port bound) as `server`
      const server = site.key.replace(/:\d+$/, `:${s.serverPort}`);
      this.#logger.error({ connection: s.connection, client: s.remoteAddress, server }, 'access forbidden by rule while initializing session');
      return this.#abort(s, buffer.length, 403);
    }
    const js = server.js;
    if (js?.access != null) {
      const r = await this.#scripts!.runPhase(s, js.access, buffer, site.prereadTimeoutMs, site.prereadBufferBytes);
      buffer = r.buffer;
      if (r.status !== 0 || s.gone) return this.#abort(s, buffer.length, r.status || 200);
    }
    // nginx stream runs the access phase before the ssl phase: denied clients get no handshake.
    if (site.ssl) {
      if (!(await this.#terminate(site, s, buffer))) return;
      buffer = Buffer.alloc(0);
    }
    if (js?.preread != null) {
      const r = await this.#scripts!.runPhase(s, js.preread, buffer, site.prereadTimeoutMs, site.prereadBufferBytes);
      buffer = r.buffer;
      if (r.status !== 0 || s.gone) return this.#abort(s, buffer.length, r.status || 200);
    }
    // js_set Promises the server's directives need (beyond njs), awaited before its content
    if (js !== null && !(await this.#scripts!.ready(s, js))) return this.#end(s);

    if (server.routes !== null) return this.#handOff(site, s, buffer);
    if (server.ret !== null) return this.#sendAndClose(s, buffer.length, 200, Buffer.from(server.ret(s)));
    return this.#upstream.run(site, s, server, buffer);
  }

  /**
   * A websocket_pass server's connection goes to the HTTP engine (see src/config/websocket-http.ts):
   * it routes each request by its own Host and path, adds X-Forwarded-For / X-Real-IP to each,
   * answers 404 to a path no route takes, and turns an accepted upgrade into a tunnel. The bytes
   * read so far (the first head) are handed over with the client address decided here (realip).
   * The session's log line is written when the connection closes.
   */
  #handOff(site: ListenSite, s: Session, buffer: Buffer): void {
    const serve = this.#websocketHandoff?.(site.key) ?? null;
    if (serve === null) {
      this.#logger.error({ listen: site.key }, 'no HTTP engine for websocket_pass');
      return this.#respond(s, buffer.length, 500);
    }
    const socket = s.socket;
    const readBefore = socket.bytesRead - buffer.length;
    const writtenBefore = socket.bytesWritten;
    socket.once('close', () => {
      s.bytesReceived += socket.bytesRead - readBefore;
      s.bytesSent += socket.bytesWritten - writtenBefore;
      this.#end(s);
    });
    serve(socket, { tls: s.tls, proxyProtocolAddr: s.proxyProtocolAddress, proxyProtocolPort: s.proxyProtocolPort, remoteAddr: s.remoteAddress, remotePort: s.remotePort }, buffer);
  }

  /**
   * TLS on an `ssl` listen: handshake with the chosen server's settings (preread_timeout bounds
   * it, as it bounds the ClientHello), then the session reads and writes the TLS socket. A
   * client certificate that ssl_verify_client refuses closes the connection (nginx stream).
   */
  async #terminate(site: ListenSite, s: Session, hello: Buffer): Promise<boolean> {
    const ssl = effectiveSsl(s.server, site.defaultServer);
    const raw = s.socket;
    const { socket, reason } = await new Promise<{ socket: tls.TLSSocket | null; reason: string | null }>((resolve) => {
      const parsed = parseClientHello(hello, site.prereadBufferBytes);
      startHandshake(this.#tls, raw, hello, ssl, NO_ALPN, Date.now() + site.prereadTimeoutMs, (socket, reason) => resolve({ socket, reason }), parsed.kind === 'ok' ? parsed.hello : undefined);
    });
    const stats = this.#stats.get(s.server.config);
    if (stats !== undefined) {
      if (socket !== null) stats.tlsHandshakes++;
      else if (reason !== null) stats.tlsFailures++;
    }
    if (socket === null) {
      if (reason !== null) this.#logger.info({ listen: site.key, client: s.remoteAddress }, `TLS handshake failed: ${reason}`);
      this.#abort(s, hello.length, 400);
      return false;
    }
    s.bytesReceived += hello.length;
    s.socket = socket;
    s.tls = tlsInfoOf(socket);
    socket.allowHalfOpen = true;
    socket.once('close', () => {
      s.gone = true;
      s.pending?.destroy();
    });
    const refusal = s.tls!.refusal(s.server.config.ssl.verifyClient);
    if (refusal !== null) {
      this.#logger.info({ listen: site.key, client: s.remoteAddress }, refusal === 'cert'
        ? `client SSL certificate verify error: ${s.tls!.clientVerify}` : 'client sent no required SSL certificate');
      this.#abort(s, 0, 400);
      return false;
    }
    return true;
  }

  /** Close the client without an answer (non-HTTP sessions, bad PROXY header, denied). */
  #abort(s: Session, received: number, status: number): void {
    s.bytesReceived += received;
    s.status = status;
    s.socket.destroy();
    this.#end(s);
  }

  /** Answer a websocket_pass client with an HTTP error page, then close. */
  #respond(s: Session, received: number, status: number): void {
    const body = errorPage(status);
    const response = `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    this.#sendAndClose(s, received, status, Buffer.from(response, 'latin1'));
  }

  /** Send `payload` (an error page, `return`'s value) and close the session. */
  #sendAndClose(s: Session, received: number, status: number, payload: Buffer): void {
    s.bytesReceived += received;
    s.status = status;
    s.bytesSent += payload.length;
    const socket = s.socket;
    // Read and drop whatever the client still sends so our FIN is not turned into a reset
    // that could destroy the response before the client reads it; bounded by a timer.
    socket.on('data', () => {});
    socket.resume();
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.once('close', () => clearTimeout(timer));
    socket.end(payload);
    socket.once('end', () => socket.destroy());
    this.#end(s);
  }

  #end(s: Session): void {
    if (!this.#sessions.delete(s)) return;
    connectionStats.stream--;
    releaseStreamLimits(s, this.#limits);
    s.endedAt = Date.now();
    accountSession(s, this.#stats.get(s.server.config));
    for (const log of s.server.logs) log.write(s);
  }
}

/** What the long part of a stream site's build computes: per-server counters, servers, TLS contexts. */
interface StreamSiteParts {
  readonly logger: Logger;
  readonly stats: ReadonlyMap<StreamServerConfig, StreamServerStats>;
  readonly tls: TlsServers;
  readonly scripts: StreamScripts | null;
  readonly compiled: CompiledStream;
}

function* streamSiteParts(stream: StreamConfig, deps: StreamSiteDeps): Steps<StreamSiteParts> {
  const stats = new Map<StreamServerConfig, StreamServerStats>();
  const streamStats = deps.streamStats;
  if (streamStats !== undefined) for (const server of stream.servers) stats.set(server, streamStats(server));
  const tls = new TlsServers(deps.tlsSessions ?? null);
  const logger = deps.logger.child({ component: 'stream' });
  const scripts = stream.js === undefined || deps.scripts == null ? null
    : new StreamScripts(stream.js, deps.scripts, logger, deps.scriptGlobals ?? true);
  const compiled = yield* compileStreamSteps(stream, deps, tls, scripts);
  return { logger, stats, tls, scripts, compiled };
}
