/**
 * Location matching, compiled once per server (nginx ngx_http_core_find_location):
 *
 *   1. `= path` equal to the URI wins at once;
 *   2. a proxying location whose path is the URI plus '/' (and no location has the URI itself)
 *      answers 301 at once - before any regex, as nginx's auto_redirect does;
 *   3. the longest matching prefix is remembered and its nested locations are searched the same
 *      way; an exact match, redirect or regex match found there wins;
 *   4. unless that prefix is `^~`, this level's regexes are tried in file order (so regexes nested
 *      in the prefix come before the server-level ones);
 *   5. else the remembered (deepest) prefix.
 * A `^~` nested inside a prefix only skips the regexes of its own level, not the outer ones.
 * Every rule above was checked against nginx 1.22 (test/http/locations.test.ts).
 */
import type { LocationConfig } from '../config/types.js';
import { compileConfigRegex } from '../config/template.js';
import type { LocationPlan } from './plan.js';
import type { Captures } from './variables.js';
import type { LocationCandidate } from './route-trace.js';

export class CompiledLocation {
  readonly config: LocationConfig;
  /** The location as written after `location` ("= /x", "~* \\.jpg$", "/app/", "@fallback"). */
  readonly name: string;
  /**
   * What the engine does with a request this location handles (plan.ts), compiled once per
   * config: HttpSite attaches it right after the router is built, before any request is routed.
   */
  plan!: LocationPlan;
  readonly regex: RegExp | null;
  /** Whether the regex has capture groups (else `test` is enough and no captures are made). */
  readonly hasGroups: boolean;
  readonly children: LocationLevel | null;
  readonly parent: CompiledLocation | null;
  /** The path of `=`/prefix/`^~` locations, '' for regex and named ones. */
  readonly path: string;

  constructor(config: LocationConfig, parent: CompiledLocation | null) {
    this.config = config;
    this.parent = parent;
    const m = config.match;
    this.path = m.kind === 'exact' || m.kind === 'prefix' || m.kind === 'prefixNoRegex' ? m.path : '';
    switch (m.kind) {
      case 'exact': this.name = `= ${m.path}`; break;
      case 'prefix': this.name = m.path; break;
      case 'prefixNoRegex': this.name = `^~ ${m.path}`; break;
      case 'regex': this.name = `${m.caseless ? '~*' : '~'} ${m.source}`; break;
      case 'named': this.name = `@${m.name}`; break;
    }
    if (m.kind === 'regex') {
      this.regex = compileConfigRegex(m.source, m.caseless);
      this.hasGroups = new RegExp(`${this.regex.source}|`, this.regex.flags).exec('')!.length > 1;
    } else {
      this.regex = null;
      this.hasGroups = false;
    }
    this.children = config.locations.length > 0 ? new LocationLevel(config.locations, this) : null;
  }

  /** nginx auto_redirect: set by proxy_pass (here also websocket_pass) on a location ending in '/'. */
  get autoRedirect(): boolean {
    const m = this.config.match;
    const k = this.config.handler.kind;
    return (m.kind === 'exact' || m.kind === 'prefix' || m.kind === 'prefixNoRegex')
      && m.path.length > 1 && m.path.endsWith('/') && (k === 'proxy' || k === 'websocket');
  }
}

export interface LocationMatchResult {
  readonly location: CompiledLocation | null;
  /** Captures of the matched regex location, null for prefix/exact matches. */
  readonly captures: Captures | null;
  /** Answer 301 to the path plus '/' (keep the query), do not run the location. */
  readonly redirectSlash: boolean;
}

const enum Rc { Declined, Again, Ok, Done }

/** Mutable state of one lookup (nginx keeps it in r->loc_conf). */
interface Search {
  location: CompiledLocation | null;
  captures: Captures | null;
}

/**
 * The one empty map and list of every level that has no location of a kind (most servers have no
 * `=`, auto-redirecting or regex location): never written, they are only read per request. With
 * 10,000 servers, their own empty Maps were ~6 MB of the heap and of every reload's build.
 */
const NO_LOCATIONS: ReadonlyMap<string, CompiledLocation> = new Map();
const NO_LIST: readonly never[] = Object.freeze([]);

function addFirst(map: Map<string, CompiledLocation> | null, key: string, loc: CompiledLocation): Map<string, CompiledLocation> {
  const m = map ?? new Map<string, CompiledLocation>();
  // nginx rejects duplicates at config time; keep the first if one slips through
  if (!m.has(key)) m.set(key, loc);
  return m;
}

/** The distinct lengths of the prefix paths, longest first (insertion into place: a level has a few). */
function lengthsOf(prefixes: ReadonlyMap<string, CompiledLocation>): number[] {
  const out: number[] = [];
  for (const path of prefixes.keys()) {
    const len = path.length;
    let i = 0;
    while (i < out.length && out[i]! > len) i++;
    if (out[i] !== len) out.splice(i, 0, len);
  }
  return out;
}

/** The locations of one nesting level. */
export class LocationLevel {
  readonly #exact: ReadonlyMap<string, CompiledLocation>;
  /**
   * Prefix locations by path, and the distinct path lengths, longest first: the longest match is
   * the first `uri.slice(0, len)` found, a few Map lookups instead of comparing every prefix.
   */
  readonly #prefixes: ReadonlyMap<string, CompiledLocation>;
  readonly #lengths: readonly number[];
  /** Auto-redirecting locations keyed by their path without the trailing slash. */
  readonly #redirects: ReadonlyMap<string, CompiledLocation>;
  readonly #regexes: readonly CompiledLocation[];
  /** Every location of this level and below, in file order (named ones included). */
  readonly all: readonly CompiledLocation[];

  constructor(configs: readonly LocationConfig[], parent: CompiledLocation | null) {
    let exact: Map<string, CompiledLocation> | null = null;
    let prefixes: Map<string, CompiledLocation> | null = null;
    let redirects: Map<string, CompiledLocation> | null = null;
    let regexes: CompiledLocation[] | null = null;
    const all: CompiledLocation[] = [];
    for (const cfg of configs) {
      const loc = new CompiledLocation(cfg, parent);
      all.push(loc);
      if (loc.children) all.push(...loc.children.all);
      const m = cfg.match;
      switch (m.kind) {
        case 'exact':
          exact = addFirst(exact, m.path, loc);
          break;
        case 'prefix':
        case 'prefixNoRegex':
          prefixes = addFirst(prefixes, m.path, loc);
          break;
        case 'regex':
          (regexes ??= []).push(loc);
          break;
        case 'named':
          break;
      }
      if (loc.autoRedirect) redirects = addFirst(redirects, loc.path.slice(0, -1), loc);
    }
    this.all = all;
    this.#exact = exact ?? NO_LOCATIONS;
    this.#prefixes = prefixes ?? NO_LOCATIONS;
    this.#redirects = redirects ?? NO_LOCATIONS;
    this.#regexes = regexes ?? NO_LIST;
    this.#lengths = prefixes === null ? NO_LIST : lengthsOf(prefixes);
  }

  /** `trace`: --explain's list of the candidates looked at (undefined when serving). */
  search(uri: string, s: Search, trace?: LocationCandidate[]): Rc {
    const exact = this.#exact.get(uri);
    if (trace !== undefined) this.#traceExact(uri, trace);
    if (exact !== undefined) {
      s.location = exact;
      s.captures = null;
      return Rc.Ok;
    }
    let rc = Rc.Declined;
    let noregex = false;
    let prefix: CompiledLocation | null = null;
    const lengths = this.#lengths;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      if (len > uri.length) continue;
      const p = this.#prefixes.get(len === uri.length ? uri : uri.slice(0, len));
      if (p !== undefined) {
        prefix = p;
        break;
      }
    }
    if (trace !== undefined) this.#tracePrefixes(uri, prefix, trace);
    if (this.#redirects.size > 0 && (prefix === null || prefix.path !== uri)) {
      const r = this.#redirects.get(uri);
      if (r !== undefined) {
        if (trace !== undefined) trace.push({ location: r, matched: true, note: `proxies ${r.path}: the URI without its final "/" is answered 301 to it, before any regex` });
        s.location = r;
        s.captures = null;
        return Rc.Done;
      }
    }
    if (prefix !== null) {
      s.location = prefix;
      s.captures = null;
      noregex = prefix.config.match.kind === 'prefixNoRegex';
      rc = prefix.children !== null ? prefix.children.search(uri, s, trace) : Rc.Again;
      if (rc === Rc.Ok || rc === Rc.Done) return rc;
    }
    if (!noregex) {
      for (const loc of this.#regexes) {
        const re = loc.regex!;
        if (loc.hasGroups) {
          const m = re.exec(uri);
          if (m === null) {
            if (trace !== undefined) trace.push({ location: loc, matched: false, note: 'regex does not match' });
            continue;
          }
          s.captures = { numbered: m, named: m.groups ?? null };
        } else {
          if (!re.test(uri)) {
            if (trace !== undefined) trace.push({ location: loc, matched: false, note: 'regex does not match' });
            continue;
          }
          s.captures = null;
        }
        if (trace !== undefined) trace.push({ location: loc, matched: true, note: 'the first regex that matches, in file order: wins over any prefix' });
        s.location = loc;
        // a regex location may hold nested regex locations of its own
        if (loc.children !== null) loc.children.search(uri, s, trace);
        return Rc.Ok;
      }
    } else if (trace !== undefined) {
      for (const loc of this.#regexes) trace.push({ location: loc, matched: false, note: 'not tried: the longest prefix is ^~' });
    }
    return rc;
  }

  /** --explain only: the `=` locations of this level against the URI. */
  #traceExact(uri: string, trace: LocationCandidate[]): void {
    for (const [path, loc] of this.#exact) {
      trace.push(path === uri
        ? { location: loc, matched: true, note: '= equals the URI: wins at once, nothing else is searched' }
        : { location: loc, matched: false, note: '= does not equal the URI' });
    }
  }

  /** --explain only: every prefix location of this level, and which one is the longest match. */
  #tracePrefixes(uri: string, longest: CompiledLocation | null, trace: LocationCandidate[]): void {
    // longest first, as the search compares them
    for (const loc of [...this.#prefixes.values()].sort((x, y) => y.path.length - x.path.length)) {
      const matched = uri.startsWith(loc.path);
      let note: string;
      if (loc === longest) {
        note = loc.config.match.kind === 'prefixNoRegex'
          ? 'the longest matching prefix, ^~: regexes of this level are not tried'
          : `the longest matching prefix: remembered${loc.children !== null ? ', its nested locations searched' : ''}; a matching regex would still win`;
      } else note = matched ? `matches, but ${longest!.path} is longer` : 'prefix does not match';
      trace.push({ location: loc, matched, note });
    }
  }
}

const scratch: Search = { location: null, captures: null };

/** All locations of a server, compiled; `find` runs per request and allocates one result. */
export class LocationTree {
  readonly #root: LocationLevel;
  readonly #named: ReadonlyMap<string, CompiledLocation>;

  constructor(configs: readonly LocationConfig[]) {
    this.#root = new LocationLevel(configs, null);
    let named: Map<string, CompiledLocation> | null = null;
    for (const loc of this.#root.all) {
      const m = loc.config.match;
      if (m.kind === 'named') named = addFirst(named, m.name, loc);
    }
    this.#named = named ?? NO_LOCATIONS;
  }

  /** Every compiled location, in file order, nested ones after their parent. */
  get all(): readonly CompiledLocation[] {
    return this.#root.all;
  }

  /** `trace`: --explain's list of candidates (undefined when serving). */
  find(uri: string, trace?: LocationCandidate[]): LocationMatchResult {
    // lookups are synchronous, so one scratch object serves them all
    const s = scratch;
    s.location = null;
    s.captures = null;
    const rc = this.#root.search(uri, s, trace);
    const result = { location: s.location, captures: s.captures, redirectSlash: rc === Rc.Done };
    s.location = null;
    s.captures = null;
    return result;
  }

  /** `@name` locations (error_page / try_files targets); never matched by a URI. */
  named(name: string): CompiledLocation | null {
    return this.#named.get(name.startsWith('@') ? name.slice(1) : name) ?? null;
  }
}
