/**
 * `map` blocks (nginx ngx_http_map_module / ngx_stream_map_module) → lazily computed variables,
 * for http and stream alike. Exact keys compare caseless (nginx's default), `hostnames` adds
 * `*.x` / `.x` / `x.*` keys, regex keys are tried in file order, then the default. A value is
 * computed once per request / session, or at every use when the map is `volatile`. geo and
 * split_clients variables join them here (geo.ts, split-clients.ts).
 */
import type { MapConfig, Template } from '../../config/types.js';
import type { GeoConfig, SplitClientsConfig } from '../../config/variable-types.js';
import { compileGeo } from './geo.js';
import { compileSplitClients } from './split-clients.js';
import { compileConfigRegex } from '../../config/template.js';
import { wildcardLookup } from '../server-names.js';
import {
  compileTemplate, storeNamedCaptures, type CompiledMaps, type CompiledTemplate, type Getter, type TemplateScope,
  type VariableScope, type VariableTable,
} from './template.js';

/** A `map`'s entries compiled for lookup. */
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

/**
 * Compile every map of an area. The value is cached in the context's vars, so a variable used
 * twice is computed once per request / session. Maps may read other maps defined before or after
 * them: every name is registered before any template is compiled. `declared` names what `set`,
 * maps and named captures define (config/variables.ts).
 */
export function compileMaps<C extends VariableScope>(
  maps: readonly MapConfig[],
  table: VariableTable<C>,
  declared: ReadonlySet<string> = new Set(),
  modules: VariableModules = {},
): CompiledMaps<C> {
  const out = new Map<string, Getter<C>>();
  const scope: TemplateScope<C> = { maps: out, declared };
  const pending: (() => void)[] = [];
  addModules(out, modules, table, scope, pending);
  for (const m of maps) {
    const name = m.variable;
    let source: CompiledTemplate<C> | null = null;
    let dflt: CompiledTemplate<C> | null = null;
    let t: MapTables<CompiledTemplate<C>> | null = null;
    pending.push(() => {
      source = compileTemplate(m.source, table, scope);
      dflt = compileTemplate(m.defaultValue, table, scope);
      t = buildMapTables(m, (value) => compileTemplate(value, table, scope));
    });
    let computing = false;
    const volatile = m.volatile === true;
    out.set(name, (c) => {
      const cached = volatile ? undefined : c.vars?.get(name);
      if (cached !== undefined) return cached;
      // a map that reads itself (directly or through another map) yields '' instead of recursing
      if (computing) return '';
      computing = true;
      let v: string;
      try {
        let key = source!(c);
        if (m.hostnames && key.endsWith('.')) key = key.slice(0, -1);
        const hit = mapKeyLookup(t!, m.hostnames, key);
        v = hit !== undefined ? hit(c) : regexValue(c, t!, key) ?? dflt!(c);
      } finally {
        computing = false;
      }
      if (!volatile) (c.vars ??= new Map()).set(name, v);
      return v;
    });
  }
  for (const p of pending) p();
  return out;
}

/** The other blocks that make variables of an area (config/variable-types.ts). */
export interface VariableModules {
  readonly geo?: readonly GeoConfig[];
  readonly splitClients?: readonly SplitClientsConfig[];
}

/**
 * geo and split_clients variables, registered beside the maps (their templates may read maps,
 * and maps may read them). geo reads `$remote_addr` unless given an address, and
 * X-Forwarded-For through the protocol's `http_` family when it has one (http).
 */
function addModules<C extends VariableScope>(
  out: Map<string, Getter<C>>, modules: VariableModules, table: VariableTable<C>, scope: TemplateScope<C>, pending: (() => void)[],
): void {
  for (const g of modules.geo ?? []) {
    let get: Getter<C> | null = null;
    pending.push(() => {
      get = compileGeo(g, {
        address: compileTemplate(g.source ?? '$remote_addr', table, scope),
        forwardedFor: g.proxies.length > 0 ? table.families['http_']?.('x_forwarded_for') ?? null : null,
      });
    });
    out.set(g.variable, cachedGetter(g.variable, () => get!));
  }
  for (const sc of modules.splitClients ?? []) {
    let get: Getter<C> | null = null;
    pending.push(() => { get = compileSplitClients(sc, compileTemplate(sc.key, table, scope)); });
    out.set(sc.variable, cachedGetter(sc.variable, () => get!));
  }
}

/** Computed once per request / session, as nginx keeps an indexed variable's value. */
function cachedGetter<C extends VariableScope>(name: string, compiled: () => Getter<C>): Getter<C> {
  return (c) => {
    const cached = c.vars?.get(name);
    if (cached !== undefined) return cached;
    const v = compiled()(c);
    (c.vars ??= new Map()).set(name, v);
    return v;
  };
}

/** The value of the first regex key that matches, with its captures; undefined when none does. */
function regexValue<C extends VariableScope>(c: C, t: MapTables<CompiledTemplate<C>>, key: string): string | undefined {
  for (const { re, value } of t.regexes) {
    const mm = re.exec(key);
    if (mm === null) continue;
    // nginx stores a map regex's named captures as variables when it matches: the value and
    // every later template of the request / session read them
    if (mm.groups !== undefined) storeNamedCaptures(c, mm.groups);
    const saved = c.captures ?? null;
    c.captures = { numbered: mm, named: mm.groups ?? null };
    try {
      return value(c);
    } finally {
      c.captures = saved;
    }
  }
  return undefined;
}
