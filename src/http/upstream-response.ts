/**
 * The upstream side of a proxied response: reading the upstream's response head(s) from the
 * bytes as they arrive (interim 1xx heads are passed on or dropped, the final head or a 101
 * returned), and whether the upstream connection may go back to the pool once the response is
 * complete. The client side of the response is proxy-response.ts.
 */
import { MAX_RESPONSE_HEAD_BYTES } from '../constants.js';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../wire/head-accumulator.js';
import { parseResponseHead, type ResponseHead } from '../wire/http1-response.js';
import type { ProxyPlan } from './plan.js';
import type { UpstreamConn } from './pool.js';

const RESPONSE_LIMITS: HeadLimits = {
  requestLineBytes: MAX_RESPONSE_HEAD_BYTES,
  headerLineBytes: MAX_RESPONSE_HEAD_BYTES,
  headBytes: MAX_RESPONSE_HEAD_BYTES,
};

/** read(): the head is not complete yet. */
export const HEAD_PENDING = 0;
/** read(): the bytes are no valid response head (see invalidHead / tooBig). */
export const HEAD_INVALID = 1;

/** One per ProxyExchange (a retry reads the next try's head with it after reset()). */
export class ResponseHeadReader extends HeadAccumulator {
  /** After HEAD_INVALID: the head that failed to parse (null when it never completed), for the log. */
  invalidHead: string | null = null;
  /** After HEAD_INVALID: the head outgrew the limit. */
  tooBig = false;
  /** After a head is returned: the bytes that came after it, null for none. */
  after: Buffer | null = null;
  /** After a head is returned: its text (field lines a writer may pass on as they are, headers.ts). */
  text = '';

  /**
   * The next final (status >= 200) or 101 head in `data` (the bytes after it in `after`),
   * HEAD_PENDING or HEAD_INVALID. `interim` hears of each 100 Continue; other 1xx heads are dropped.
   */
  read(data: Buffer, method: string, interim: { interimContinue(): void }): ResponseHead | typeof HEAD_PENDING | typeof HEAD_INVALID {
    let rest: Buffer | null = data;
    while (rest !== null) {
      const rc = this.push(rest, RESPONSE_LIMITS);
      if (rc === HEAD_NEED_MORE) return HEAD_PENDING;
      if (rc !== HEAD_READY) return this.#invalid(null, rc !== 400);
      const head = this.head;
      const res = parseResponseHead(head, method, this.bytes);
      rest = this.rest;
      this.reset();
      if (res === null) return this.#invalid(head, false);
      if (res.status >= 200 || res.status === 101) {
        this.after = rest;
        this.text = head;
        return res;
      }
      // 1xx interim responses: relay 100 Continue to a client that can read it, drop the rest.
      if (res.status === 100) interim.interimContinue();
    }
    return HEAD_PENDING;
  }

  #invalid(head: string | null, tooBig: boolean): typeof HEAD_INVALID {
    this.invalidHead = head;
    this.tooBig = tooBig;
    return HEAD_INVALID;
  }
}

/** An upstream group's keepalive settings (its UpstreamConfig; a ProxyPlan copies its static group's). */
export interface KeepalivePolicy {
  readonly keepalive: number;
  readonly keepaliveTimeoutMs: number;
  readonly keepaliveRequests: number;
  readonly keepaliveTimeMs: number;
}

/**
 * Whether the upstream connection of a complete response may be pooled: both sides asked for
 * keep-alive, the request body went out whole, and the group's keepalive limits allow it
 * (`pool`: the group the request went to, which a `proxy_pass http://$var` learns per request).
 */
export function poolable(proxy: ProxyPlan, up: UpstreamConn, res: ResponseHead, pool: KeepalivePolicy, now: number): boolean {
  return res.keepAlive && pool.keepalive > 0 && proxy.proxyProtocol === 0 && !proxy.http10 &&
    (pool.keepaliveRequests <= 0 || up.requests < pool.keepaliveRequests) &&
    now - up.createdAt < pool.keepaliveTimeMs;
}
