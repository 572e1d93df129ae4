import type { BalanceMethod, CheckConfig, UpstreamConfig, UpstreamServerConfig } from '../../src/config/types.js';
import { PeerEntry, peerParamsOf } from '../../src/upstream/entry.js';
import { Peer } from '../../src/upstream/peer.js';

const loc = { file: 'test.conf', line: 1, column: 1 };

export function server(address: string, params: Partial<Omit<UpstreamServerConfig, 'address' | 'target'>> = {}): UpstreamServerConfig {
  let target: UpstreamServerConfig['target'];
  if (address.startsWith('unix:')) target = { kind: 'unix', path: address.slice(5) };
  else {
    const i = address.lastIndexOf(':');
    target = { kind: 'tcp', host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
  }
  return {
    address,
    target,
    weight: 1,
    maxFails: 1,
    failTimeoutMs: 10_000,
    maxConns: 0,
    backup: false,
    down: false,
    loc,
    ...params,
  };
}

export function check(params: Partial<CheckConfig> = {}): CheckConfig {
  return {
    intervalMs: 50,
    rise: 2,
    fall: 2,
    timeoutMs: 500,
    defaultDown: false,
    type: 'tcp',
    port: 0,
    httpSend: 'GET / HTTP/1.0\r\n\r\n',
    expectAlive: ['http_2xx', 'http_3xx'],
    keepaliveRequests: 1,
    loc,
    ...params,
  };
}

export function upstream(
  name: string,
  servers: UpstreamServerConfig[],
  opts: { method?: BalanceMethod; check?: CheckConfig | null } = {},
): UpstreamConfig {
  return {
    name,
    method: opts.method ?? { kind: 'round_robin' },
    servers,
    check: opts.check ?? null,
    keepalive: 0,
    keepaliveTimeoutMs: 60_000,
    keepaliveRequests: 1000,
    keepaliveTimeMs: 3_600_000,
    implicit: false,
    loc,
  };
}

/** A committed group's entry for a new peer of `cfg` (as UpstreamGroup.commit() leaves it). */
export function entry(cfg: UpstreamServerConfig, address: Peer['address'] = cfg.target): PeerEntry {
  const e = new PeerEntry(new Peer('t', address), peerParamsOf(cfg));
  e.peer.restartBalancing(e.params.weight);
  return e;
}

/** Entries of peers named a, b, c... (ports 1, 2, 3...) with the given weights. */
export function entries(weights: number[], params: Partial<UpstreamServerConfig> = {}): PeerEntry[] {
  return weights.map((weight, i) => entry(server(`10.0.0.1:${i + 1}`, { ...params, weight })));
}

/** Letter of an entry made by entries(): port 1 → "a". */
export function letter(e: { peer: { port: number } } | null): string {
  return e === null ? '-' : String.fromCharCode(96 + e.peer.port);
}

export const ctx = { clientAddress: '127.0.0.1', hashKey: null, tried: null };
