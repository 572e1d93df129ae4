/**
 * One proxied request: pick a peer, take a pooled connection or connect, write the request head
 * as one string plus the body bytes as they arrive, read the response head, hand ours to the
 * client's transport, then stream the body back with backpressure both ways. Retries follow
 * proxy_next_upstream (rules and body replay in next-upstream.ts) while nothing has reached the
 * client; after that a failure aborts the client connection so a truncated body can never look
 * complete.
 *
 * This is the HTTP/1 exchange with the upstream. Along its seams: the tries and their outcomes,
 * shared with FastCGI (upstream-exchange.ts), the retry rules (next-upstream.ts over
 * core/retry.ts), the connection a try uses (pool.ts `open`: pooled or new), the upstream request (upstream-request.ts), the request body on its way there
 * (proxy-request-body.ts), the upstream response head (upstream-response.ts), the response as the
 * client gets it, or the local answer in its place (proxy-response.ts), and the tunnel after a
 * 101 (upgrade.ts, tunnel.ts over core/tunnel.ts).
 */
import { UpstreamAttempts } from '../upstream/attempts.js';
import type { Peer } from '../upstream/peer.js';
import type { UpstreamGroup } from '../upstream/group.js';
import { dynamicGroupsOf, dynamicTargetOf, splitDynamicUrl } from './dynamic.js';
import { ChunkedScanner } from '../wire/chunked.js';
import { BODY_TOO_LARGE } from './framing.js';
import { ProxyRequestBody, type BodyWaiter } from './proxy-request-body.js';
import { buildUpstreamHead, firstSegmentIs, proxyProtocolHeader, upgradeMatches, writeUpstreamRequest } from './upstream-request.js';
import { closeCode } from './next-upstream.js';
import { closeMessage, invalidResponseMessage, timeoutMessage } from './upstream-log.js';
import { headerValue } from '../wire/headers.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { ResponseHead } from '../wire/http1-response.js';
import { proxyPortOf, type LocationPlan, type ProxyPlan } from './plan.js';
import type { UpstreamConn } from './pool.js';
import { BODY_NONE, type HttpRequest } from './request.js';
import { ProxyResponse, StoringResponse } from './proxy-response.js';
import type { ResponseStore } from './cache/writer.js';
import { finishRequest } from './request-end.js';
import { startHttpTunnel } from './upgrade.js';
import { HEAD_INVALID, HEAD_PENDING, ResponseHeadReader, poolable, type KeepalivePolicy } from './upstream-response.js';
import { resolveTlsTarget, type TlsTarget } from './upstream-tls.js';
import { UpstreamExchange } from './upstream-exchange.js';
import { nowMs } from '../event-clock.js';

export class ProxyExchange extends UpstreamExchange implements BodyWaiter {
  readonly #head: RequestHead;
  readonly #proxy: ProxyPlan;
  /** The upgrade asked of the upstream (what a 101 must name), null when none can be relayed. */
  #upgrade: readonly string[] | null = null;
  /** The Connection sent upstream lets the connection be pooled afterwards. */
  #upstreamReusable = false;
  /** The group of this request (proxy.group, or the one a dynamic proxy_pass resolved to). */
  #group: UpstreamGroup | null = null;
  /** The URI part of an evaluated `proxy_pass http://$var` (it replaces the request URI), else null. */
  #dynamicUri: string | null = null;
  /** The keepalive settings of the group a dynamic target resolved to (null: the plan's). */
  #dynamicPool: KeepalivePolicy | null = null;
  /** proxy_pass https://: the TLS parameters of this request's upstream connections. */
  #tls: TlsTarget | null = null;
  readonly #body: ProxyRequestBody;
  readonly #resAcc = new ResponseHeadReader();
  #reusable = true;
  #deferred = false; // proxy_request_buffering: start() waits for the body (ProxyRequestBody.ready)

  /** `store`: proxy_cache's writer of this response (cache/serve.ts), null when it is not stored. */
  constructor(r: HttpRequest, plan: LocationPlan, proxy: ProxyPlan, store: ResponseStore | null = null) {
    const response = store === null ? new ProxyResponse(r, plan, proxy) : new StoringResponse(r, plan, proxy, store);
    super(r, plan, proxy, r.body === BODY_NONE, response, proxy.scheme);
    this.#head = r.head;
    this.#proxy = proxy;
    this.#body = new ProxyRequestBody(r, plan, proxy, this.next, this);
    this.bodyDone = this.#body.done;
  }

  start(): void {
    const proxy = this.#proxy;
    const r = this.r;
    // proxy_request_buffering: the upstream is asked once the body is read (clientData calls again)
    if ((this.#deferred = this.#body.deferStart())) return;
    if (proxy.websocketPath !== null && !firstSegmentIs(r.uri, proxy.websocketPath)) return this.fail(404);
    if (proxy.scheme === 'https' && proxy.tls === null) return this.fail(502);
    if (proxy.dynamicTarget !== null) {
      const url = splitDynamicUrl(proxy.dynamicTarget(r));
      this.#dynamicUri = url.uri;
      return dynamicTargetOf(r.site, url, proxy.scheme === 'https', proxy.resolver, (t, host) => {
        if (this.done) return;
        if (t === null) this.#noTarget(host);
        else this.#begin(t.group, t.proxyHost);
      });
    }
    if (proxy.group === null) return this.fail(502);
    if (proxy.redis !== null) return this.#redisGroup(proxy.redis);
    this.#begin(proxy.group, proxy.proxyHost);
  }

  /** A `redis_peers` upstream: the group of the request's key, known (at once) or read from Redis the first time. */
  #redisGroup(redis: NonNullable<ProxyPlan['redis']>): void {
    const key = redis.key(this.r);
    const found = redis.fed.groupFor(key);
    if (found === null) return this.#noRedisGroup(redis, key);
    if (!(found instanceof Promise)) return this.#begin(found, this.#proxy.proxyHost);
    found.then((group) => {
      if (this.done) return;
      if (group === null) this.#noRedisGroup(redis, key);
      else this.#begin(group, this.#proxy.proxyHost);
    }, () => this.#noRedisGroup(redis, key));
  }

  /** No peers for the key: a line per request for an empty list, none while Redis is down (the link logged the outage). */
  #noRedisGroup(redis: NonNullable<ProxyPlan['redis']>, key: string): void {
    if (this.done) return;
    const why = redis.fed.whyNone(key);
    if (why !== null) this.r.site.logger.error(this.logContext('TSP_ERR_NO_LIVE_UPSTREAM'), why);
    this.fail(502);
  }

  /** `host`: a name that went to the DNS (a `resolver` failure logs nginx's line for it). */
  #noTarget(host: string | null): void {
    if (this.done) return;
    const proxy = this.#proxy;
    const failure = host === null ? null : dynamicGroupsOf(this.r.site).failureOf(host, proxy.scheme === 'https' ? 443 : 80, proxy.resolver);
    if (failure !== null) this.r.site.logger.error(this.logContext('TSP_ERR_RESOLVE'), failure);
    else this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_CONNECT'), 'proxy_pass target could not be resolved');
    this.fail(502);
  }

  #begin(group: UpstreamGroup, proxyHost: string): void {
    const r = this.r;
    this.#group = group;
    r.proxyHost = proxyHost;
    r.proxyPort = proxyHost === this.#proxy.proxyHost ? this.#proxy.proxyPort : proxyPortOf(proxyHost, this.#proxy.scheme);
    (r.upstream ??= new UpstreamAttempts()).newPhase();
    if (this.#proxy.tls !== null) this.#tls = resolveTlsTarget(this.#proxy.tls, r, proxyHost);
    // A `proxy_pass http://$var` pools by the keepalive of the group it resolved to (nginx).
    if (this.#proxy.dynamicTarget !== null) this.pooling = this.#dynamicPool = group.config;
    const head = buildUpstreamHead(this.#proxy, r, proxyHost, this.#dynamicUri, this.#dynamicPool?.keepalive);
    // --explain: the request is as it would go out; nothing is connected or sent.
    if (r.trace !== null) return r.trace.proxy(r, this.#proxy, group, proxyHost, head, this.#dynamicUri);
    this.upstreamHead = head.text;
    this.#upgrade = head.upgrade;
    this.#upstreamReusable = head.reusable;
    this.next.start(group);
    this.connect();
  }

  protected openConnection(peer: Peer): UpstreamConn {
    // A PROXY header is the client's: such a connection is never reused.
    const reuse = this.#proxy.proxyProtocol === 0;
    const up = this.r.site.pool.open(peer, this, this.t.output, this.#tls, this.plan.settings.proxyConnectTimeoutMs, reuse);
    // Node applies it once the socket connects; a pooled connection keeps what its opener chose.
    if (!up.connected && this.plan.settings.proxySocketKeepalive) up.socket.setKeepAlive(true);
    return up;
  }

  protected send(up: UpstreamConn): void {
    const s = up.socket;
    const attempt = this.attempt!;
    // A pooled connection is written in the event that started the try: 0, as nginx's cached clock gives.
    attempt.connectMs = this.reused ? 0 : Date.now() - attempt.startMs;
    const pp = up.requests++ === 0 && this.#proxy.proxyProtocol !== 0 ? proxyProtocolHeader(this.#proxy.proxyProtocol, this.r) : null;
    if (pp !== null) s.write(pp);
    up.setTimeout(this.plan.settings.proxyReadTimeoutMs);
    attempt.bytesSent += (pp?.length ?? 0) + writeUpstreamRequest(s, this.upstreamHead, this.next.takeHeld());
    this.next.headSent = true;
    if (this.#body.inFile) this.#body.sendFile(up, attempt);
    else if (!this.bodyDone) this.t.resume();
  }

  protected resetTry(): void {
    this.#body.stopSending();
    this.#reusable = true;
    this.next.restart();
    this.#resAcc.reset();
  }

  // -------------------------------------------------------------------------------------------
  // client side

  clientData(chunk: Buffer): number {
    if (this.bodyDone || this.done) return this.bodyDone ? 0 : chunk.length;
    const body = this.#body;
    const n = body.receive(chunk, this.up, this.attempt);
    if (n < 0) {
      this.#clientBodyError(n === BODY_TOO_LARGE ? 413 : 400);
      return chunk.length;
    }
    if (body.done) {
      this.bodyDone = true;
      this.t.bodyComplete();
    }
    if (this.#deferred && body.ready && !this.done) this.start();
    return n;
  }

  /** The end of an HTTP/2 body without content-length (END_STREAM). */
  clientBodyEnd(): void {
    if (this.bodyDone || this.done) return;
    this.#body.finish(this.up, this.attempt);
    this.bodyDone = true;
    this.t.bodyComplete();
    if (this.#deferred) this.start();
  }

  /** A body buffered in a temp file is all on disk: the upstream may be asked. */
  bodyReady(): void {
    if (this.#deferred && !this.done && this.#body.ready) this.start();
  }

  #clientBodyError(status: number): void {
    this.closeUpstream(false);
    if (this.response.started) {
      this.abortClient();
    } else {
      this.fail(status, false);
    }
  }

  clientDrain(): void {
    // Bytes held for limit_rate: the pacer calls again when they are out.
    if (this.r.pacer?.holding) return;
    const up = this.up;
    if (up !== null && up.socket.isPaused()) up.socket.resume();
  }

  clientClosed(): void {
    if (this.done) return;
    if (this.bodyDone && this.plan.settings.proxyIgnoreClientAbort) {
      this.response.clientGone = true;
      return;
    }
    this.done = true;
    this.response.store?.abort();
    if (this.r.status === 0) this.r.status = 499;
    const logger = this.r.site.logger;
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ code: 'TSP_ERR_CLIENT_ABORT', upstream: this.#proxy.upstreamName }, 'client closed the connection before the response was complete');
    }
    this.closeUpstream(false);
  }

  /**
   * The client shut down its write side (FIN) while we wait for or relay the upstream's answer.
   * nginx (proxy_ignore_client_abort off) takes it for a client that went away: the upstream
   * request is aborted, the client connection closed, and the request logged 499 unless its
   * response had started (checked with nginx 1.22 on a raw socket).
   */
  clientEnd(): void {
    if (this.done || this.plan.settings.proxyIgnoreClientAbort) return;
    this.clientClosed();
    this.t.abort();
  }

  // -------------------------------------------------------------------------------------------
  // upstream side

  upstreamDrain(up: UpstreamConn): void {
    if (up !== this.up) return;
    if (this.#body.sending) this.#body.upstreamDrained(up);
    else this.t.resume();
  }

  upstreamData(up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.up || this.done) return;
    this.attempt!.bytesReceived += chunk.length;
    if (this.res !== null) {
      this.#responseBody(chunk);
      return;
    }
    const reader = this.#resAcc;
    const res = reader.read(chunk, this.#proxy.headAsGet === true ? 'GET' : this.#head.method, this.response);
    if (res === HEAD_PENDING) return;
    if (res === HEAD_INVALID) return this.#invalidResponse(reader.invalidHead, reader.tooBig);
    const data = reader.after;
    const text = reader.text;
    // A view of the pool's read buffer: it must not be kept past this event.
    reader.after = null;
    reader.text = '';
    if (res.status === 101) {
      // Only the protocol the client asked for (h2c smuggling: a 101 to something else would
      // hand the client a tunnel to the backend past every location rule).
      if (this.#upgrade === null || !upgradeMatches(this.#upgrade, headerValue(res, 'upgrade'))) return this.#invalidResponse(null);
      return this.#startTunnel(res, data);
    }
    // Bytes after a head that has no body (204, 304, HEAD): the upstream's framing is not
    // ours, so its connection is not reused.
    if (res.body === 'none' && data !== null) this.#reusable = false;
    // Chunked framing that breaks in the bytes that came with the head: nothing has reached
    // the client yet, so it gets a 502 page instead of a connection closed on it.
    if (res.body === 'chunked' && data !== null && new ChunkedScanner().scan(data) < 0) {
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), 'upstream sent invalid chunked response while reading upstream');
      this.attempt!.status = res.status;
      this.closeUpstream(true);
      return this.fail(502);
    }
    // Head and the body bytes that came with it leave in one writev.
    const t = this.t;
    t.cork();
    if (this.#responseHead(res, text) && data !== null && !this.done) this.#responseBody(data);
    t.uncork();
  }

  #invalidResponse(head: string | null, tooBig = false): void {
    this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), invalidResponseMessage(head, tooBig));
    this.lastStatus = 502;
    if (this.next.allows(this.#proxy.retryOnInvalidHeader, this.response.started)) return this.retry(true);
    this.closeUpstream(true);
    this.fail(502);
  }

  /** Returns false when the response was dropped (a retry, or error_page instead). */
  #responseHead(res: ResponseHead, text: string): boolean {
    const status = res.status;
    const attempt = this.attempt!;
    attempt.status = status;
    attempt.headerMs = nowMs() - attempt.startMs;
    if (this.divertResponse(res, this.plan.settings.proxyInterceptErrors)) return false;
    this.res = res;
    const response = this.response;
    response.begin(res, this.bodyDone, text);
    if (response.done) this.#complete();
    return true;
  }

  #responseBody(chunk: Buffer): void {
    const response = this.response;
    const n = response.take(chunk);
    if (n < 0) {
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), 'upstream sent invalid chunked response while reading upstream');
      this.closeUpstream(true);
      this.abortClient();
      return;
    }
    const finished = response.done;
    if (n < chunk.length) this.#reusable = false;
    if (n > 0) {
      this.attempt!.bodyBytes += n;
      if (!response.send(n === chunk.length ? chunk : chunk.subarray(0, n)) && !finished) this.up?.socket.pause();
    }
    if (finished) this.#complete();
  }

  /** The upstream answered 101: the connection becomes a tunnel, which takes both sockets over. */
  #startTunnel(res: ResponseHead, rest: Buffer | null): void {
    if (this.response.clientGone) {
      this.closeUpstream(false);
      return this.abortClient();
    }
    const up = this.up!;
    const peer = this.peer!;
    this.done = true;
    this.response.started = true;
    this.up = null;
    this.peer = null;
    // Only an HTTP/1.1 connection asks for an upgrade (an HTTP/2 head has no Upgrade to relay).
    startHttpTunnel(this.t.upgradable!, up, this.#group!, peer, this.r, this.plan, this.#proxy, res, rest);
  }

  upstreamTimeout(up: UpstreamConn): void {
    if (up !== this.up || this.done) return;
    if (this.attempt !== null) this.attempt.timedOut = true;
    this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_TIMEOUT'), timeoutMessage(up, this.res !== null));
    this.lastStatus = 504;
    if (this.res === null && this.next.allows(this.#proxy.retryOnTimeout, this.response.started)) return this.retry(true);
    this.failResponse(504);
  }

  upstreamClose(up: UpstreamConn, err: Error | null): void {
    if (up !== this.up || this.done) return;
    this.up = null;
    if (this.res !== null) {
      if (this.res.body === 'close' && err === null) {
        this.#reusable = false;
        this.#complete();
        return;
      }
      // The body was cut short: the client must see a broken connection, not a short success.
      this.releasePeer(true, up);
      this.abortClient();
      return;
    }
    if (this.reused && this.#resAcc.pendingBytes === 0 && this.next.replayable()) return this.retryStaleConnection();
    this.r.site.logger.error(this.logContext(closeCode(up)), closeMessage(up, err));
    this.lastStatus = 502;
    if (this.next.allows(this.#proxy.retryOnError, this.response.started)) return this.retry(true);
    this.releasePeer(true, up);
    this.fail(502);
  }

  #complete(): void {
    const up = this.up;
    // A body still on its way from its temp file (the upstream answered early): the connection is not reusable.
    const sent = !this.#body.sending;
    this.#body.stopSending();
    const now = nowMs();
    this.endTry(up !== null && this.#reusable && this.bodyDone && sent && this.#upstreamReusable && poolable(this.#proxy, up, this.res!, this.#dynamicPool ?? this.#proxy, now), now);
    this.response.end();
    finishRequest(this.r, this.response.keepAlive && this.bodyDone);
  }
}
