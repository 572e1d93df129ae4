/**
 * One upstream address and everything we know about it at run time. A Peer outlives configs: the
 * PeerRegistry hands the same object to every config that still names the same (upstream, address),
 * so counters, passive penalties and active-check state survive a reload.
 */
import type { CheckType, ListenAddress, UpstreamServerConfig } from '../config/types.js';
import { passivelyDown } from './health/passive.js';

/** A resolved address: an IP literal and port, or a unix socket path. */
export type PeerAddress = ListenAddress;

/** "127.0.0.1:9001", "[::1]:80", "unix:/run/app.sock" (the form nginx logs). */
export function peerKeyOf(address: PeerAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

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
  readonly address: PeerAddress;
  /** null for unix peers. */
  readonly host: string | null;
  /** 0 for unix peers. */
  readonly port: number;
  /** null for TCP peers. */
  readonly path: string | null;

  // config parameters (refreshed by configure() on every reload)
  weight = 1;
  maxFails = 1;
  failTimeoutMs = 10_000;
  maxConns = 0;
  backup = false;
  down = false;
  /** The `server` directive as written, for logs and the status page. */
  server = '';

  // traffic counters
  activeConns = 0;
  requests = 0;

  // passive health (nginx ngx_http_upstream_rr_peer_t fails / accessed / checked), see passive.ts
  fails = 0;
  /** When the last failure happened. */
  failedAt = Number.NEGATIVE_INFINITY;
  /** Start of the current fail_timeout window; a pick after it expired moves it to "now". */
  passiveCheckedAt = Number.NEGATIVE_INFINITY;

  // smooth weighted round robin state (nginx current_weight / effective_weight)
  currentWeight = 0;
  effectiveWeight = 1;

  // active health
  /** Active-check verdict; true whenever the group has no `check`. */
  healthy = true;
  /** The check type that currently watches this peer, null without `check`. */
  checkType: CheckType | null = null;
  /** Consecutive successful / failed active checks (they reset each other). */
  riseCount = 0;
  fallCount = 0;
  /** Epoch ms of the last finished active check, null before the first. */
  checkedAt: number | null = null;
  /** Reason of the last failure (active or passive), null when none happened yet. */
  lastError: string | null = null;
  /** Set once the registry dropped the peer; checkers that still hold it stop probing it. */
  retired = false;

  constructor(upstream: string, address: PeerAddress, occurrence = 1) {
    this.upstream = upstream;
    this.address = address;
    this.key = peerKeyOf(address);
    this.id = occurrence === 1 ? this.key : `${this.key}#${occurrence}`;
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

  /** Apply the `server` parameters of the current config; runtime state is kept. */
  configure(server: UpstreamServerConfig): void {
    if (server.weight !== this.weight) {
      // the smooth RR state is only meaningful for the weights it was built with
      this.currentWeight = 0;
      this.effectiveWeight = server.weight;
    }
    this.weight = server.weight;
    this.maxFails = server.maxFails;
    this.failTimeoutMs = server.failTimeoutMs;
    this.maxConns = server.maxConns;
    this.backup = server.backup;
    this.down = server.down;
    this.server = server.address;
  }

  /** Whether the passive checks (max_fails / fail_timeout) currently keep this peer out. */
  passivelyDown(now: number): boolean {
    return passivelyDown(this, now);
  }

  /** Whether max_conns is reached. */
  busy(): boolean {
    return this.maxConns > 0 && this.activeConns >= this.maxConns;
  }

  available(now: number): boolean {
    return !this.down && this.healthy && !this.busy() && !passivelyDown(this, now);
  }
}
