/**
 * What the live groups say about their peers for `check_status`: the state of every peer of every
 * group, from the live Peer objects and the group's own parameters (weight, backup, down, check
 * type). Unlike nginx's modules, which each show only their own context, one page lists the
 * upstreams of both `http {}` and `stream {}` (tagged with their context): an operator wants one
 * place to see what is down. The status document (src/core/status/) is built from this and
 * rendered there as HTML, JSON, Prometheus and an event stream.
 */
import type { UpstreamGroup } from './group.js';
import type { PeerEntry } from './entry.js';

export type PeerState = 'up' | 'down' | 'passive-down' | 'disabled';

export interface PeerStatus {
  /** The peer's id: its address, with `#n` for the n-th line of the same address. */
  readonly key: string;
  readonly state: PeerState;
  readonly weight: number;
  readonly backup: boolean;
  readonly activeConns: number;
  readonly requests: number;
  readonly fails: number;
  /** Consecutive successful / failed active checks. */
  readonly rise: number;
  readonly fall: number;
  /** ISO time of the last active check, null before the first (or without `check`). */
  readonly lastCheck: string | null;
  readonly lastError: string | null;
  readonly checkType: string | null;
}

export interface UpstreamStatus {
  readonly name: string;
  readonly context: 'http' | 'stream';
  readonly peers: readonly PeerStatus[];
}

export interface StatusDocument {
  readonly upstreams: readonly UpstreamStatus[];
  readonly generatedAt: string;
}

export function peerState(entry: PeerEntry, now: number): PeerState {
  if (entry.params.down) return 'disabled';
  if (!entry.peer.healthy) return 'down';
  if (entry.passivelyDown(now)) return 'passive-down';
  return 'up';
}

export function statusDocument(groups: readonly UpstreamGroup[], now: number): StatusDocument {
  return {
    upstreams: groups.map((g) => ({
      name: g.name,
      context: g.context,
      peers: g.entries.map((e) => statusOf(e, g.config.check?.type ?? null, now)),
    })),
    generatedAt: new Date(now).toISOString(),
  };
}

function statusOf(entry: PeerEntry, checkType: string | null, now: number): PeerStatus {
  const p = entry.peer;
  return {
    key: p.id,
    state: peerState(entry, now),
    weight: entry.params.weight,
    backup: entry.params.backup,
    activeConns: p.activeConns,
    requests: p.requests,
    fails: p.fails,
    rise: p.riseCount,
    fall: p.fallCount,
    lastCheck: p.checkedAt === null ? null : new Date(p.checkedAt).toISOString(),
    lastError: p.lastError,
    checkType,
  };
}
