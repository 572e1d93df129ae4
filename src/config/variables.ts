/**
 * Which `$variables` a config may use, checked once the whole tree is read: nginx's variables
 * are global to http {} (or stream {}), so a `set` in one location, a `map` anywhere or a named
 * capture of any regex declares a name for every template. Every template argument of the
 * directive table (DirectiveSpec.templates) is checked here, so `-t` reports `unknown "x"
 * variable` at the `$x` itself, and the run-time compilers never meet a name they cannot resolve.
 */
import type { Loc } from '../errors.js';
import { translatePcre } from './pcre.js';
import { templateProblems, type TemplateProblem, type VariableArea } from './template.js';
import type { IfCondition, LocationMatch, MapConfig, ServerName } from './types.js';
import { spanLoc, type Reporter } from './directives/scope.js';

/** What declares names, as both the build drafts and the typed Config have it. */
interface LocationLike extends IfLike {
  readonly match: LocationMatch;
  readonly locations: readonly LocationLike[];
}

/** Variables made by geo and split_clients blocks. */
interface ModulesLike {
  readonly maps: readonly MapConfig[];
  readonly geo?: readonly { readonly variable: string }[];
  readonly splitClients?: readonly { readonly variable: string }[];
}

/** A level of rewrite directives: a location, a server or an `if` block (draft or typed). */
interface IfLike {
  readonly sets?: readonly { readonly variable: string }[];
  readonly rewrites: readonly { readonly regex: string }[];
  readonly extras?: readonly ExtraLike[] | null;
}

type ExtraLike = { readonly kind: 'break' | 'return' } | {
  readonly kind: 'if';
  /** The condition and block: `condition` + `draft` while building, `block` in the typed Config. */
  readonly condition?: IfCondition;
  readonly draft?: IfLike;
  readonly block?: IfLike & { readonly condition: IfCondition };
};

function addIfs(out: Set<string>, extras: readonly ExtraLike[] | null | undefined): void {
  if (extras === null || extras === undefined) return;
  for (const e of extras) {
    if (e.kind !== 'if') continue;
    const c = e.condition ?? e.block!.condition;
    if (c.kind === 'regex') addCaptures(out, c.regex);
    const b = e.draft ?? e.block!;
    for (const s of b.sets ?? []) out.add(s.variable);
    for (const rw of b.rewrites) addCaptures(out, rw.regex);
    addIfs(out, b.extras);
  }
}

export interface HttpLike extends ModulesLike {
  /** auth_request_set targets. */
  readonly authRequestVariables?: readonly string[];
  /** js_set and js_var targets. */
  readonly js?: { readonly sets: readonly { readonly variable: string }[]; readonly vars: readonly { readonly variable: string }[] };
  readonly servers: readonly (IfLike & {
    readonly serverNames: readonly ServerName[];
    readonly locations: readonly LocationLike[];
  })[];
}

export interface StreamLike extends ModulesLike {
  /** js_set and js_var targets. */
  readonly js?: HttpLike['js'];
}

/** A template argument met during the walk. */
export interface TemplateUse {
  readonly area: VariableArea;
  readonly value: string;
  readonly loc: Loc;
}

function addCaptures(out: Set<string>, source: string): void {
  const t = translatePcre(source, false);
  if (t.ok) for (const n of t.value.names) out.add(n);
}

function addMaps(out: Set<string>, area: ModulesLike): void {
  for (const m of area.maps) {
    out.add(m.variable);
    for (const e of m.entries) if (e.kind !== 'exact') addCaptures(out, e.key);
  }
  for (const g of area.geo ?? []) out.add(g.variable);
  for (const s of area.splitClients ?? []) out.add(s.variable);
}

function addLocations(out: Set<string>, locations: readonly LocationLike[]): void {
  for (const l of locations) {
    for (const s of l.sets ?? []) out.add(s.variable);
    for (const rw of l.rewrites) addCaptures(out, rw.regex);
    addIfs(out, l.extras);
    if (l.match.kind === 'regex') addCaptures(out, l.match.source);
    addLocations(out, l.locations);
  }
}

/** Names an http {} declares: `set`, `map`, `geo`, `split_clients` and auth_request_set targets, named captures of every regex. */
export function declaredHttpVariables(http: HttpLike): Set<string> {
  const out = new Set<string>(http.authRequestVariables);
  for (const v of http.js?.sets ?? []) out.add(v.variable);
  for (const v of http.js?.vars ?? []) out.add(v.variable);
  addMaps(out, http);
  for (const s of http.servers) {
    for (const v of s.sets ?? []) out.add(v.variable);
    for (const rw of s.rewrites) addCaptures(out, rw.regex);
    addIfs(out, s.extras);
    for (const n of s.serverNames) if (n.kind === 'regex') addCaptures(out, n.source);
    addLocations(out, s.locations);
  }
  return out;
}

/** Names a stream {} declares: `map`, `geo` and `split_clients` targets and the named captures of map regexes. */
export function declaredStreamVariables(stream: StreamLike): Set<string> {
  const out = new Set<string>();
  for (const v of stream.js?.sets ?? []) out.add(v.variable);
  for (const v of stream.js?.vars ?? []) out.add(v.variable);
  addMaps(out, stream);
  return out;
}

/** Report every template that names a variable nobody defines, at the `$name`. */
export function checkVariables(
  uses: readonly TemplateUse[],
  areas: { readonly http: HttpLike | null; readonly stream: StreamLike | null },
  r: Reporter,
): void {
  const declared = {
    http: areas.http === null ? new Set<string>() : declaredHttpVariables(areas.http),
    stream: areas.stream === null ? new Set<string>() : declaredStreamVariables(areas.stream),
  };
  // A big config repeats the same few templates (`proxy_set_header Host $host` per location).
  const checked = { http: new Map<string, TemplateProblem[]>(), stream: new Map<string, TemplateProblem[]>() };
  for (const u of uses) {
    const seen = checked[u.area];
    let problems = seen.get(u.value);
    if (problems === undefined) seen.set(u.value, (problems = templateProblems(u.value, declared[u.area], u.area)));
    for (const p of problems) {
      r.error('TSP_ERR_CONFIG_VALUE', p.message, spanLoc(u.loc, u.value, p.offset, p.length));
    }
  }
}
