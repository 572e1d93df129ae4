/**
 * `proxy_pass $variable;` in stream servers: the value is evaluated per session. A value naming an
 * upstream group of the config uses it; otherwise it must be host:port or unix:path (a stream
 * address has no default port, as nginx) and gets an implicit one-server group, created on first
 * use and cached per StreamSite (so per config). Such groups keep their peer state in a registry
 * of their own: it does not outlive the config.
 */
import type { UpstreamConfig } from '../config/types.js';
import { parseUpstreamAddress } from '../config/units.js';
import { UpstreamGroup } from '../upstream/group.js';
import { PeerRegistry } from '../upstream/registry.js';

/** Bounded so that client-controlled values (an SNI through a map) cannot grow memory without limit. */
const MAX_CACHED = 256;

export class StreamDynamicGroups {
  readonly #named: ReadonlyMap<string, UpstreamGroup>;
  readonly #registry = new PeerRegistry();
  readonly #cache = new Map<string, Promise<UpstreamGroup | null>>();

  constructor(named: ReadonlyMap<string, UpstreamGroup>) {
    this.#named = named;
  }

  /** The group for an evaluated proxy_pass value; null when it names nothing usable. */
  resolve(value: string): UpstreamGroup | Promise<UpstreamGroup | null> | null {
    if (value === '') return null;
    const named = this.#named.get(value);
    if (named !== undefined) return named;
    const addr = parseUpstreamAddress(value, null);
    if (!addr.ok) return null;
    const key = addr.value.kind === 'unix' ? `unix:${addr.value.path}` : value.toLowerCase();
    let p = this.#cache.get(key);
    if (p === undefined) {
      if (this.#cache.size >= MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!);
      p = this.#create(key, addr.value);
      this.#cache.set(key, p);
    }
    return p;
  }

  async #create(key: string, target: UpstreamConfig['servers'][number]['target']): Promise<UpstreamGroup | null> {
    const loc = { file: '<proxy_pass variable>', line: 0, column: 0 };
    const cfg: UpstreamConfig = {
      name: key,
      method: { kind: 'round_robin' },
      servers: [{ address: key, target, weight: 1, maxFails: 1, failTimeoutMs: 10_000, maxConns: 0, backup: false, down: false, loc }],
      check: null,
      keepalive: 0,
      keepaliveTimeoutMs: 60_000,
      keepaliveRequests: 1000,
      keepaliveTimeMs: 3_600_000,
      implicit: true,
      loc,
    };
    try {
      return await UpstreamGroup.create(cfg, this.#registry, { namespace: 'stream dynamic ' });
    } catch {
      // Not resolvable now: forget it, so a later session tries again.
      this.#cache.delete(key);
      return null;
    }
  }
}
