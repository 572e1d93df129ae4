/**
 * The PeerRegistry owns every Peer across config generations (Caddy's hosts.LoadOrStore idea):
 * a reload being prepared looks up the peers of the new config — getting back the very objects of
 * the old one for unchanged (upstream, address) pairs — and, once committed, adopts its new peers
 * and retains only the peers of the config in service, dropping the rest.
 *
 * Keys are `${upstreamName} ${peerKey}`. http and stream upstreams share one name space here, so a
 * runtime that keeps both in one registry should give stream groups a distinct name prefix.
 */
import type { Peer } from './peer.js';
import { runNow, type Steps } from '../time-slicer.js';

export function registryKey(upstreamName: string, peerKey: string): string {
  return `${upstreamName} ${peerKey}`;
}

export class PeerRegistry {
  #peers = new Map<string, Peer>();

  /**
   * Register a peer made by a reload being prepared (UpstreamGroup.prepare), at its commit().
   * Returns false when the key already has a peer (then the registry keeps that one). The key is
   * the one the Peer made once (a reload's swap adopts every peer of the config, 20,000 on a
   * 10,000-upstream one, and made each key again).
   */
  adopt(upstreamName: string, peer: Peer): boolean {
    const key = peer.upstream === upstreamName ? peer.registryKey : registryKey(upstreamName, peer.id);
    if (this.#peers.has(key)) return false;
    peer.retired = false;
    this.#peers.set(key, peer);
    return true;
  }

  /** `peerKey` is a Peer's `id` ("127.0.0.1:9001", or "127.0.0.1:9001#2" for a second line). */
  get(upstreamName: string, peerKey: string): Peer | undefined {
    return this.#peers.get(registryKey(upstreamName, peerKey));
  }

  /** By full registry key (as UpstreamGroup.registryKeys lists them; worker health messages use it). */
  byKey(key: string): Peer | undefined {
    return this.#peers.get(key);
  }

  has(upstreamName: string, peerKey: string): boolean {
    return this.#peers.has(registryKey(upstreamName, peerKey));
  }

  get size(): number {
    return this.#peers.size;
  }

  peers(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** Drop one peer; checkers still holding it stop probing it. */
  release(upstreamName: string, peerKey: string): boolean {
    const key = registryKey(upstreamName, peerKey);
    const peer = this.#peers.get(key);
    if (peer === undefined) return false;
    peer.retired = true;
    this.#peers.delete(key);
    return true;
  }

  /**
   * Keep only the peers whose registry keys are given (the union over every group of the config
   * now in service, see UpstreamGroup.registryKeys); returns the peers dropped.
   */
  retain(keys: Iterable<string>): Peer[] {
    return runNow(this.retainSteps(keys));
  }

  /**
   * retain() in steps: a reload may pause after each peer looked at (src/time-slicer.ts). Only the
   * peers registered when it starts are looked at: one a `resolve` name adopts during a pause
   * belongs to a group in service (it is not in `keys`, which were read before). One that group
   * released meanwhile is gone already and is skipped.
   */
  *retainSteps(keys: Iterable<string>): Steps<Peer[]> {
    const candidates = [...this.#peers];
    const keep = keys instanceof Set ? (keys as ReadonlySet<string>) : new Set(keys);
    const dropped: Peer[] = [];
    for (const [key, peer] of candidates) {
      yield;
      if (keep.has(key) || this.#peers.get(key) !== peer) continue;
      peer.retired = true;
      this.#peers.delete(key);
      dropped.push(peer);
    }
    return dropped;
  }
}
