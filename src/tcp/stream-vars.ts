/**
 * Stream `map` blocks and templates: what nginx's ngx_stream_map_module gives, e.g. routing by
 * SNI with `map $ssl_preread_server_name $backend { ... }` and `proxy_pass $backend;`.
 * Everything is compiled once per config; a session only runs the compiled getters.
 */
import type { MapConfig } from '../config/types.js';
import { buildMapTables, mapKeyLookup } from '../config/host-names.js';
import { STREAM_VARIABLES, type SessionInfo, type Variable } from './stream-log.js';

/** Map variables by name (without `$`), to pass to compileLogFormat / compileKey / compileStreamTemplate. */
export type StreamMaps = ReadonlyMap<string, Variable>;

const VAR = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;

/**
 * Captures of the regex map entry being evaluated. Evaluation is synchronous, so one slot per
 * process is enough and no per-session object is needed.
 */
let captures: RegExpExecArray | null = null;

function lookup(name: string, maps: StreamMaps): Variable {
  if (/^\d$/.test(name)) {
    const i = Number(name);
    return () => captures?.[i] ?? '';
  }
  const own = maps.get(name) ?? STREAM_VARIABLES[name];
  if (own !== undefined) return own;
  // A named capture of the current regex entry, else nothing (the config layer validates names).
  return () => captures?.groups?.[name] ?? '';
}

/** Compile `text with $vars` against the stream variables and `maps` (looked up at call time). */
export function compileStreamTemplate(template: string, maps: StreamMaps = new Map()): Variable {
  const parts: (string | Variable)[] = [];
  let last = 0;
  for (const m of template.matchAll(VAR)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const name = m[1] ?? m[2]!;
    // Resolved lazily: a map may name a map defined after it.
    let get: Variable | null = null;
    parts.push((s) => (get ??= lookup(name, maps))(s));
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (parts.length === 1 && typeof parts[0] !== 'string') return parts[0]!;
  return (s) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(s);
    return out;
  };
}

/**
 * `map` blocks → variables. Exact keys compare caseless (nginx), `hostnames` adds `*.x`/`.x`/`x.*`
 * keys, regex keys are tried in file order, then the default. A value is computed once per
 * session (cached in a WeakMap keyed by the session, so no field is needed on SessionInfo).
 */
export function compileStreamMaps(maps: readonly MapConfig[]): StreamMaps {
  const out = new Map<string, Variable>();
  for (const m of maps) {
    const name = m.variable;
    const source = compileStreamTemplate(m.source, out);
    const dflt = compileStreamTemplate(m.defaultValue, out);
    const t = buildMapTables(m, (value) => compileStreamTemplate(value, out));
    const cache = new WeakMap<SessionInfo, string>();
    let computing = false;
    out.set(name, (s) => {
      const cached = cache.get(s);
      if (cached !== undefined) return cached;
      // A map that reads itself (directly or through another map) yields '' instead of recursing.
      if (computing) return '';
      computing = true;
      let v: string | undefined;
      try {
        let key = source(s);
        if (m.hostnames && key.endsWith('.')) key = key.slice(0, -1);
        const hit = mapKeyLookup(t, m.hostnames, key);
        if (hit !== undefined) v = hit(s);
        else {
          for (const { re, value } of t.regexes) {
            const mm = re.exec(key);
            if (mm === null) continue;
            const saved = captures;
            captures = mm;
            try {
              v = value(s);
            } finally {
              captures = saved;
            }
            break;
          }
          v ??= dflt(s);
        }
      } finally {
        computing = false;
      }
      cache.set(s, v);
      return v;
    });
  }
  return out;
}
