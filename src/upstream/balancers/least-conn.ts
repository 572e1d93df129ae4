/**
 * least_conn as nginx: the fewest active connections relative to weight (conns/weight compared by
 * cross-multiplication, no floats); several peers tied are settled by smooth weighted round robin
 * among just those.
 */
import type { PeerEntry } from '../entry.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';
import { smoothPick } from './round-robin.js';

/** Negative when a has fewer connections per weight than b. */
export function compareLoad(a: PeerEntry, b: PeerEntry): number {
  return a.peer.activeConns * b.params.weight - b.peer.activeConns * a.params.weight;
}

export class LeastConnBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];

  constructor(entries: readonly PeerEntry[]) {
    this.#entries = entries;
  }

  pick(_ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    let best: PeerEntry | null = null;
    let many = false;
    for (const entry of this.#entries) {
      if (!isEligible(entry)) continue;
      if (best === null || compareLoad(entry, best) < 0) {
        best = entry;
        many = false;
      } else if (compareLoad(entry, best) === 0) {
        many = true;
      }
    }
    if (best === null || !many) return best;
    const least = best;
    return smoothPick(this.#entries, (e) => isEligible(e) && compareLoad(e, least) === 0);
  }
}
