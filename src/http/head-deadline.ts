/**
 * client_header_timeout as a deadline for the whole head, not an idle timer: a head dribbled a
 * byte at a time must not hold the connection forever. nginx counts the first request from the
 * accept and each keep-alive request from its first byte (the wait before it is
 * keepalive_timeout). An HTTP/1.1 connection makes one only when a head (or PROXY header) arrives
 * in pieces, so a client that sends its head in one read pays for neither the object nor a timer.
 * While armed, the head counts as "Reading" in stub_status.
 */
import { connectionStats } from '../core/connection-stats.js';

/** Who hears of a deadline that passed (the connection, which closes without an answer). */
export interface HeadDeadlineOwner {
  headTimedOut(): void;
}

export class HeadDeadline {
  #timer: NodeJS.Timeout | null = null;
  readonly #owner: HeadDeadlineOwner;
  /** The listen address's gauges (status page), null when none are kept. */
  readonly #listen: { reading: number } | null;

  constructor(owner: HeadDeadlineOwner, listen: { reading: number } | null = null) {
    this.#owner = owner;
    this.#listen = listen;
  }

  /** Start the deadline `ms` from now; one already running goes on (it counts from the head's start). */
  arm(ms: number): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(HeadDeadline.#expired, Math.max(ms, 0), this);
    this.#timer.unref();
    connectionStats.reading++;
    if (this.#listen !== null) this.#listen.reading++;
  }

  /** The head is complete, or the connection is closing. */
  clear(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
    connectionStats.reading--;
    if (this.#listen !== null) this.#listen.reading--;
  }

  static #expired(d: HeadDeadline): void {
    d.#timer = null;
    connectionStats.reading--;
    if (d.#listen !== null) d.#listen.reading--;
    d.#owner.headTimedOut();
  }
}
