/**
 * `random [two [least_conn]]` as nginx's ngx_http_upstream_random module: a weighted random draw
 * (retried up to 20 times while it lands on unusable peers, then round robin); `two` draws two
 * distinct usable peers and keeps the one with fewer connections per weight (the power of two
 * choices; least_conn is the only method nginx offers for it, so it is implied).
 */
import type { PeerEntry } from '../entry.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';
import { compareLoad } from './least-conn.js';
import { smoothPick } from './round-robin.js';

const MAX_RANDOM_TRIES = 20;

export class RandomBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];
  readonly #two: boolean;
  readonly #random: () => number;
  /** Cumulative weights: peer i owns [ranges[i-1], ranges[i]). */
  readonly #ranges: readonly number[];

  constructor(entries: readonly PeerEntry[], two: boolean, random: () => number = Math.random) {
    this.#entries = entries;
    this.#two = two;
    this.#random = random;
    let sum = 0;
    this.#ranges = entries.map((e) => (sum += e.params.weight));
  }

  pick(_ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    if (this.#entries.length < 2) return smoothPick(this.#entries, isEligible);
    const first = this.#draw(isEligible, -1);
    if (first === -1) return smoothPick(this.#entries, isEligible);
    if (!this.#two) return this.#entries[first]!;
    const second = this.#draw(isEligible, first);
    if (second === -1) return this.#entries[first]!;
    const a = this.#entries[first]!;
    const b = this.#entries[second]!;
    return compareLoad(b, a) < 0 ? b : a;
  }

  /** Index of a usable peer other than `except`, or -1 after too many misses. */
  #draw(isEligible: IsEligible, except: number): number {
    const total = this.#ranges[this.#ranges.length - 1]!;
    for (let tries = 0; tries < MAX_RANDOM_TRIES; tries++) {
      const x = Math.floor(this.#random() * total);
      let lo = 0;
      let hi = this.#ranges.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.#ranges[mid]! <= x) lo = mid + 1;
        else hi = mid;
      }
      if (lo !== except && isEligible(this.#entries[lo]!)) return lo;
    }
    return -1;
  }
}
