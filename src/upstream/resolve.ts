/**
 * Names asked of the configured `resolver` (node:dns Resolver on its servers, not the system's
 * resolv.conf), with nginx's reading of the answer: A (and AAAA unless `ipv6=off`) records, used
 * for their smallest TTL unless `valid=` says how long; "Host not found" (NXDOMAIN, or no record
 * of either type) is an answer — the name has no address — while a server failure or a timeout
 * is not, and the caller keeps the last good addresses. The error texts are nginx's
 * ngx_resolver_strerror, as its "could not be resolved (3: Host not found)" lines show them.
 */
import { Resolver } from 'node:dns';
import type { ResolverConfig } from '../config/types.js';
import { TsproxyError } from '../errors.js';

/** The addresses of a name and how long they may be used. */
export interface NameAnswer {
  readonly addresses: readonly string[];
  readonly ttlMs: number;
}

/** nginx's resolver states (ngx_resolver.h) as its error lines number them. */
export const RESOLVE_FORMAT_ERROR = 1;
export const RESOLVE_SERVER_FAILURE = 2;
export const RESOLVE_NXDOMAIN = 3;
export const RESOLVE_REFUSED = 5;
export const RESOLVE_TIMEDOUT = 110;

const STRERROR: Readonly<Record<number, string>> = {
  [RESOLVE_FORMAT_ERROR]: 'Format error',
  [RESOLVE_SERVER_FAILURE]: 'Server failure',
  [RESOLVE_NXDOMAIN]: 'Host not found',
  4: 'Unimplemented',
  [RESOLVE_REFUSED]: 'Operation refused',
  [RESOLVE_TIMEDOUT]: 'Operation timed out',
};

/** A name that did not resolve: `state` is nginx's number, `message` its "(3: Host not found)" text. */
export class ResolveFailure extends TsproxyError {
  readonly state: number;

  constructor(state: number) {
    super('TSP_ERR_RESOLVE', `${state}: ${STRERROR[state] ?? 'Unknown error'}`);
    this.state = state;
  }

  /** NXDOMAIN: the name has no address (nginx then empties the server's peers). */
  get notFound(): boolean {
    return this.state === RESOLVE_NXDOMAIN;
  }
}

/** node:dns error codes (c-ares) → nginx resolver state. */
function stateOf(error: unknown): number {
  switch ((error as { code?: string }).code) {
    case 'ENOTFOUND':
    case 'ENODATA':
      return RESOLVE_NXDOMAIN;
    case 'ESERVFAIL':
      return RESOLVE_SERVER_FAILURE;
    case 'EREFUSED':
      return RESOLVE_REFUSED;
    case 'EFORMERR':
    case 'EBADRESP':
      return RESOLVE_FORMAT_ERROR;
    default:
      return RESOLVE_TIMEDOUT;
  }
}

interface Records {
  readonly records: readonly { address: string; ttl: number }[];
  /** 0 when the query answered (records may be empty), else nginx's state. */
  readonly state: number;
}

/** Shortest re-resolution period: a TTL of 0 must not turn into a query loop. */
export const MIN_TTL_MS = 1000;

/** One resolver's view of the DNS (one per `resolver` directive in use; its servers fixed). */
export class NameResolver {
  readonly config: ResolverConfig;
  readonly #dns: Resolver;

  constructor(config: ResolverConfig) {
    this.config = config;
    // one try of resolver_timeout: nginx's timeout covers the whole lookup
    this.#dns = new Resolver({ timeout: config.timeoutMs, tries: 1 });
    this.#dns.setServers([...config.servers]);
  }

  /** The addresses of `name` (A first, then AAAA); rejects with a ResolveFailure. */
  async resolve(name: string): Promise<NameAnswer> {
    const queries = [this.#query(name, 4)];
    if (this.config.ipv6) queries.push(this.#query(name, 6));
    const answers = await Promise.all(queries);
    // a failure of either query is no answer: half the addresses would drop peers that are fine
    const failed = answers.find((a) => a.state !== 0 && a.state !== RESOLVE_NXDOMAIN);
    if (failed !== undefined) throw new ResolveFailure(failed.state);
    const records = answers.flatMap((a) => a.records);
    if (records.length === 0) throw new ResolveFailure(RESOLVE_NXDOMAIN);
    const ttlMs = this.config.validMs ?? Math.min(...records.map((r) => r.ttl)) * 1000;
    return { addresses: records.map((r) => r.address), ttlMs: Math.max(MIN_TTL_MS, ttlMs) };
  }

  /** Stop the queries in flight (they reject). */
  cancel(): void {
    this.#dns.cancel();
  }

  #query(name: string, family: 4 | 6): Promise<Records> {
    return new Promise((resolve) => {
      const done = (error: NodeJS.ErrnoException | null, records: { address: string; ttl: number }[]): void => {
        if (error === null) resolve({ records, state: 0 });
        else resolve({ records: [], state: stateOf(error) });
      };
      if (family === 4) this.#dns.resolve4(name, { ttl: true }, done);
      else this.#dns.resolve6(name, { ttl: true }, done);
    });
  }
}

const byConfig = new WeakMap<ResolverConfig, NameResolver>();

/** The NameResolver of a `resolver` (one per config object: locations that inherit it share it). */
export function nameResolverOf(config: ResolverConfig): NameResolver {
  let r = byConfig.get(config);
  if (r === undefined) byConfig.set(config, (r = new NameResolver(config)));
  return r;
}
