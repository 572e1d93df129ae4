/**
 * The proxy_pass part of an explanation: the group, its balancer's choice now and on each retry
 * (the group's own pick(), as a try and its retries ask it), the peers' health from a running
 * instance's status document, and the upstream request head as proxy.ts built it.
 */
import type { BalanceMethod } from '../../config/types.js';
import { TsproxyError } from '../../errors.js';
import type { ProxyPlan } from '../../http/plan.js';
import type { HttpRequest } from '../../http/request.js';
import type { UpstreamHead } from '../../http/upstream-request.js';
import type { Peer } from '../../upstream/peer.js';
import type { UpstreamGroup } from '../../upstream/group.js';
import type { ExplainContent } from './types.js';

/** Peer states by "context group peer-id" ("http backend 127.0.0.1:9001") from a status document. */
export type PeerHealth = ReadonlyMap<string, string>;

/** The peers' states from a check_status JSON document (`upstreams[].peers[].state`). */
export function peerHealthOf(doc: unknown): PeerHealth {
  const out = new Map<string, string>();
  const ups = (doc as { upstreams?: unknown }).upstreams;
  if (!Array.isArray(ups)) throw new TsproxyError('TSP_ERR_EXPLAIN', 'not a tsproxy status document (no "upstreams")');
  for (const u of ups as { name?: string; context?: string; peers?: { key?: string; state?: string }[] }[]) {
    if (!Array.isArray(u.peers)) continue;
    for (const p of u.peers) if (typeof p.key === 'string' && typeof p.state === 'string') out.set(`${u.context} ${u.name} ${p.key}`, p.state);
  }
  return out;
}

/** GET a running instance's status URL (`check_status json`, or the page with ?format=json). */
export async function fetchPeerHealth(url: string): Promise<PeerHealth> {
  if (!/^https?:\/\//i.test(url)) throw new TsproxyError('TSP_ERR_EXPLAIN', `--status wants an http(s) URL, not "${url}"`);
  const res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new TsproxyError('TSP_ERR_EXPLAIN', `${url} answered ${res.status}`);
  return peerHealthOf(await res.json());
}

export function methodText(m: BalanceMethod): string {
  switch (m.kind) {
    case 'hash': return `hash ${m.key}${m.consistent ? ' consistent' : ''}`;
    case 'random': return `random${m.two ? ' two' : ''}${m.leastConn ? ' least_conn' : ''}`;
    default: return m.kind;
  }
}

/**
 * The peers in the order a request would try them now: the group's pick() with the peers tried
 * so far, as proxy_next_upstream retries do, up to proxy_next_upstream_tries. Each pick is given
 * back at once (this process's counters only).
 */
export function retryOrder(group: UpstreamGroup, clientAddress: string, hashKey: string | null, tries: number): string[] {
  const tried = new Set<Peer>();
  const order: string[] = [];
  const limit = tries > 0 ? tries : Infinity;
  while (order.length < limit) {
    const peer = group.pick({ clientAddress, hashKey, tried: tried.size === 0 ? null : tried });
    if (peer === null) break;
    group.release(peer, false);
    order.push(peer.id);
    tried.add(peer);
  }
  return order;
}

/** Every peer of the group, backups last, with its health in a running instance (or "unknown"). */
export function peersOf(group: UpstreamGroup, context: 'http' | 'stream', health: PeerHealth | null): { peer: string; backup: boolean; health: string }[] {
  return [...group.primary, ...group.backup].map((e) => ({
    peer: e.peer.id, backup: e.params.backup, health: health?.get(`${context} ${group.config.name} ${e.peer.id}`) ?? 'unknown',
  }));
}

export function proxyContent(
  r: HttpRequest, proxy: ProxyPlan, group: UpstreamGroup, proxyHost: string, head: UpstreamHead, dynamicUri: string | null, health: PeerHealth | null,
): ExplainContent {
  const lines = head.text.split('\r\n').filter((l) => l !== '');
  const target = lines[0]!.split(' ')[1]!;
  return {
    kind: 'proxy',
    group: group.config.name,
    method: methodText(group.config.method),
    peers: peersOf(group, 'http', health),
    order: retryOrder(group, r.remoteAddr, proxy.hashKey === null ? null : proxy.hashKey(r), proxy.tries),
    url: `${proxy.scheme}://${proxyHost}${target}`,
    target,
    head: lines,
    dynamic: proxy.dynamicTarget === null ? null : `${proxy.dynamicTarget(r)}`,
  };
}
