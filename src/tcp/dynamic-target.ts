/**
 * `proxy_pass $variable;` in stream servers: the value is evaluated per session. A value naming an
 * upstream group of the config uses it; otherwise it must be host:port or unix:path (a stream
 * address has no default port, as nginx) and gets an implicit one-server group
 * (upstream/implicit.ts), cached per StreamSite (so per config).
 */
import type { UpstreamGroup } from '../upstream/group.js';
import { ImplicitGroups } from '../upstream/implicit.js';

export class StreamDynamicGroups {
  readonly #named: ReadonlyMap<string, UpstreamGroup>;
  readonly #implicit = new ImplicitGroups({
    namespace: 'stream dynamic ',
    keepalive: { keepalive: 0, keepaliveTimeoutMs: 60_000, keepaliveRequests: 1000, keepaliveTimeMs: 3_600_000 },
    // bounded: client-controlled values (an SNI through a map) cannot grow memory without limit
    maxCached: 256,
  });

  constructor(named: ReadonlyMap<string, UpstreamGroup>) {
    this.#named = named;
  }

  /** The group for an evaluated proxy_pass value; null when it names nothing usable. */
  resolve(value: string): UpstreamGroup | Promise<UpstreamGroup | null> | null {
    if (value === '') return null;
    return this.#named.get(value) ?? this.#implicit.get(value, null);
  }
}
