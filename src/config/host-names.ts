import { compileConfigRegex } from './template.js';
import type { MapConfig, ServerName, Template } from './types.js';

/**
 * nginx's host-name wildcard rule, shared by `map ... { hostnames; }` in http and stream
 * (server_name tables keep their own compiled form): the longest `*.suffix` entry wins, then the
 * longest `prefix.*` entry. Keys are stored as ".suffix" and "prefix." in the two maps.
 */
export function wildcardLookup<T>(host: string, leading: ReadonlyMap<string, T>, trailing: ReadonlyMap<string, T>): T | undefined {
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

/** A `map`'s entries compiled for lookup (http and stream compile their values differently). */
export interface MapTables<V> {
  /** Lower-cased exact keys. */
  readonly exact: Map<string, V>;
  /** `hostnames`: "*.x.org" / ".x.org" keyed ".x.org"; "www.x.*" keyed "www.x." (wildcardLookup). */
  readonly leading: Map<string, V>;
  readonly trailing: Map<string, V>;
  /** In file order; the first match wins. */
  readonly regexes: { readonly re: RegExp; readonly value: V }[];
}

/** Sort a map's entries into lookup tables; the first entry of a key wins, as nginx. */
export function buildMapTables<V>(m: MapConfig, compile: (value: Template) => V): MapTables<V> {
  const t: MapTables<V> = { exact: new Map(), leading: new Map(), trailing: new Map(), regexes: [] };
  for (const e of m.entries) {
    const value = compile(e.value);
    if (e.kind !== 'exact') {
      t.regexes.push({ re: compileConfigRegex(e.key, e.kind === 'regexCaseless'), value });
      continue;
    }
    const key = e.key.toLowerCase();
    const claim = (table: Map<string, V>, k: string): void => {
      if (!table.has(k)) table.set(k, value);
    };
    if (m.hostnames && key.startsWith('*.')) claim(t.leading, key.slice(1));
    else if (m.hostnames && key.startsWith('.')) {
      claim(t.exact, key.slice(1));
      claim(t.leading, key);
    } else if (m.hostnames && key.endsWith('.*')) claim(t.trailing, key.slice(0, -1));
    else claim(t.exact, key);
  }
  return t;
}

/** The value of an exact or (with `hostnames`) wildcard key; undefined: try the regexes. */
export function mapKeyLookup<V>(t: MapTables<V>, hostnames: boolean, key: string): V | undefined {
  const lkey = key.toLowerCase();
  return t.exact.get(lkey) ?? (hostnames ? wildcardLookup(lkey, t.leading, t.trailing) : undefined);
}

/** A server_name as written (`*.x`, `x.*`, `~re`), used to identify a server in route keys and logs. */
export function serverNameText(n: ServerName): string {
  switch (n.kind) {
    case 'exact':
      return n.name;
    case 'leadingWildcard':
      return `*${n.suffix}`;
    case 'trailingWildcard':
      return `${n.prefix}*`;
    case 'regex':
      return `~${n.source}`;
  }
}
