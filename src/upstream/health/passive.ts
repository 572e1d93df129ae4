/**
 * Passive health: nginx's max_fails / fail_timeout, fed by the outcome of real traffic.
 *
 * The model is nginx's round-robin peer bookkeeping (fails, accessed, checked):
 * - a failure counts, and opens the window, at the time it happens; failures older than
 *   fail_timeout are forgotten before a new one is counted (the documented "max_fails attempts
 *   within fail_timeout" rule; nginx itself only forgets them on the next success);
 * - once fails >= max_fails the peer is out for fail_timeout from the last failure;
 * - when the penalty has expired the next pick moves the window start to "now", which puts the
 *   peer out again for everyone else: exactly one probe request goes through;
 * - a success that started after the window start (the probe) resets fails; a failure of the
 *   probe counts and the penalty starts over;
 * - max_fails=0 disables all of this.
 *
 * The counters live on the shared Peer; max_fails / fail_timeout / weight are the parameters of
 * the group whose request it was (its PeerEntry).
 */
import type { PeerEntry } from '../entry.js';

export function passivelyDown({ peer, params }: PeerEntry, now: number): boolean {
  return params.maxFails > 0 && peer.fails >= params.maxFails && now - peer.passiveCheckedAt <= params.failTimeoutMs;
}

/** A request was sent to the peer (nginx: `if (now - best->checked > fail_timeout) best->checked = now`). */
export function notePick({ peer, params }: PeerEntry, now: number): void {
  if (now - peer.passiveCheckedAt > params.failTimeoutMs) peer.passiveCheckedAt = now;
}

/** The peer served (nginx: `if (peer->accessed < peer->checked) peer->fails = 0`): a probe that worked brings it back. */
export function noteSuccess({ peer, params }: PeerEntry): void {
  if (params.maxFails > 0 && peer.failedAt < peer.passiveCheckedAt) peer.fails = 0;
}

/**
 * A request to the peer ended. Returns true when this failure made the peer unavailable
 * (the caller logs that transition).
 */
export function noteOutcome(entry: PeerEntry, failed: boolean, now: number): boolean {
  const { peer, params } = entry;
  if (params.maxFails === 0) return false;
  if (!failed) {
    noteSuccess(entry);
    return false;
  }
  if (peer.fails < params.maxFails && now - peer.failedAt > params.failTimeoutMs) peer.fails = 0;
  peer.fails++;
  peer.failedAt = now;
  peer.passiveCheckedAt = now;
  // nginx lowers the peer's share in smooth RR and lets it climb back by 1 per selection
  peer.effectiveWeight = Math.max(0, peer.effectiveWeight - Math.trunc(params.weight / params.maxFails));
  return peer.fails >= params.maxFails;
}
