/**
 * The rewrite phase (nginx ngx_http_rewrite_module without `if`): `rewrite` and `set` run in file
 * order, at server level before location matching and at location level after it. Steps are
 * compiled once per config; running them per request is a loop over regex tests.
 *
 * Semantics checked against nginx (test/integration/http-rewrite.test.ts):
 * - no flag: the URI changes and the next step runs; at location level the location is looked
 *   up again after the phase (unless the location's `return` answers first);
 * - `last`: stop; at location level look the location up again (at most 10 times, then 500);
 * - `break`: stop every rewrite-module directive of the location, `return` included;
 * - `redirect` / `permanent`, or a replacement starting with http://, https:// or $scheme: 302/301;
 * - the request's args are appended unless the replacement ends with "?"; a replacement with its
 *   own "?args" puts them first ("a=b&q=1").
 */
import type { Loc } from '../errors.js';
import type { RewriteRule, Template } from '../config/types.js';
import { compileConfigRegex } from '../config/template.js';
import type { HttpRequest } from './request.js';
import { useCaptures, type CompiledTemplate } from './variables.js';

export type RewriteStep =
  | {
      readonly kind: 'rewrite';
      readonly regex: RegExp;
      readonly replacement: CompiledTemplate;
      readonly flag: RewriteRule['flag'];
      /** The replacement is an absolute URL: always a redirect. */
      readonly external: boolean;
    }
  | { readonly kind: 'set'; readonly name: string; readonly value: CompiledTemplate };

export type RewriteOutcome =
  | { readonly kind: 'none' }
  /** The URI changed with no flag (or `last` at server level, which acts as `break`). */
  | { readonly kind: 'changed' }
  | { readonly kind: 'last' }
  | { readonly kind: 'break' }
  | { readonly kind: 'redirect'; readonly status: 301 | 302; readonly location: string };

/** nginx NGX_HTTP_MAX_URI_CHANGES: location lookups a request may redo before it gets 500. */
export const MAX_URI_CHANGES = 10;

const NONE: RewriteOutcome = { kind: 'none' };
const CHANGED: RewriteOutcome = { kind: 'changed' };
const LAST: RewriteOutcome = { kind: 'last' };
const BREAK: RewriteOutcome = { kind: 'break' };

type SetDirective = { readonly variable: string; readonly value: Template; readonly loc: Loc };

function before(a: Loc, b: Loc): boolean {
  return a.line < b.line || (a.line === b.line && a.column < b.column);
}

/**
 * The steps of one level in file order. The config keeps rewrites and sets apart; their Locs
 * give back the order (both come from the same block, so from the same file). Steps after a
 * `return` of the same block never run in nginx, so they are dropped.
 */
export function compileRewritePhase(
  rewrites: readonly RewriteRule[],
  sets: readonly SetDirective[],
  returnLoc: Loc | null,
  compile: (t: Template) => CompiledTemplate,
): RewriteStep[] {
  const all: { loc: Loc; step: RewriteStep }[] = [];
  for (const r of rewrites) {
    const external = /^(https?:\/\/|\$scheme)/.test(r.replacement);
    all.push({ loc: r.loc, step: { kind: 'rewrite', regex: compileConfigRegex(r.regex, false), replacement: compile(r.replacement), flag: r.flag, external } });
  }
  for (const s of sets) all.push({ loc: s.loc, step: { kind: 'set', name: s.variable, value: compile(s.value) } });
  all.sort((a, b) => (a.loc.file !== b.loc.file ? 0 : before(a.loc, b.loc) ? -1 : before(b.loc, a.loc) ? 1 : 0));
  return all.filter((x) => returnLoc === null || x.loc.file !== returnLoc.file || before(x.loc, returnLoc)).map((x) => x.step);
}

/** Run one level's steps on `r` (uri, args, captures and vars are updated in place). */
export function runRewritePhase(steps: readonly RewriteStep[], r: HttpRequest, absolute: (url: string) => string): RewriteOutcome {
  let changed = false;
  for (const step of steps) {
    if (step.kind === 'set') {
      (r.vars ??= new Map()).set(step.name, step.value(r));
      continue;
    }
    const m = step.regex.exec(r.uri);
    if (m === null) continue;
    useCaptures(r, { numbered: m, named: m.groups ?? null });
    const value = step.replacement(r);
    const q = value.indexOf('?');
    const dropArgs = value.endsWith('?');
    let path = q === -1 ? value : value.slice(0, q);
    const own = q === -1 ? '' : value.slice(q + 1, dropArgs ? -1 : undefined);
    const args = dropArgs ? own : own === '' ? r.args : r.args === '' ? own : `${own}&${r.args}`;
    if (step.external || step.flag === 'redirect' || step.flag === 'permanent') {
      const status = step.flag === 'permanent' ? 301 : 302;
      return { kind: 'redirect', status, location: absolute(args === '' ? path : `${path}?${args}`) };
    }
    if (path === '') path = '/';
    r.uri = path;
    r.args = args;
    r.uriChanged = true;
    changed = true;
    if (step.flag === 'last') return LAST;
    if (step.flag === 'break') return BREAK;
  }
  return changed ? CHANGED : NONE;
}
