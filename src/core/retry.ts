/**
 * The next-upstream loop, written once for http (proxy_next_upstream ...) and stream
 * (proxy_next_upstream on|off): pick a peer not tried yet -> try it -> on failure note it (passive
 * health: `release(peer, true)`) and mark it tried -> another try when the failure's condition
 * allows it and `budgetLeft()` (proxy_next_upstream_tries, proxy_next_upstream_timeout) -> else
 * the final error. A pick that finds no live peer ends the loop; nginx lists that try as the
 * group's name while the group's tries remain (`noPeer`).
 *
 * What is the protocol's: which failures may be retried (http: error, timeout, invalid_header,
 * http_5xx..., non_idempotent, whether the body can be sent again, nothing reached the client;
 * stream: connect failures, on or off), how a try is made (callbacks for http, an await for
 * stream) and the final status (http: 502 / 504 by the last failure; stream: 502).
 *
 * One instance per request / session, its limits made when the config was built (http's ProxyPlan,
 * stream's CompiledServer); no closure, the tried set made at the first retry.
 */
import type { UpstreamAttempt, UpstreamAttempts } from '../upstream/attempts.js';
import type { UpstreamGroup } from '../upstream/group.js';
import type { Peer } from '../upstream/peer.js';
import { nowMs } from '../event-clock.js';

export interface RetryLimits {
  /** proxy_next_upstream_tries: 0 = bounded only by the peers. */
  readonly tries: number;
  /** proxy_next_upstream_timeout: 0 = no limit. */
  readonly retryTimeoutMs: number;
}

/** The PickContext PeerTries.pick fills in for each pick. */
const PICK: { clientAddress: string; hashKey: string | null; tried: ReadonlySet<Peer> | null } = { clientAddress: '', hashKey: null, tried: null };

export class PeerTries {
  /** Tries started (a try taken back with `takeBack` does not count). */
  attempts = 0;
  /** Peers already tried, skipped by group.pick; null until a try failed. */
  tried: Set<Peer> | null = null;
  #group: UpstreamGroup | null = null;
  #startedMs = 0;
  readonly #limits: RetryLimits;

  constructor(limits: RetryLimits) {
    this.#limits = limits;
  }

  /** The first try starts now (the time budget counts from here) on `group`. */
  start(group: UpstreamGroup): void {
    this.#group = group;
    // read by budgetLeft() only under proxy_next_upstream_timeout: no clock read per request without it
    if (this.#limits.retryTimeoutMs > 0) this.#startedMs = Date.now();
  }

  /** The group the tries go to (error-log lines name it when none of its peers is live). */
  get groupName(): string {
    return this.#group!.name;
  }

  /** A peer not tried yet, counted in its group until released; null: none is live. */
  pick(clientAddress: string, hashKey: string | null): Peer | null {
    // One context for every pick (group.pick reads it and keeps nothing): no object per request.
    const ctx = PICK;
    ctx.clientAddress = clientAddress;
    ctx.hashKey = hashKey;
    ctx.tried = this.tried;
    const peer = this.#group!.pick(ctx);
    ctx.tried = null;
    return peer;
  }

  /** A try of `peer` starts: its record in the $upstream_* lists. */
  begin(peer: Peer, log: UpstreamAttempts): UpstreamAttempt {
    this.attempts++;
    const a = log.start(peer.key, nowMs());
    a.peer = peer;
    return a;
  }

  /**
   * No live peer could be picked. nginx lists that try as the group's name while the group's
   * tries (peers not `down`) remain: its record, else null (nothing is listed).
   */
  noPeer(log: UpstreamAttempts): UpstreamAttempt | null {
    const group = this.#group!;
    return this.attempts === 0 || this.attempts < group.tries ? log.start(group.name, Date.now()) : null;
  }

  /**
   * The try on `peer` is over: passive health counts it when `failed`. True when that failure
   * took the peer out for fail_timeout (max_fails reached): the caller logs it.
   */
  release(peer: Peer, failed: boolean): boolean {
    return this.#group!.release(peer, failed);
  }

  /** A later pick skips `peer`. */
  markTried(peer: Peer): void {
    (this.tried ??= new Set()).add(peer);
  }

  /** A try that does not count (a pooled connection the peer had just closed): taken back. */
  takeBack(record: UpstreamAttempt, log: UpstreamAttempts): void {
    this.attempts--;
    log.forget(record);
  }

  /** Tries are left and the time budget is not spent. */
  budgetLeft(): boolean {
    const limits = this.#limits;
    if (limits.tries > 0 && this.attempts >= limits.tries) return false;
    return limits.retryTimeoutMs <= 0 || Date.now() - this.#startedMs < limits.retryTimeoutMs;
  }
}
