/**
 * server_name selection for stream listen keys, matched against the TLS SNI or, for
 * websocket_pass servers, the HTTP Host: exact → longest `*.leading` → longest `trailing.*` →
 * first `~regex` in file order → the key's default_server → its first server (nginx order).
 */
import { compileConfigRegex } from '../config/template.js';
import type { ServerName } from '../config/types.js';

export class ServerNameIndex<T> {
  readonly #exact = new Map<string, T>();
  /** Sorted longest suffix first. */
  readonly #leading: { suffix: string; server: T }[] = [];
  /** Sorted longest prefix first. */
  readonly #trailing: { prefix: string; server: T }[] = [];
  readonly #regex: { re: RegExp; server: T }[] = [];
  readonly #fallback: T;

  constructor(servers: readonly { names: readonly ServerName[]; server: T }[], fallback: T) {
    this.#fallback = fallback;
    for (const { names, server } of servers) {
      for (const n of names) {
        switch (n.kind) {
          case 'exact':
            // The first server that names a host keeps it (nginx warns about the rest).
            if (!this.#exact.has(n.name.toLowerCase())) this.#exact.set(n.name.toLowerCase(), server);
            break;
          case 'leadingWildcard':
            this.#leading.push({ suffix: n.suffix.toLowerCase(), server });
            break;
          case 'trailingWildcard':
            this.#trailing.push({ prefix: n.prefix.toLowerCase(), server });
            break;
          case 'regex':
            // server_name regexes are checked at load (pcre.ts); names compare caselessly (nginx)
            this.#regex.push({ re: compileConfigRegex(n.source, true), server });
            break;
        }
      }
    }
    // A stable sort keeps file order among equal lengths, so the first server wins ties.
    this.#leading.sort((a, b) => b.suffix.length - a.suffix.length);
    this.#trailing.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** `name` is already lower-cased and port-stripped; null (no SNI / no Host) gives the default. */
  find(name: string | null): T {
    if (name === null || name === '') return this.#fallback;
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    for (const w of this.#leading) if (name.length > w.suffix.length && name.endsWith(w.suffix)) return w.server;
    for (const w of this.#trailing) if (name.length > w.prefix.length && name.startsWith(w.prefix)) return w.server;
    for (const r of this.#regex) if (r.re.test(name)) return r.server;
    return this.#fallback;
  }
}
