/**
 * Implicit upstream groups: `proxy_pass http://$var` (http) and `proxy_pass $var` (stream) name a
 * host:port or unix:path that is no upstream of the config; nginx then proxies to that address
 * alone. Each address gets a one-server round-robin group, made on first use (host names are
 * resolved once, by UpstreamGroup.create), cached per config and bounded, because the value may
 * come from the client (a Host, an SNI through a map). Their peers live in a registry of their
 * own: their state does not outlive the config (the runtime's registry only knows the config's
 * groups). One implementation for http and stream (`resolve`: an upstream of the config by its
 * name or address, else an implicit group); http adds only its own reading of the value (a
 * default port, no unix: socket, $proxy_host).
 */
import type { UpstreamConfig } from '../config/types.js';
import { addressKey, parseUpstreamAddress } from '../config/units.js';
import { UpstreamGroup } from './group.js';
import { PeerRegistry } from './registry.js';
import { MIN_TTL_MS, ResolveFailure, type NameResolver } from './resolve.js';

/** The keep-alive settings an implicit group's connections get (http: the upstream defaults; stream: none). */
export type ImplicitKeepalive = Pick<UpstreamConfig, 'keepalive' | 'keepaliveTimeoutMs' | 'keepaliveRequests' | 'keepaliveTimeMs'>;

export interface ImplicitGroupOptions {
  /** The config's groups by name (named upstreams, and the implicit groups of static proxy_pass). */
  readonly named?: ReadonlyMap<string, UpstreamGroup>;
  /** Registry namespace of the groups' peers ("dynamic ", "stream dynamic "). */
  readonly namespace: string;
  readonly keepalive: ImplicitKeepalive;
  /** Most groups kept; the oldest is forgotten first. */
  readonly maxCached: number;
  /**
   * The `resolver` names are asked of (nginx's rule for names in variables): an answer is used for
   * its TTL (or `valid=`), then asked again on the next use while the group keeps serving the last
   * addresses. Absent: the system resolver, once per group.
   */
  readonly resolver?: NameResolver;
}

const LOC = { file: '<proxy_pass variable>', line: 0, column: 0 };

export class ImplicitGroups {
  readonly #opts: ImplicitGroupOptions;
  readonly #registry = new PeerRegistry();
  /** A group once made; its creation while it resolves. */
  readonly #cache = new Map<string, UpstreamGroup | Promise<UpstreamGroup | null>>();
  /** With a resolver: when each name group's answer expires (epoch ms; Infinity while asking again). */
  readonly #expires = new Map<string, number>();
  /** With a resolver: why a name last failed to resolve, nginx's "NAME could not be resolved (...)". */
  readonly #failures = new Map<string, string>();

  constructor(opts: ImplicitGroupOptions) {
    this.#opts = opts;
  }

  /**
   * The group a proxy_pass variable's value names: the config's group of that name (an upstream,
   * or the implicit group a static proxy_pass made for the same address), else `get`.
   */
  resolve(value: string, defaultPort: number | null): UpstreamGroup | Promise<UpstreamGroup | null> | null {
    return this.#opts.named?.get(value) ?? this.get(value, defaultPort);
  }

  /**
   * The group of `address` ("host:port", "[v6]:port", "unix:/path"; `defaultPort` when it has no
   * port, null: a port is required). null when it is no usable address; a promise the first time.
   */
  get(address: string, defaultPort: number | null): UpstreamGroup | Promise<UpstreamGroup | null> | null {
    const parsed = parseUpstreamAddress(address, defaultPort);
    if (!parsed.ok) return null;
    const target = parsed.value;
    // Host names are case-insensitive (one group for Example.com and example.com); paths are not.
    const key = target.kind === 'unix' ? addressKey(target) : addressKey(target).toLowerCase();
    const configured = this.#opts.named?.get(key);
    if (configured !== undefined) return configured;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      if (this.#opts.resolver !== undefined && !(cached instanceof Promise)) {
        const expires = this.#expires.get(key);
        if (expires !== undefined && expires <= Date.now()) this.#refresh(key, cached, target);
      }
      return cached;
    }
    if (this.#cache.size >= this.#opts.maxCached) {
      const oldest = this.#cache.keys().next().value!;
      this.#cache.delete(oldest);
      this.#expires.delete(oldest);
    }
    const made = this.#create(key, target);
    this.#cache.set(key, made);
    return made;
  }

  async #create(key: string, target: UpstreamConfig['servers'][number]['target']): Promise<UpstreamGroup | null> {
    const cfg: UpstreamConfig = {
      name: key,
      method: { kind: 'round_robin' },
      servers: [{ address: key, target, weight: 1, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, backup: false, down: false, loc: LOC }],
      check: null,
      ...this.#opts.keepalive,
      implicit: true,
      loc: LOC,
    };
    const resolver = this.#opts.resolver;
    const resolve = resolver === undefined ? undefined : async (host: string): Promise<string[]> => {
      try {
        const answer = await resolver.resolve(host);
        this.#expires.set(key, Date.now() + answer.ttlMs);
        this.#failures.delete(key);
        return [...answer.addresses];
      } catch (error) {
        // bounded as the cache: client-controlled names cannot grow it without limit
        if (this.#failures.size >= this.#opts.maxCached) this.#failures.clear();
        this.#failures.set(key, `${host} could not be resolved (${error instanceof ResolveFailure ? error.message : '110: Operation timed out'})`);
        throw error;
      }
    };
    try {
      const group = await UpstreamGroup.create(cfg, this.#registry, { namespace: this.#opts.namespace, ...(resolve === undefined ? {} : { resolve }) });
      // Later lookups get the group itself, without a promise to wait for.
      if (this.#cache.has(key)) this.#cache.set(key, group);
      return group;
    } catch {
      // Not resolvable now: forget it, so a later request tries again.
      this.#cache.delete(key);
      this.#expires.delete(key);
      return null;
    }
  }

  /** Why `address` last failed to resolve through the resolver (nginx's error line), null when it did not. */
  failureOf(address: string, defaultPort: number | null): string | null {
    const parsed = parseUpstreamAddress(address, defaultPort);
    return parsed.ok && parsed.value.kind === 'tcp' ? this.#failures.get(addressKey(parsed.value).toLowerCase()) ?? null : null;
  }

  /**
   * Ask the resolver again for an expired name; the group serves its last addresses meanwhile.
   * Not found: the group has no address (502) until an answer brings one; a failed lookup keeps
   * the addresses and is asked again after resolver_timeout (as upstream `resolve` does).
   */
  #refresh(key: string, group: UpstreamGroup, target: UpstreamConfig['servers'][number]['target']): void {
    const resolver = this.#opts.resolver;
    if (resolver === undefined || target.kind !== 'tcp') return;
    this.#expires.set(key, Number.POSITIVE_INFINITY);
    const port = target.port;
    resolver.resolve(target.host).then(
      (answer) => {
        group.setAddresses(0, answer.addresses.map((host) => ({ kind: 'tcp', host, port })));
        if (this.#cache.get(key) === group) this.#expires.set(key, Date.now() + answer.ttlMs);
      },
      (error: unknown) => {
        if (error instanceof ResolveFailure && error.notFound) group.setAddresses(0, []);
        if (this.#cache.get(key) === group) this.#expires.set(key, Date.now() + Math.max(MIN_TTL_MS, resolver.config.timeoutMs));
      },
    );
  }
}
