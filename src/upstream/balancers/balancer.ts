/**
 * Balancers only choose. The group decides which peers are usable (down, active/passive health,
 * max_conns, already tried) and hands that in as a predicate; the balancer picks among the usable
 * members of the entry list it was built for. Hash balancers need the whole list (the weight line
 * or ring includes unusable peers), which is why they get a predicate and not a filtered array.
 * Weights come from the entries (the group's parameters); the smooth-RR state they move is the
 * shared Peer's.
 */
import type { BalanceMethod } from '../../config/types.js';
import type { PeerEntry } from '../entry.js';
import type { Peer } from '../peer.js';
import { ConsistentHashBalancer, HashBalancer, IpHashBalancer } from './hash.js';
import { LeastConnBalancer } from './least-conn.js';
import { RandomBalancer } from './random.js';
import { RoundRobinBalancer } from './round-robin.js';

export interface PickContext {
  /** The client's IP address as the socket reports it ("" or a path for unix clients). */
  readonly clientAddress: string;
  /** The evaluated `hash` key for this request; null when the method is not `hash`. */
  readonly hashKey: string | null;
  /** Peers this request already tried (retries), or null on the first attempt. */
  readonly tried: ReadonlySet<Peer> | null;
}

export type IsEligible = (entry: PeerEntry) => boolean;

export interface Balancer {
  pick(ctx: PickContext, isEligible: IsEligible): PeerEntry | null;
}

export interface BalancerOptions {
  /** Random source in [0, 1) for `random` (tests inject a sequence). */
  readonly random?: () => number;
}

/** Whether `backup` servers take part for this method (nginx rejects them with the hash family). */
export function supportsBackup(method: BalanceMethod): boolean {
  return method.kind === 'round_robin' || method.kind === 'least_conn';
}

export function createBalancer(method: BalanceMethod, entries: readonly PeerEntry[], opts: BalancerOptions = {}): Balancer {
  switch (method.kind) {
    case 'round_robin':
      return new RoundRobinBalancer(entries);
    case 'least_conn':
      return new LeastConnBalancer(entries);
    case 'ip_hash':
      return new IpHashBalancer(entries);
    case 'hash':
      return method.consistent ? new ConsistentHashBalancer(entries) : new HashBalancer(entries);
    case 'random':
      return new RandomBalancer(entries, method.two, opts.random);
  }
}
