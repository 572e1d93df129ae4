/**
 * Stream templates, `map` blocks and log formats: what nginx's stream modules give, e.g. routing
 * by SNI with `map $ssl_preread_server_name $backend { ... }` and `proxy_pass $backend;`.
 * Everything is compiled once per config with the same template syntax as http
 * (config/template.ts); a session only runs the compiled getters. A name nothing defines throws
 * (the config check refused it at load), so no template ever evaluates to something else.
 */
import type { LogFormatConfig, MapConfig } from '../config/types.js';
import { buildMapTables, mapKeyLookup } from '../config/host-names.js';
import { parseTemplate, UnknownVariableError, type TemplatePart } from '../config/template.js';
import { escapeDefault, escapeJson, STREAM_VARIABLES, type SessionInfo, type Variable } from './stream-log.js';

/** Map variables by name (without `$`). */
export type StreamMaps = ReadonlyMap<string, Variable>;

export interface StreamTemplateContext {
  readonly maps: StreamMaps;
  /** Names the config declares (map targets, named captures of map regexes: config/variables.ts). */
  readonly declared: ReadonlySet<string>;
}

const NONE: StreamTemplateContext = { maps: new Map(), declared: new Set() };

/**
 * Captures of the regex map entry being evaluated. Evaluation is synchronous, so one slot per
 * process is enough and no per-session object is needed.
 */
let captures: RegExpExecArray | null = null;

/** Named captures of the map regexes that matched for a session: nginx keeps them as variables. */
const kept = new WeakMap<SessionInfo, Record<string, string | undefined>>();

function getter(part: Exclude<TemplatePart, { kind: 'literal' }>, ctx: StreamTemplateContext): Variable {
  if (part.kind === 'capture') {
    const i = part.index;
    return () => captures?.[i] ?? '';
  }
  const name = part.name;
  const own = ctx.maps.get(name) ?? STREAM_VARIABLES[name];
  if (own !== undefined) return own;
  // A named capture: of the regex map entry being evaluated, else of the last one that matched.
  if (ctx.declared.has(name)) return (s) => captures?.groups?.[name] ?? kept.get(s)?.[name] ?? '';
  throw new UnknownVariableError(name);
}

function join(parts: readonly (string | Variable)[]): Variable {
  if (parts.length === 0) return () => '';
  if (parts.length === 1) {
    const only = parts[0]!;
    return typeof only === 'string' ? () => only : only;
  }
  return (s) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(s);
    return out;
  };
}

/** `text with $vars` against the stream variables and the config's maps (proxy_pass, hash keys). */
export function compileStreamTemplate(template: string, ctx: StreamTemplateContext = NONE): Variable {
  return join(parseTemplate(template).map((p) => (p.kind === 'literal' ? p.text : getter(p, ctx))));
}

/**
 * A stream log_format: empty values log as "-" (nginx) unless escape=json; every line ends in
 * a newline.
 */
export function compileLogFormat(template: string, escape: LogFormatConfig['escape'] = 'default', ctx: StreamTemplateContext = NONE): Variable {
  const parts = parseTemplate(template).map((p): string | Variable => {
    if (p.kind === 'literal') return p.text;
    const get = getter(p, ctx);
    if (escape === 'json') return (s) => escapeJson(get(s));
    if (escape === 'none') return (s) => get(s) || '-';
    return (s) => escapeDefault(get(s)) || '-';
  });
  parts.push('\n');
  return join(parts);
}

/**
 * `map` blocks → variables. Exact keys compare caseless (nginx), `hostnames` adds `*.x`/`.x`/`x.*`
 * keys, regex keys are tried in file order, then the default. A value is computed once per
 * session (cached in a WeakMap keyed by the session, so no field is needed on SessionInfo).
 * Maps may read maps defined after them: every name is registered before any is compiled.
 */
export function compileStreamMaps(maps: readonly MapConfig[], declared: ReadonlySet<string> = new Set()): StreamMaps {
  const out = new Map<string, Variable>();
  const ctx: StreamTemplateContext = { maps: out, declared };
  const pending: (() => void)[] = [];
  for (const m of maps) {
    let source: Variable = () => '';
    let dflt: Variable = () => '';
    let t: ReturnType<typeof buildMapTables<Variable>> | null = null;
    pending.push(() => {
      source = compileStreamTemplate(m.source, ctx);
      dflt = compileStreamTemplate(m.defaultValue, ctx);
      t = buildMapTables(m, (value) => compileStreamTemplate(value, ctx));
    });
    const cache = new WeakMap<SessionInfo, string>();
    let computing = false;
    out.set(m.variable, (s) => {
      const cached = cache.get(s);
      if (cached !== undefined) return cached;
      // A map that reads itself (directly or through another map) yields '' instead of recursing.
      if (computing) return '';
      computing = true;
      let v: string | undefined;
      try {
        let key = source(s);
        if (m.hostnames && key.endsWith('.')) key = key.slice(0, -1);
        const hit = mapKeyLookup(t!, m.hostnames, key);
        if (hit !== undefined) v = hit(s);
        else {
          for (const { re, value } of t!.regexes) {
            const mm = re.exec(key);
            if (mm === null) continue;
            const saved = captures;
            captures = mm;
            try {
              v = value(s);
            } finally {
              captures = saved;
            }
            if (mm.groups !== undefined) kept.set(s, { ...kept.get(s), ...mm.groups });
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
  for (const p of pending) p();
  return out;
}
