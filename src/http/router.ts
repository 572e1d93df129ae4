/**
 * The HTTP router, built once per config: listen key → virtual hosts (by Host) → server →
 * location (by normalized URI). Per request it only does map lookups, prefix comparisons and
 * the config's own regexes.
 */
import { ServerStats } from '../core/status/server-stats.js';
import type { HttpConfig, HttpServerConfig } from '../config/types.js';
import { CompiledLocation, LocationTree, type LocationMatchResult } from './locations.js';
import type { LocationPlan } from './plan.js';
import type { LocationCandidate } from './route-trace.js';
import { serverNameText } from '../config/host-names.js';
import { ServerNameIndex, type NameChoice, type NameMatch } from '../core/server-names.js';
import { runNow, type Steps } from '../time-slicer.js';

export { CompiledLocation, type LocationMatchResult } from './locations.js';
export { normalizeHost } from '../core/server-names.js';
export { normalizeUri, splitTarget } from './uri.js';

export class CompiledServer {
  readonly config: HttpServerConfig;
  /** The first server_name as written, for $server_name ('' when none). */
  readonly primaryName: string;
  /**
   * The plan of requests no location matches, whose rewrite steps are the server-level ones
   * (plan.ts): HttpSite attaches it right after the router is built, before any request is routed.
   */
  plan!: LocationPlan;
  /** Its status counters: the runtime's, kept across reloads (HttpSite attaches them), else its own. */
  stats: ServerStats = new ServerStats();
  /** The upstream groups its plans hold, by name (HttpSite notes them when it compiles the plans). */
  groupsUsed: readonly string[] = [];
  readonly #locations: LocationTree;

  constructor(config: HttpServerConfig) {
    this.config = config;
    const first = config.serverNames[0];
    this.primaryName = first === undefined ? '' : serverNameText(first);
    this.#locations = new LocationTree(config.locations);
  }

  /** Every location of the server (nested ones too), to attach per-location plans to. */
  get locations(): readonly CompiledLocation[] {
    return this.#locations.all;
  }

  /** `path` is the normalized URI (see normalizeUri); `trace`: --explain's candidate list. */
  findLocation(path: string, trace?: LocationCandidate[]): LocationMatchResult {
    return this.#locations.find(path, trace);
  }

  namedLocation(name: string): CompiledLocation | null {
    return this.#locations.named(name);
  }
}

export type VirtualHostMatch = NameMatch<CompiledServer>;

/** The servers of one listen address, selected by Host. */
export class VirtualHosts {
  readonly key: string;
  /** In file order. */
  readonly servers: readonly CompiledServer[];
  readonly #names: ServerNameIndex<CompiledServer>;

  constructor(key: string, servers: readonly CompiledServer[], names: ServerNameIndex<CompiledServer> = runNow(nameIndexSteps(key, servers))) {
    this.key = key;
    this.servers = servers;
    this.#names = names;
  }

  /** Built in steps: a reload may pause after each server's names (src/time-slicer.ts). */
  static *steps(key: string, servers: readonly CompiledServer[]): Steps<VirtualHosts> {
    return new VirtualHosts(key, servers, yield* nameIndexSteps(key, servers));
  }

  /**
   * These virtual hosts with `servers` in place of the current ones, when each server that differs
   * answers to the same names in the same place (same server_names, same default_server flag):
   * the name index is copied with the new servers in it. null when the names changed (build anew).
   */
  replacedBy(servers: readonly CompiledServer[]): VirtualHosts | null {
    if (servers.length !== this.servers.length) return null;
    const swap = new Map<CompiledServer, CompiledServer>();
    for (let i = 0; i < servers.length; i++) {
      const before = this.servers[i]!;
      const after = servers[i]!;
      if (before === after) continue;
      if (!sameNames(before.config, after.config, this.key)) return null;
      swap.set(before, after);
    }
    return swap.size === 0 ? this : new VirtualHosts(this.key, servers, this.#names.replacing(swap));
  }

  get defaultServer(): CompiledServer {
    return this.#names.defaultServer;
  }

  /** `host` is the Host header as received ('' when absent); see normalizeHost for the 400 check. */
  find(host: string): VirtualHostMatch {
    return this.#names.find(host);
  }

  /** --explain: the same choice as find(), with its reason (the rule and the name that matched). */
  explain(host: string, why: NameChoice): VirtualHostMatch {
    return this.#names.explain(host, why);
  }
}

/** `a` and `b` answer to the same names on listen `key` (server_names in order, default_server). */
function sameNames(a: HttpServerConfig, b: HttpServerConfig, key: string): boolean {
  const isDefault = (cfg: HttpServerConfig) => cfg.listens.some((l) => l.key === key && l.defaultServer);
  if (a.serverNames.length !== b.serverNames.length || isDefault(a) !== isDefault(b)) return false;
  return a.serverNames.every((n, i) => {
    const m = b.serverNames[i]!;
    return n.kind === m.kind && serverNameText(n) === serverNameText(m);
  });
}

/** The Host index of one listen key's servers; the listen's default_server, else the first, answers unknown names. */
function nameIndexSteps(key: string, servers: readonly CompiledServer[]): Steps<ServerNameIndex<CompiledServer>> {
  const explicit = servers.find((s) => s.config.listens.some((l) => l.key === key && l.defaultServer));
  return ServerNameIndex.steps(servers.map((s) => ({ value: s, names: s.config.serverNames })), explicit);
}

/**
 * Compile every server once and group them by listen key; a server with several listens is the
 * same CompiledServer object under each key (so plans attached to it are shared).
 */
export function buildVirtualHosts(http: HttpConfig): Map<string, VirtualHosts> {
  return runNow(virtualHostSteps(http));
}

/**
 * buildVirtualHosts in steps: a point where a reload may pause after each server and each listen
 * key's index. `kept`: the compiled form of a server block a reload keeps (the previous config's
 * object, see HttpSite); the others are compiled anew. `previous`: the virtual hosts those came
 * from, whose name indexes are reused where the names are the same.
 */
export function* virtualHostSteps(
  http: HttpConfig,
  kept?: (cfg: HttpServerConfig) => CompiledServer | undefined,
  previous?: ReadonlyMap<string, VirtualHosts>,
): Steps<Map<string, VirtualHosts>> {
  const byKey = new Map<string, CompiledServer[]>();
  for (const cfg of http.servers) {
    const server = kept?.(cfg) ?? new CompiledServer(cfg);
    const seen = new Set<string>();
    for (const l of cfg.listens) {
      if (seen.has(l.key)) continue;
      seen.add(l.key);
      let list = byKey.get(l.key);
      if (list === undefined) byKey.set(l.key, (list = []));
      list.push(server);
    }
    yield;
  }
  const out = new Map<string, VirtualHosts>();
  for (const [key, servers] of byKey) {
    // a reload that kept the compiled servers: the previous index, with the changed ones swapped in
    out.set(key, previous?.get(key)?.replacedBy(servers) ?? (yield* VirtualHosts.steps(key, servers)));
  }
  return out;
}
