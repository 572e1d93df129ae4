/**
 * `proxy_pass http://$var...`: the host part is evaluated per request. A value naming an upstream
 * group of the config uses it; otherwise it is taken as host[:port] (default 80, or 443 for
 * https) and served by an implicit one-server group (upstream/implicit.ts), cached per site.
 */
import { settingDefaults } from '../config/directives.js';
import type { UpstreamGroup } from '../upstream/group.js';
import { ImplicitGroups } from '../upstream/implicit.js';
import type { NameResolver } from '../upstream/resolve.js';

const DEFAULTS = settingDefaults('upstream');

/** A resolved target: the group and the text for $proxy_host / the default Host header. */
export interface DynamicTarget {
  readonly group: UpstreamGroup;
  readonly proxyHost: string;
}

/** host[:port] as a proxy_pass URL may hold it (a unix: socket cannot come from a variable here). */
const HOST_PORT = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;

export class DynamicGroups {
  readonly #named: ReadonlyMap<string, UpstreamGroup>;
  /** Names through the system resolver (no `resolver` applies). */
  readonly #groups: ImplicitGroups;
  /** Names through a configured `resolver`, one cache per resolver (their answers differ). */
  readonly #byResolver = new Map<NameResolver, ImplicitGroups>();

  constructor(named: ReadonlyMap<string, UpstreamGroup>) {
    this.#named = named;
    this.#groups = this.#implicitGroups(undefined);
  }

  #implicitGroups(resolver: NameResolver | undefined): ImplicitGroups {
    return new ImplicitGroups({
      named: this.#named,
      namespace: 'dynamic ',
      keepalive: {
        keepalive: DEFAULTS.keepalive,
        keepaliveTimeoutMs: DEFAULTS.keepaliveTimeoutMs,
        keepaliveRequests: DEFAULTS.keepaliveRequests,
        keepaliveTimeMs: DEFAULTS.keepaliveTimeMs,
      },
      // bounded: client-controlled values cannot grow memory without limit
      maxCached: 1024,
      ...(resolver === undefined ? {} : { resolver }),
    });
  }

  /** Why `value` last failed through `resolver` (nginx's error line); null without a resolver or a failure. */
  failureOf(value: string, defaultPort: number, resolver: NameResolver | null): string | null {
    if (resolver === null) return null;
    return this.#byResolver.get(resolver)?.failureOf(value.toLowerCase(), defaultPort) ?? null;
  }

  #groupsFor(resolver: NameResolver | null): ImplicitGroups {
    if (resolver === null) return this.#groups;
    let groups = this.#byResolver.get(resolver);
    if (groups === undefined) this.#byResolver.set(resolver, (groups = this.#implicitGroups(resolver)));
    return groups;
  }

  /**
   * The target for an evaluated host value; null when it names nothing usable (502).
   * `defaultPort`: 80, or 443 for `proxy_pass https://$var`. `resolver`: the location's
   * `resolver` for names, null for the system's.
   */
  resolve(value: string, defaultPort = 80, resolver: NameResolver | null = null): DynamicTarget | Promise<DynamicTarget | null> | null {
    // An upstream of the config by name: $proxy_host is the name.
    const named = this.#named.get(value);
    if (named !== undefined && !named.config.implicit) return { group: named, proxyHost: value };
    const m = HOST_PORT.exec(value);
    if (m === null) return null;
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port === 0 || port > 65535) return null;
    const key = `${m[1]!.toLowerCase()}:${port}`;
    // $proxy_host: the host alone when the port is the scheme's default
    const proxyHost = port === defaultPort ? m[1]! : key;
    const implicit = this.#groupsFor(resolver).resolve(key, defaultPort);
    if (implicit === null) return null;
    if (!(implicit instanceof Promise)) return { group: implicit, proxyHost };
    return implicit.then((group) => (group === null ? null : { group, proxyHost }));
  }
}

/**
 * An evaluated `proxy_pass http://$var...` (scheme already off): the host part, and the URI part
 * (from the first "/", or after `unix:/path:`) or null when there is none.
 */
export function splitDynamicUrl(value: string): { host: string; uri: string | null } {
  const end = value.startsWith('unix:') ? value.indexOf(':', 5) : value.indexOf('/');
  if (end === -1) return { host: value, uri: null };
  const uri = value.slice(value.startsWith('unix:') ? end + 1 : end);
  return { host: value.slice(0, end), uri: uri === '' ? null : uri };
}

const bySite = new WeakMap<object, DynamicGroups>();

/** The dynamic groups of one site (made on first use; dropped with the site). */
export function dynamicGroupsOf(site: { readonly groups: ReadonlyMap<string, UpstreamGroup> }): DynamicGroups {
  let d = bySite.get(site);
  if (d === undefined) bySite.set(site, (d = new DynamicGroups(site.groups)));
  return d;
}

/**
 * A request's `proxy_pass http://$var` target: `done(target, host)` now or once the name is
 * resolved; a null target with the name the DNS was asked for (`host`, for the error line), or
 * with null when the value names nothing usable.
 */
export function dynamicTargetOf(
  site: { readonly groups: ReadonlyMap<string, UpstreamGroup> }, url: { readonly host: string }, https: boolean, resolver: NameResolver | null,
  done: (target: DynamicTarget | null, host: string | null) => void,
): void {
  const target = dynamicGroupsOf(site).resolve(url.host, https ? 443 : 80, resolver);
  if (!(target instanceof Promise)) return done(target, null);
  target.then((t) => done(t, t === null ? url.host : null), () => done(null, null));
}
