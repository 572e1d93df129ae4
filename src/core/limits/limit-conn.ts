/**
 * limit_conn's zones (ngx_http_limit_conn_module / ngx_stream_limit_conn_module, 1.22), for http
 * (requests in progress) and stream (connections) alike. A zone counts, per key, what holds it;
 * a hold is taken for every limit of the location in order and given back when the request or
 * session ends. A limit already at its number refuses, and the holds taken before it in the same
 * request are given back (nginx's cleanup_all). Like limit_req, a worker asks the primary, which
 * runs this same code (runtime/limit-ipc.ts).
 */

/** One limit_conn of a location or stream server. */
export interface LimitConnCheck {
  readonly zone: string;
  /** Keys the zone holds at most (from its size): a new key beyond it is refused, as nginx's failed allocation. */
  readonly maxEntries: number;
  /** limit_conn zone N: the number. */
  readonly max: number;
  /** The key's value ('' = not limited by this zone). */
  readonly key: string;
}

/** What a refused acquire returns: the index of the limit that refused; -1 when every hold was taken. */
export const CONN_ACQUIRED = -1;

export class LimitConnZones {
  readonly #zones = new Map<string, Map<string, number>>();

  #zone(name: string): Map<string, number> {
    let z = this.#zones.get(name);
    if (z === undefined) this.#zones.set(name, (z = new Map()));
    return z;
  }

  /**
   * Takes a hold in each zone with a key, in order; returns CONN_ACQUIRED, or the index of the
   * limit at its number (having given back the holds taken before it). `zoneFull` tells a refusal
   * by a full zone (nginx logs nothing then) from one by the number.
   */
  acquire(checks: readonly LimitConnCheck[]): { refused: number; zoneFull: boolean } {
    for (let i = 0; i < checks.length; i++) {
      const c = checks[i]!;
      if (c.key === '') continue;
      const z = this.#zone(c.zone);
      const n = z.get(c.key) ?? 0;
      const full = n === 0 && z.size >= c.maxEntries;
      if (n >= c.max || full) {
        this.release(checks, i);
        return { refused: i, zoneFull: full };
      }
      z.set(c.key, n + 1);
    }
    return ACQUIRED;
  }

  /** Gives back the holds of `checks` (the first `count` of them). */
  release(checks: readonly LimitConnCheck[], count = checks.length): void {
    for (let i = 0; i < count; i++) {
      const c = checks[i]!;
      if (c.key !== '') this.releaseKey(c.zone, c.key);
    }
  }

  releaseKey(zone: string, key: string): void {
    const z = this.#zones.get(zone);
    if (z === undefined) return;
    const n = z.get(key);
    if (n === undefined) return;
    if (n <= 1) z.delete(key);
    else z.set(key, n - 1);
  }

  /** The holds of a key (tests, and the primary's bookkeeping). */
  count(zone: string, key: string): number {
    return this.#zones.get(zone)?.get(key) ?? 0;
  }
}

const ACQUIRED = { refused: CONN_ACQUIRED, zoneFull: false } as const;
