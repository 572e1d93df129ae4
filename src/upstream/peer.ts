/**
 * One upstream address and what we know about it at run time. A Peer outlives configs: the
 * PeerRegistry hands the same object to every config that still names the same (upstream, address),
 * so counters, passive penalties, active-check state and the smooth-RR state survive a reload.
 *
 * A Peer holds no configuration: the `server` parameters (weight, max_fails, down...) belong to
 * the group that uses the peer (its PeerEntry, entry.ts), so two configs alive at once (one
 * serving, one being prepared or still finishing requests) each see their own parameters.
 */
import type { ListenAddress } from '../config/types.js';
import { addressKey } from '../config/units.js';
import { PeerStats } from './stats.js';
import { registryKey } from './registry.js';

/** A resolved address: an IP literal and port, or a unix socket path. */
export type PeerAddress = ListenAddress;

/** "127.0.0.1:9001", "[::1]:80", "unix:/run/app.sock" (the form nginx logs). */
export const peerKeyOf: (address: PeerAddress) => string = addressKey;

export class Peer {
  /** The address as nginx logs it ($upstream_addr): "127.0.0.1:9001". */
  readonly key: string;
  /**
   * Unique within the group: `key`, or `key#n` for the n-th `server` line (or resolved address)
   * of the same address. nginx keeps every line as a peer of its own, so a retry may go to the
   * same address again; state (passive health, checks, pools) is per line.
   */
  readonly id: string;
  readonly upstream: string;
  /** Its key in the PeerRegistry (registryKey of `upstream` and `id`), made once: every reload's groups list it. */
  readonly registryKey: string;
  readonly address: PeerAddress;
  /** null for unix peers. */
  readonly host: string | null;
  /** 0 for unix peers. */
  readonly port: number;
  /** null for TCP peers. */
  readonly path: string | null;

  // traffic counters
  activeConns = 0;
  requests = 0;
  /** What the status document shows of its traffic (stats.ts). */
  readonly stats = new PeerStats();

  // state bookkeeping for the status document (noteState)
  /** Epoch ms the peer entered its current state (up or not up). */
  stateSinceMs = Date.now();
  stateChanges = 0;
  /** Time spent not up before the current period, ms. */
  downtimeMs = 0;
  /** The state noteState last saw. */
  wasUp = true;

  // passive health (nginx ngx_http_upstream_rr_peer_t fails / accessed / checked), see passive.ts
  fails = 0;
  /** When the last failure happened. */
  failedAt = Number.NEGATIVE_INFINITY;
  /** Start of the current fail_timeout window; a pick after it expired moves it to "now". */
  passiveCheckedAt = Number.NEGATIVE_INFINITY;

  // smooth weighted round robin state (nginx current_weight / effective_weight)
  currentWeight = 0;
  effectiveWeight = 1;
  /**
   * The `weight` the smooth-RR state above was built for; 0 before a committed config used the
   * peer. nginx starts that state over at every reload; tsproxy keeps it while the weight stays
   * (see restartBalancing).
   */
  balancedWeight = 0;

  // active health
  /** Active-check verdict; true whenever the group has no `check`. */
  healthy = true;
  /**
   * Whether an active check gives the verdict. False: the committed group has no `check`, or the
   * peer is new; then `default_down` decides its first verdict at commit.
   */
  activelyChecked = false;
  /** Consecutive successful / failed active checks (they reset each other). */
  riseCount = 0;
  fallCount = 0;
  /** Epoch ms of the last finished active check, null before the first. */
  checkedAt: number | null = null;
  /** Reason of the last failure (active or passive), null when none happened yet. */
  lastError: string | null = null;
  /** The last check's HAProxy-like code ("L7 200", "L4 connect refused"), whether it passed, how long it took. */
  lastCheckResult: string | null = null;
  lastCheckOk: boolean | null = null;
  lastCheckLatencyMs: number | null = null;
  /** Set once the registry dropped the peer; checkers that still hold it stop probing it. */
  retired = false;

  constructor(upstream: string, address: PeerAddress, occurrence = 1) {
    this.upstream = upstream;
    this.address = address;
    this.key = peerKeyOf(address);
    this.id = occurrence === 1 ? this.key : `${this.key}#${occurrence}`;
    this.registryKey = registryKey(upstream, this.id);
    if (address.kind === 'unix') {
      this.host = null;
      this.port = 0;
      this.path = address.path;
    } else {
      this.host = address.host;
      this.port = address.port;
      this.path = null;
    }
  }

  /**
   * The peer is (`up`) or is not taking traffic since `atMs`: a change counts, and the time not
   * up adds to downtimeMs when it ends. Called where a verdict flips (active checks, a passive
   * trip) and when the status is read (a passive penalty ends by itself).
   */
  noteState(up: boolean, atMs: number): void {
    if (up === this.wasUp) return;
    if (up) this.downtimeMs += Math.max(0, atMs - this.stateSinceMs);
    this.wasUp = up;
    this.stateSinceMs = atMs;
    this.stateChanges++;
  }

  /**
   * A committed config balances this peer with `weight`: the smooth-RR state is only meaningful
   * for the weight it was built with, so a new weight (or a new peer) starts it over; an
   * unchanged one keeps it, failure penalty included.
   */
  restartBalancing(weight: number): void {
    if (weight === this.balancedWeight) return;
    this.balancedWeight = weight;
    this.currentWeight = 0;
    this.effectiveWeight = weight;
  }

  /**
   * A committed config watches this peer with an active check (`check` non-null) or not. A peer
   * an active check already watched keeps its verdict across reloads; one new to checking starts
   * down when default_down is set (nginx); without a check the peer is trusted.
   */
  watchActively(check: { readonly defaultDown: boolean } | null): void {
    if (check === null) {
      this.activelyChecked = false;
      this.healthy = true;
      this.riseCount = 0;
      this.fallCount = 0;
      return;
    }
    if (this.activelyChecked) return;
    this.activelyChecked = true;
    this.healthy = !check.defaultDown;
    // where checking starts is no change of state (a peer never seen up has no downtime yet)
    if (!this.healthy && this.stateChanges === 0) {
      this.wasUp = false;
      this.stateSinceMs = Date.now();
    }
    this.riseCount = 0;
    this.fallCount = 0;
  }
}
