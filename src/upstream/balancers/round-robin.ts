/**
 * Smooth weighted round robin, as nginx's ngx_http_upstream_get_peer: every eligible peer gains
 * its effective weight, the richest wins and pays back the total. Weights 5,1,1 give a a b a c a a.
 * effective_weight is lowered by failures (passive.ts) and climbs back by 1 each time the peer
 * takes part in a selection.
 */
import type { Peer } from '../peer.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';

/** One smooth-WRR selection over the eligible members of `peers` (also used for ties elsewhere). */
export function smoothPick(peers: readonly Peer[], isEligible: IsEligible): Peer | null {
  let best: Peer | null = null;
  let total = 0;
  for (const peer of peers) {
    if (!isEligible(peer)) continue;
    peer.currentWeight += peer.effectiveWeight;
    total += peer.effectiveWeight;
    if (peer.effectiveWeight < peer.weight) peer.effectiveWeight++;
    if (best === null || peer.currentWeight > best.currentWeight) best = peer;
  }
  if (best !== null) best.currentWeight -= total;
  return best;
}

export class RoundRobinBalancer implements Balancer {
  readonly #peers: readonly Peer[];

  constructor(peers: readonly Peer[]) {
    this.#peers = peers;
  }

  pick(_ctx: PickContext, isEligible: IsEligible): Peer | null {
    return smoothPick(this.#peers, isEligible);
  }
}
