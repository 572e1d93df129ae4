/**
 * A group's view of one peer: the shared, reload-surviving Peer (counters, health, smooth-RR
 * state) and this config's `server` parameters for it. Parameters are frozen when the group is
 * prepared and never written into the Peer, so a config still serving while another is prepared
 * (or finishing its requests after a reload) keeps its own weight, max_fails, max_conns and down.
 */
import type { UpstreamServerConfig } from '../config/types.js';
import { passivelyDown } from './health/passive.js';
import type { Peer } from './peer.js';

/** The `server` parameters a group applies to its peer (maxConns 0 = unlimited). */
export type PeerParams = Pick<UpstreamServerConfig, 'weight' | 'maxFails' | 'failTimeoutMs' | 'maxConns' | 'backup' | 'down'>;

export function peerParamsOf(server: UpstreamServerConfig): PeerParams {
  return Object.freeze({
    weight: server.weight,
    maxFails: server.maxFails,
    failTimeoutMs: server.failTimeoutMs,
    maxConns: server.maxConns,
    backup: server.backup,
    down: server.down,
  });
}

export class PeerEntry {
  readonly peer: Peer;
  readonly params: PeerParams;

  constructor(peer: Peer, params: PeerParams) {
    this.peer = peer;
    this.params = params;
    Object.freeze(this);
  }

  /** Whether max_conns is reached. */
  busy(): boolean {
    const max = this.params.maxConns;
    return max > 0 && this.peer.activeConns >= max;
  }

  /** Whether the passive checks (max_fails / fail_timeout) currently keep this peer out. */
  passivelyDown(now: number): boolean {
    return passivelyDown(this, now);
  }

  /** Usable now: not `down`, healthy, below max_conns, not out by passive checks. */
  available(now: number): boolean {
    return !this.params.down && this.peer.healthy && !this.busy() && !passivelyDown(this, now);
  }
}
