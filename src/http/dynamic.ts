/**
 * `proxy_pass http://$var...`: the host part is evaluated per request. A value naming an upstream
 * group of the config uses it; otherwise it is taken as host[:port] (default 80) and served by an
 * implicit one-server group, created on first use and cached per site (so per config) by
 * "host:port". Host names are resolved once, through UpstreamGroup.create, when the group is
 * made. Such groups keep their peer state in a registry of their own: it does not survive a
 * reload (the runtime's registry only knows groups of the config).
 */
import type { UpstreamConfig } from '../config/types.js';
import { settingDefaults } from '../config/directives.js';
import { parseUpstreamAddress } from '../config/units.js';
import { UpstreamGroup } from '../upstream/group.js';
import { PeerRegistry } from '../upstream/registry.js';

const DEFAULTS = settingDefaults('upstream');

/** A resolved target: the group and the text for $proxy_host / the default Host header. */
export interface DynamicTarget {
  readonly group: UpstreamGroup;
  readonly proxyHost: string;
}

/** Bounded so that client-controlled values cannot grow memory without limit. */
const MAX_CACHED = 1024;

export class DynamicGroups {
  readonly #named: ReadonlyMap<string, UpstreamGroup>;
  readonly #registry = new PeerRegistry();
  readonly #cache = new Map<string, Promise<DynamicTarget | null>>();

  constructor(named: ReadonlyMap<string, UpstreamGroup>) {
    this.#named = named;
  }

  /**
   * The target for an evaluated host value; null when it names nothing usable (502).
   * `defaultPort`: 80, or 443 for `proxy_pass https://$var`.
   */
  resolve(value: string, defaultPort = 80): DynamicTarget | Promise<DynamicTarget | null> | null {
    const named = this.#named.get(value);
    if (named !== undefined && !named.config.implicit) return { group: named, proxyHost: value };
    const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(value);
    if (m === null) return null;
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port === 0 || port > 65535) return null;
    const key = `${m[1]!.toLowerCase()}:${port}`;
    const implicit = this.#named.get(key);
    if (implicit !== undefined) return { group: implicit, proxyHost: port === defaultPort ? m[1]! : key };
    // $proxy_host depends on the scheme's default port: http and https targets cache apart.
    const cacheKey = defaultPort === 80 ? key : `${key} ${defaultPort}`;
    let p = this.#cache.get(cacheKey);
    if (p === undefined) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
      p = this.#create(key, port === defaultPort ? m[1]! : key, cacheKey);
      this.#cache.set(cacheKey, p);
    }
    return p;
  }

  async #create(key: string, proxyHost: string, cacheKey: string): Promise<DynamicTarget | null> {
    const addr = parseUpstreamAddress(key, 80);
    if (!addr.ok) return null;
    const loc = { file: '<proxy_pass variable>', line: 0, column: 0 };
    const cfg: UpstreamConfig = {
      name: key,
      method: { kind: 'round_robin' },
      servers: [{ address: key, target: addr.value, weight: 1, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, backup: false, down: false, loc }],
      check: null,
      keepalive: DEFAULTS.keepalive,
      keepaliveTimeoutMs: DEFAULTS.keepaliveTimeoutMs,
      keepaliveRequests: DEFAULTS.keepaliveRequests,
      keepaliveTimeMs: DEFAULTS.keepaliveTimeMs,
      implicit: true,
      loc,
    };
    try {
      return { group: await UpstreamGroup.create(cfg, this.#registry, { namespace: 'dynamic ' }), proxyHost };
    } catch {
      // Not resolvable now: forget it, so a later request tries again.
      this.#cache.delete(cacheKey);
      return null;
    }
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
