/**
 * proxy_next_upstream for one proxied request: what is HTTP's on top of core's retry loop
 * (core/retry.ts: peers tried, tries and time budget, the no-live-peer rule). Whether a failed try
 * may be followed by another (the failure's condition is enabled, nothing reached the client, the
 * request can still be sent again, the budget is not spent), and the request body bytes a new try
 * sends again. Also the code a failed try is logged with (its wording: upstream-log.ts).
 *
 * Separate from proxy.ts, which moves the bytes, so the retry rules read in one place. One
 * instance per ProxyExchange; no closures, and the body copy is only made once a body byte arrives.
 */
import { IDEMPOTENT_METHODS } from '../constants.js';
import { PeerTries, type RetryLimits } from '../core/retry.js';
import type { ErrorCode } from '../errors.js';
import { BodyReplay } from './framing.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { UpstreamConn } from './pool.js';

/** Statuses that count against max_fails when they trigger a retry (nginx: 403/404 do not). */
const FAILURE_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504, 429]);

/** What the retry rules read of a ProxyPlan (or a FastcgiPlan). */
export interface RetryPolicy extends RetryLimits {
  readonly retryNonIdempotent: boolean;
}

export class NextUpstream extends PeerTries {
  /** The current try's head went out: body bytes go straight to the peer from then on. */
  headSent = false;
  /** Body bytes received before the current try's head went out; they leave with it. */
  held: Buffer[] | null = null;
  #replay: BodyReplay | null = null;
  readonly #head: RequestHead;
  readonly #proxy: RetryPolicy;
  readonly #bodiless: boolean;

  /** `bodiless`: the request has no body at all. */
  constructor(head: RequestHead, proxy: RetryPolicy, bodiless: boolean) {
    super(proxy);
    this.#head = head;
    this.#proxy = proxy;
    this.#bodiless = bodiless;
  }

  /** A body part on its way to the peer: copied for a retry while the copy fits the limit. */
  keep(part: Buffer): void {
    (this.#replay ??= new BodyReplay()).add(part);
  }

  /** A body part that must wait for the current try's head. */
  hold(part: Buffer): void {
    (this.held ??= []).push(part);
  }

  /**
   * The body goes to a temp file (proxy-request-body.ts), which every try sends after its head:
   * the parts held so far are handed over to it, and no copy is kept here.
   */
  bodyInFile(): Buffer[] | null {
    this.#replay = null;
    return this.takeHeld();
  }

  /** The held body parts, handed over to go out with the head. */
  takeHeld(): Buffer[] | null {
    const held = this.held;
    this.held = null;
    return held;
  }

  /**
   * Whether the request may be sent again: nothing of it reached a peer, or its body (if any) is
   * still held and it is idempotent (or `non_idempotent` is set).
   */
  replayable(): boolean {
    if (!this.headSent) return true;
    const head = this.#head;
    return (this.#bodiless || this.#replay === null || this.#replay.complete) && (IDEMPOTENT_METHODS.has(head.method) || this.#proxy.retryNonIdempotent);
  }

  /**
   * Whether a failed try may be followed by another: `enabled` is the proxy_next_upstream
   * condition of the failure, and `responseStarted` whether the client got anything yet.
   */
  allows(enabled: boolean, responseStarted: boolean): boolean {
    return enabled && !responseStarted && this.replayable() && this.budgetLeft();
  }

  /** A new try begins: it starts with the body bytes received so far (those not yet sent are among them). */
  restart(): void {
    const replay = this.#replay;
    if (this.headSent && replay !== null && replay.complete && replay.parts.length > 0) this.held = [...replay.parts];
    this.headSent = false;
  }
}

/** Whether a response status that triggers a retry counts as a failure of the peer. */
export function isFailureStatus(status: number): boolean {
  return FAILURE_STATUSES.has(status);
}

/** The log code of an upstream connection lost before a response head. */
export function closeCode(up: UpstreamConn): ErrorCode {
  return up.connected ? 'TSP_ERR_UPSTREAM_RESET' : 'TSP_ERR_UPSTREAM_CONNECT';
}
