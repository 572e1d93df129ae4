import type { BalanceMethod, CheckConfig, UpstreamConfig, UpstreamServerConfig } from '../../src/config/types.js';
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

/** Peers named a, b, c... (ports 1, 2, 3...) with the given weights. */
export function peers(weights: number[], params: Partial<UpstreamServerConfig> = {}): Peer[] {
  return weights.map((weight, i) => {
    const p = new Peer('t', { kind: 'tcp', host: '10.0.0.1', port: i + 1 });
    p.configure(server(`10.0.0.1:${i + 1}`, { ...params, weight }));
    return p;
  });
}

/** Letter of a peer made by peers(): port 1 → "a". */
export function letter(p: { port: number } | null): string {
  return p === null ? '-' : String.fromCharCode(96 + p.port);
}

export const ctx = { clientAddress: '127.0.0.1', hashKey: null, tried: null };
