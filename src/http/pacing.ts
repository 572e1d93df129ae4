/**
 * limit_rate, limit_rate_after and proxy_limit_rate: a response body goes to the client no faster
 * than its rate allows, by nginx's arithmetic (core/rate.ts) from the request's start with the
 * head counted.
 * proxy_limit_rate bounds the body bytes read from the upstream the same way, counted from the
 * response head: tsproxy streams, so holding the body back is what stops the upstream read.
 *
 * A pacer exists only for a request with a rate: made when its head has gone out (the rate is
 * evaluated then, as nginx's write filter does at the first write), from `set $limit_rate`, an
 * upstream's X-Accel-Limit-Rate, or the location's limit_rate. Producers (proxied responses,
 * static files) write through sendBody(); the bytes the rate does not allow yet are held and
 * written by a timer in small steps, and the producer is told to go on (Exchange.clientDrain)
 * when they are out. A response whose producer finished while bytes are held ends when they are
 * written (finishRequest waits for it).
 */
import { parseSize } from '../config/units.js';
import { rateAllowance, rateWaitMs } from '../core/rate.js';
import type { RateConfig } from '../config/types.js';
import type { HttpRequest } from './request.js';
import type { CompiledTemplate } from './variables.js';

export interface PacingPlan {
  /** limit_rate: a size template evaluated per request. */
  readonly rate: CompiledTemplate;
  readonly after: CompiledTemplate;
  /** proxy_limit_rate in bytes per second (0: none). */
  readonly upstreamRateBytes: number;
}

/** The location's plan, null when it sets none of limit_rate, limit_rate_after, proxy_limit_rate. */
export function compilePacing(rate: RateConfig | undefined, compile: (t: string) => CompiledTemplate): PacingPlan | null {
  if (rate === undefined || (rate.limitRate === '0' && rate.proxyLimitRateBytes === 0)) return null;
  return { rate: compile(rate.limitRate), after: compile(rate.limitRateAfter), upstreamRateBytes: rate.proxyLimitRateBytes };
}

/** Whether an upstream's X-Accel-Limit-Rate sets the rate (proxy_ignore_headers can turn it off). */
export function honoursAccelLimitRate(rate: RateConfig | undefined): boolean {
  return rate === undefined || !rate.proxyIgnoreHeaders.includes('x-accel-limit-rate');
}

/** An X-Accel-Limit-Rate value: bytes per second, or -1 when absent or not a number (nginx's ngx_atoi). */
export function accelLimitRate(lnames: readonly string[], headers: readonly string[]): number {
  const i = lnames.indexOf('x-accel-limit-rate');
  if (i === -1) return -1;
  const v = headers[2 * i + 1]!.trim();
  return /^\d+$/.test(v) ? Number(v) : -1;
}

/** A size from a variable's value; what is not one limits nothing. */
function sizeOf(text: string): number {
  return parseSize(text) ?? 0;
}

/**
 * The head went out: make the request's pacer when a rate applies. `upstream`: a proxied
 * response, which proxy_limit_rate applies to.
 */
export function startPacing(r: HttpRequest, upstream: boolean): void {
  const plan = r.plan?.pacing ?? null;
  if (plan === null && r.limitRateBytes < 0 && r.vars === null) return;
  let rate = r.limitRateBytes;
  if (rate < 0) {
    const set = r.vars?.get('limit_rate');
    rate = set !== undefined ? sizeOf(set) : plan !== null ? sizeOf(plan.rate(r)) : 0;
    r.limitRateBytes = rate;
  }
  const upstreamRate = upstream && plan !== null ? plan.upstreamRateBytes : 0;
  if (rate === 0 && upstreamRate === 0) return;
  const after = plan === null ? 0 : sizeOf(plan.after(r));
  r.pacer = new ResponsePacer(r, rate, after, upstreamRate);
}

/** Body bytes to the client: through the request's pacer when it has one. False: wait for clientDrain. */
export function sendBody(r: HttpRequest, chunk: Buffer): boolean {
  return r.pacer === null ? r.transport.data(chunk) : r.pacer.data(chunk);
}

/** Longest wait between two steps: a closed client is noticed within it. */
const MAX_STEP_MS = 1000;

export class ResponsePacer {
  readonly #r: HttpRequest;
  readonly #rate: number;
  readonly #after: number;
  readonly #upstreamRate: number;
  readonly #upstreamStartMs: number;
  /** What one timer step waits for: a tenth of a second's worth, at most 16 KiB (one socket buffer). */
  readonly #stepBytes: number;
  /** Bytes sent as limit_rate counts them (the head included) and body bytes (proxy_limit_rate). */
  #sent: number;
  #bodySent = 0;
  #held: Buffer | null = null;
  /** The producer finished while bytes were held: how the request ends once they are out. */
  #finish: ((r: HttpRequest, keepAlive: boolean) => void) | null = null;
  #finishKeepAlive = false;

  constructor(r: HttpRequest, rate: number, after: number, upstreamRate: number) {
    this.#r = r;
    this.#rate = rate;
    this.#after = after;
    this.#upstreamRate = upstreamRate;
    this.#upstreamStartMs = Date.now();
    this.#sent = r.bytesSent - r.bodyBytesSent;
    const slowest = rate === 0 ? upstreamRate : upstreamRate === 0 ? rate : Math.min(rate, upstreamRate);
    this.#stepBytes = Math.max(1, Math.min(16 * 1024, Math.floor(slowest / 10)));
  }

  /** Bytes are waiting for the rate: the producer waits too (its clientDrain comes from here). */
  get holding(): boolean {
    return this.#held !== null;
  }

  data(chunk: Buffer): boolean {
    if (this.#held !== null) {
      this.#held = Buffer.concat([this.#held, chunk]);
      return false;
    }
    return this.#push(chunk);
  }

  /** The producer is done: end the request (`finish`) once the held bytes are written. */
  finishAfter(keepAlive: boolean, finish: (r: HttpRequest, keepAlive: boolean) => void): void {
    this.#finish = finish;
    this.#finishKeepAlive = keepAlive;
  }

  #allowed(now: number): number {
    let allowed = Infinity;
    if (this.#rate > 0) allowed = rateAllowance(this.#rate, this.#r.startMs, now, this.#sent, this.#after);
    if (this.#upstreamRate > 0) allowed = Math.min(allowed, rateAllowance(this.#upstreamRate, this.#upstreamStartMs, now, this.#bodySent));
    return allowed;
  }

  #write(chunk: Buffer): boolean {
    this.#sent += chunk.length;
    this.#bodySent += chunk.length;
    return this.#r.transport.data(chunk);
  }

  #push(chunk: Buffer): boolean {
    const now = Date.now();
    const allowed = this.#allowed(now);
    if (allowed >= chunk.length) return this.#write(chunk);
    let rest = chunk;
    if (allowed > 0) {
      this.#write(chunk.subarray(0, allowed));
      rest = chunk.subarray(allowed);
    }
    this.#held = rest;
    setTimeout(ResponsePacer.#step, this.#waitMs(now, Math.min(rest.length, this.#stepBytes)), this);
    return false;
  }

  /** How long until `bytes` more may be sent under every rate that applies. */
  #waitMs(now: number, bytes: number): number {
    let wait = 0;
    if (this.#rate > 0) wait = rateWaitMs(this.#rate, this.#r.startMs, now, this.#sent, bytes, this.#after);
    if (this.#upstreamRate > 0) wait = Math.max(wait, rateWaitMs(this.#upstreamRate, this.#upstreamStartMs, now, this.#bodySent, bytes));
    return Math.min(MAX_STEP_MS, Math.max(1, wait));
  }

  /**
   * The request is being logged without its producer's finish (the client went away): held bytes
   * were never sent ($body_bytes_sent leaves them out) and the timer's step does nothing more.
   */
  drop(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    this.#finish = null;
    this.#r.bytesSent -= held.length;
    this.#r.bodyBytesSent -= held.length;
  }

  static #step(this: void, p: ResponsePacer): void {
    const held = p.#held;
    if (held === null) return;
    p.#held = null;
    const t = p.#r.transport;
    if (t.closed) {
      // Closed between the transport's close and its log (not expected: the log drops first).
      p.#end();
      return;
    }
    const ok = p.#push(held);
    if (p.#held !== null) return;
    if (p.#finish !== null) p.#end();
    else if (ok) t.exchange?.clientDrain();
  }

  #end(): void {
    const finish = this.#finish;
    this.#finish = null;
    if (finish !== null) finish(this.#r, this.#finishKeepAlive);
  }
}
