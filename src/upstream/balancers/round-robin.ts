/**
 * Smooth weighted round robin, as nginx's ngx_http_upstream_get_peer: every eligible peer gains
 * its effective weight, the richest wins and pays back the total. Weights 5,1,1 give a a b a c a a.
 * effective_weight is lowered by failures (passive.ts) and climbs back by 1 each time the peer
 * takes part in a selection, up to the weight of the entry (the group's `server` parameter).
 */
import type { PeerEntry } from '../entry.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';

/** One smooth-WRR selection over the eligible members of `entries` (also used for ties elsewhere). */
export function smoothPick(entries: readonly PeerEntry[], isEligible: IsEligible): PeerEntry | null {
  let best: PeerEntry | null = null;
  let total = 0;
  for (const entry of entries) {
    if (!isEligible(entry)) continue;
    const peer = entry.peer;
    peer.currentWeight += peer.effectiveWeight;
    total += peer.effectiveWeight;
    if (peer.effectiveWeight < entry.params.weight) peer.effectiveWeight++;
    if (best === null || peer.currentWeight > best.peer.currentWeight) best = entry;
  }
  if (best !== null) best.peer.currentWeight -= total;
  return best;
}

export class RoundRobinBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];

  constructor(entries: readonly PeerEntry[]) {
    this.#entries = entries;
  }

  pick(_ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    return smoothPick(this.#entries, isEligible);
  }
}
