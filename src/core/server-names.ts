/**
 * The server-name index of one listen address, for http (Host) and stream (SNI, or the Host of a
 * websocket_pass request) alike (nginx ngx_http_find_virtual_server): exact name → longest
 * `*.suffix` → longest `prefix.*` → first matching regex in file order → the address's
 * default_server, else its first server. Built once per config; generic over what a name selects.
 */
import type { ServerName } from '../config/types.js';
import { TsproxyError } from '../errors.js';
import { compileConfigRegex } from '../config/template.js';
import type { Captures } from './variables/template.js';
import type { Steps } from '../time-slicer.js';

export interface NameMatch<T> {
  readonly server: T;
  /** Captures of a regex server_name, else null (http stores them on the request: useCaptures). */
  readonly captures: Captures | null;
}

/** Entry for building an index: the names of one server, in file order. */
export interface NamedEntry<T> {
  readonly value: T;
  /** A server without names answers to the empty name (requests without Host), as in nginx. */
  readonly names: readonly ServerName[];
}

const CACHE_LIMIT = 1000;

/**
 * A Host header (or SNI) → the name it is compared as: port stripped (`[::1]:80` keeps its
 * brackets), one trailing dot removed, lowercased. null for what nginx answers 400 ("client sent
 * invalid host header"): `..`, '/', '\\', NUL, control chars, or nothing before the port.
 * The empty string stays empty (no Host).
 */
export function normalizeHost(host: string): string | null {
  if (host === '') return '';
  let end = host.length;
  let literal = false;
  let inPort = false;
  let lastDot = -2;
  let upper = false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x2e /* . */) {
      if (lastDot === i - 1) return null;
      lastDot = i;
    } else if (c === 0x3a /* : */) {
      if (!literal && !inPort) {
        end = i;
        inPort = true;
      }
    } else if (c === 0x5b /* [ */) {
      if (i === 0) literal = true;
    } else if (c === 0x5d /* ] */) {
      if (literal) {
        end = i + 1;
        literal = false;
        inPort = true;
      }
    } else if (c <= 0x20 || c === 0x7f || c === 0x2f || c === 0x5c) {
      return null;
    } else if (c >= 0x41 && c <= 0x5a) {
      upper = true;
    }
  }
  if (lastDot === end - 1) end--;
  if (end <= 0) return null;
  const name = end === host.length ? host : host.slice(0, end);
  return upper ? name.toLowerCase() : name;
}

/**
 * nginx's host-name wildcard rule, shared by server names and `map ... { hostnames; }`: the
 * longest `*.suffix` entry wins, then the longest `prefix.*` entry. Keys are stored as ".suffix"
 * and "prefix." in the two maps; a wildcard needs at least one label (`*.x.org` is not `x.org`).
 */
export function wildcardLookup<T>(host: string, leading: ReadonlyMap<string, T>, trailing: ReadonlyMap<string, T>): T | undefined {
  // ".b.example.org", then ".example.org", then ".org": longest suffix first
  for (let dot = host.indexOf('.', 1); dot !== -1 && leading.size > 0; dot = host.indexOf('.', dot + 1)) {
    const v = leading.get(host.slice(dot));
    if (v !== undefined) return v;
  }
  for (let dot = host.lastIndexOf('.', host.length - 2); dot > 0 && trailing.size > 0; dot = host.lastIndexOf('.', dot - 1)) {
    const v = trailing.get(host.slice(0, dot + 1));
    if (v !== undefined) return v;
  }
  return undefined;
}

/** How a name chose its server (--explain): which rule and the server_name that matched. */
export interface NameChoice {
  how: 'exact' | 'wildcard' | 'regex' | 'default' | 'invalid';
  /** The server_name as written ("" for the empty name, the default server's none). */
  name: string;
}

interface RegexName<T> {
  readonly re: RegExp;
  readonly source: string;
  readonly hasGroups: boolean;
  readonly value: T;
}

export class ServerNameIndex<T> {
  readonly defaultServer: T;
  readonly #exact = new Map<string, NameMatch<T>>();
  /** `*.example.org` keyed ".example.org". */
  readonly #leading = new Map<string, NameMatch<T>>();
  /** `www.example.*` keyed "www.example.". */
  readonly #trailing = new Map<string, NameMatch<T>>();
  readonly #regexes: RegexName<T>[] = [];
  readonly #cache = new Map<string, NameMatch<T>>();
  readonly #defaultMatch: NameMatch<T>;

  /** `entries` in file order; `defaultServer` is the listen's default_server (else entries[0]). */
  constructor(entries: readonly NamedEntry<T>[], defaultServer?: T) {
    if (entries.length === 0 && defaultServer === undefined) throw new TsproxyError('TSP_ERR_INTERNAL', 'a server name index needs a server');
    this.defaultServer = defaultServer ?? entries[0]!.value;
    this.#defaultMatch = { server: this.defaultServer, captures: null };
    for (const entry of entries) this.#add(entry);
  }

  /** The index built in steps: a reload may pause after each entry (src/time-slicer.ts). */
  static *steps<T>(entries: readonly NamedEntry<T>[], defaultServer?: T): Steps<ServerNameIndex<T>> {
    const index = new ServerNameIndex<T>([], defaultServer ?? entries[0]?.value);
    for (const entry of entries) {
      index.#add(entry);
      yield;
    }
    return index;
  }

  /**
   * This index with some values replaced by others that have the same names in the same places
   * (a reload that changed what a server does, not what it answers to): the same lookups, made
   * by copying the tables instead of building them from the names (issue 18: 10,000 names).
   */
  replacing(swap: ReadonlyMap<T, T>): ServerNameIndex<T> {
    const next = new ServerNameIndex<T>([], swap.get(this.defaultServer) ?? this.defaultServer);
    const copy = (from: ReadonlyMap<string, NameMatch<T>>, to: Map<string, NameMatch<T>>): void => {
      for (const [k, m] of from) {
        const v = swap.get(m.server);
        to.set(k, v === undefined ? m : { server: v, captures: null });
      }
    };
    copy(this.#exact, next.#exact);
    copy(this.#leading, next.#leading);
    copy(this.#trailing, next.#trailing);
    for (const r of this.#regexes) {
      const v = swap.get(r.value);
      next.#regexes.push(v === undefined ? r : { ...r, value: v });
    }
    return next;
  }

  #add({ value, names }: NamedEntry<T>): void {
    // the first server to claim a name keeps it (nginx warns "conflicting server name")
    const claim = (map: Map<string, NameMatch<T>>, key: string): void => {
      if (!map.has(key)) map.set(key, { server: value, captures: null });
    };
    if (names.length === 0) claim(this.#exact, '');
    for (const n of names) {
      switch (n.kind) {
        case 'exact': claim(this.#exact, n.name.toLowerCase()); break;
        case 'leadingWildcard': claim(this.#leading, n.suffix.toLowerCase()); break;
        case 'trailingWildcard': claim(this.#trailing, n.prefix.toLowerCase()); break;
        case 'regex': {
          // nginx compiles server_name regexes caseless
          const re = compileConfigRegex(n.source, true);
          const hasGroups = new RegExp(`${re.source}|`, re.flags).exec('')!.length > 1;
          this.#regexes.push({ re, hasGroups, value, source: n.source });
          break;
        }
      }
    }
  }

  /**
   * Select by a Host header value or SNI as received (any case, maybe with a port); '' is a
   * request without Host (the server named ""); null is no name at all (a ClientHello without
   * SNI): the default server, without a lookup.
   */
  find(host: string | null): NameMatch<T> {
    if (host === null) return this.#defaultMatch;
    const cached = this.#cache.get(host);
    if (cached !== undefined) return cached;
    const name = normalizeHost(host);
    if (name === null) return this.#defaultMatch;
    const m = this.#lookup(name);
    if (m.captures === null) {
      // bounded so random Host headers cannot grow memory; clearing is cheaper than LRU upkeep
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(host, m);
    }
    return m;
  }

  /** --explain: what find() chooses for `host` and why (no cache: the lookup itself runs). */
  explain(host: string | null, why: NameChoice): NameMatch<T> {
    const name = host === null ? null : normalizeHost(host);
    if (name === null) {
      why.how = host === null ? 'default' : 'invalid';
      return this.#defaultMatch;
    }
    return this.#lookup(name, why);
  }

  #lookup(name: string, why?: NameChoice): NameMatch<T> {
    const exact = this.#exact.get(name);
    if (exact !== undefined) {
      if (why !== undefined) Object.assign(why, { how: 'exact', name });
      return exact;
    }
    if (name === '') {
      if (why !== undefined) why.how = 'default';
      return this.#defaultMatch;
    }
    const wild = wildcardLookup(name, this.#leading, this.#trailing);
    if (wild !== undefined) {
      if (why !== undefined) Object.assign(why, { how: 'wildcard', name: this.#wildcardName(name) });
      return wild;
    }
    for (const r of this.#regexes) {
      if (r.hasGroups) {
        const m = r.re.exec(name);
        if (m !== null) {
          if (why !== undefined) Object.assign(why, { how: 'regex', name: `~${r.source}` });
          return { server: r.value, captures: { numbered: m, named: m.groups ?? null } };
        }
      } else if (r.re.test(name)) {
        if (why !== undefined) Object.assign(why, { how: 'regex', name: `~${r.source}` });
        return { server: r.value, captures: null };
      }
    }
    if (why !== undefined) why.how = 'default';
    return this.#defaultMatch;
  }

  /** --explain: the wildcard entry wildcardLookup found for `name`, as written. */
  #wildcardName(name: string): string {
    const keys = new Map<unknown, string>();
    for (const [k, v] of this.#leading) keys.set(v, `*${k}`);
    for (const [k, v] of this.#trailing) if (!keys.has(v)) keys.set(v, `${k}*`);
    return keys.get(wildcardLookup(name, this.#leading, this.#trailing)) ?? '';
  }
}
