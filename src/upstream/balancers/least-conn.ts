/**
 * least_conn as nginx: the fewest active connections relative to weight (conns/weight compared by
 * cross-multiplication, no floats); several peers tied are settled by smooth weighted round robin
 * among just those.
 */
import type { Peer } from '../peer.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';
import { smoothPick } from './round-robin.js';

/** Negative when a has fewer connections per weight than b. */
export function compareLoad(a: Peer, b: Peer): number {
  return a.activeConns * b.weight - b.activeConns * a.weight;
}

export class LeastConnBalancer implements Balancer {
  readonly #peers: readonly Peer[];

  constructor(peers: readonly Peer[]) {
    this.#peers = peers;
  }

  pick(_ctx: PickContext, isEligible: IsEligible): Peer | null {
    let best: Peer | null = null;
    let many = false;
    for (const peer of this.#peers) {
      if (!isEligible(peer)) continue;
      if (best === null || compareLoad(peer, best) < 0) {
        best = peer;
        many = false;
      } else if (compareLoad(peer, best) === 0) {
        many = true;
      }
    }
    if (best === null || !many) return best;
    const least = best;
    return smoothPick(this.#peers, (p) => isEligible(p) && compareLoad(p, least) === 0);
  }
}
