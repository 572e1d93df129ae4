/**
 * nginx's rate arithmetic, shared by http's limit_rate / proxy_limit_rate (http/pacing.ts) and
 * stream's proxy_upload_rate / proxy_download_rate (core/tunnel.ts): by `elapsed` seconds after
 * the start, `rate * (elapsed + 1) + after` bytes may have gone, so the first second's worth goes
 * at once and the rest follows at the rate. nginx counts whole seconds (ngx_time); this counts
 * milliseconds: the same average, in smoother steps.
 */

/** Bytes that may go now (negative: that many too many went already). */
export function rateAllowance(rateBytes: number, startMs: number, nowMs: number, sentBytes: number, afterBytes = 0): number {
  return Math.floor(rateBytes * ((nowMs - startMs) / 1000 + 1)) + afterBytes - sentBytes;
}

/** Milliseconds from `nowMs` until `wantBytes` more may go (0: now). */
export function rateWaitMs(rateBytes: number, startMs: number, nowMs: number, sentBytes: number, wantBytes: number, afterBytes = 0): number {
  // rate * ((t - start) / 1000 + 1) + after - sent >= want, solved for t
  const at = startMs + ((wantBytes + sentBytes - afterBytes) / rateBytes - 1) * 1000;
  return Math.max(0, Math.ceil(at - nowMs));
}

/** What a gate writes to and reads from: a socket, seen through what the gate needs of it. */
export interface GateEnd {
  write(chunk: Buffer): boolean;
  pause(): unknown;
  resume(): unknown;
  readonly writableNeedDrain: boolean;
}

/**
 * One direction of a relay under a rate (stream proxy_upload_rate / proxy_download_rate): what the
 * rate allows now is written, the rest is held (the source paused) and written by a timer in steps
 * of a tenth of a second's worth, at most 16 KiB. `flushed(owner)` runs when held bytes are all
 * out, so the owner can pass on a FIN that waited for them or resume the source.
 */
export class RateGate<O> {
  #sent = 0;
  #held: Buffer | null = null;
  #stopped = false;
  readonly #rate: number;
  readonly #startMs: number;
  readonly #stepBytes: number;
  readonly #src: GateEnd;
  readonly #dst: GateEnd;
  readonly #owner: O;
  readonly #flushed: (owner: O) => void;

  constructor(rateBytes: number, startMs: number, src: GateEnd, dst: GateEnd, owner: O, flushed: (owner: O) => void) {
    this.#rate = rateBytes;
    this.#startMs = startMs;
    this.#stepBytes = Math.max(1, Math.min(16 * 1024, Math.floor(rateBytes / 10)));
    this.#src = src;
    this.#dst = dst;
    this.#owner = owner;
    this.#flushed = flushed;
  }

  /** Bytes wait for the rate (the source is paused until they are out). */
  get holding(): boolean {
    return this.#held !== null;
  }

  pass(chunk: Buffer): void {
    if (this.#held !== null) {
      this.#held = Buffer.concat([this.#held, chunk]);
      return;
    }
    this.#push(chunk);
  }

  /** The relay is over: held bytes are dropped, the timer does nothing. */
  stop(): void {
    this.#stopped = true;
    this.#held = null;
  }

  #push(chunk: Buffer): void {
    const now = Date.now();
    const allowed = rateAllowance(this.#rate, this.#startMs, now, this.#sent);
    if (allowed >= chunk.length) {
      this.#sent += chunk.length;
      if (!this.#dst.write(chunk)) this.#src.pause();
      return;
    }
    let rest = chunk;
    if (allowed > 0) {
      this.#sent += allowed;
      this.#dst.write(chunk.subarray(0, allowed));
      rest = chunk.subarray(allowed);
    }
    this.#held = rest;
    this.#src.pause();
    const wait = rateWaitMs(this.#rate, this.#startMs, now, this.#sent, Math.min(rest.length, this.#stepBytes));
    setTimeout(RateGate.#step, Math.max(1, wait), this);
  }

  static #step<O>(this: void, g: RateGate<O>): void {
    const held = g.#held;
    if (held === null || g.#stopped) return;
    g.#held = null;
    g.#push(held);
    if (g.#held !== null) return;
    if (!g.#dst.writableNeedDrain) g.#src.resume();
    g.#flushed(g.#owner);
  }
}
