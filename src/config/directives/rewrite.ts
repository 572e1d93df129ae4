/**
 * The rewrite module's `if` and `break` (rewrite, set and return are in http.ts). An `if` block is
 * read as nginx's ngx_http_rewrite_if: in a location it is an anonymous location (its own
 * settings over the enclosing ones, its own content handler); in a server only rewrite-module
 * directives are allowed in it.
 */
import type { Arg, Directive } from '../ast.js';
import type { IfCondition, LocationConfig, LocationHandler, LocationSettings, RewriteExtra } from '../types.js';
import { NO_ITEMS } from './drafts.js';
import {
  checkRegex, childScope, err, noteTemplate, type DirectiveSpec, type LocationDraft, type Reporter, type RewriteExtraDraft, type Scope,
} from './scope.js';

const FILE_TESTS: Readonly<Record<string, { test: 'f' | 'd' | 'e' | 'x'; negate: boolean }>> = {
  '-f': { test: 'f', negate: false }, '!-f': { test: 'f', negate: true },
  '-d': { test: 'd', negate: false }, '!-d': { test: 'd', negate: true },
  '-e': { test: 'e', negate: false }, '!-e': { test: 'e', negate: true },
  '-x': { test: 'x', negate: false }, '!-x': { test: 'x', negate: true },
};

const OPERATORS = ['=', '!=', '~', '~*', '!~', '!~*'];

/** The condition between `(` and `)`, with nginx's messages. */
export function parseCondition(d: Directive, r: Reporter): IfCondition | undefined {
  const args: Arg[] = d.args.map((a) => ({ ...a }));
  const first = args[0]!;
  if (!first.value.startsWith('(')) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid condition "${first.value}"`, first.loc);
  if (first.value === '(') args.shift();
  else args[0] = { ...first, value: first.value.slice(1) };
  const last = args[args.length - 1];
  if (last === undefined || !last.value.endsWith(')')) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid condition "${(last ?? first).value}"`, (last ?? first).loc);
  if (last.value === ')') args.pop();
  else args[args.length - 1] = { ...last, value: last.value.slice(0, -1) };
  const a = args[0];
  if (a === undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', 'invalid condition "()"', d.loc);
  if (a.value.length > 1 && a.value.startsWith('$')) {
    if (args.length === 1) return { kind: 'var', value: a.value };
    const op = args[1]!;
    if (!OPERATORS.includes(op.value)) return err(r, 'TSP_ERR_CONFIG_VALUE', `unexpected "${op.value}" in condition`, op.loc);
    if (args.length !== 3) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid condition "${a.value}"`, a.loc);
    const other = args[2]!;
    if (op.value === '=' || op.value === '!=') return { kind: op.value === '=' ? 'eq' : 'ne', value: a.value, other: other.value };
    const caseless = op.value.endsWith('*');
    if (checkRegex(r, other.value, 0, caseless, other.loc) === undefined) return undefined;
    return { kind: 'regex', value: a.value, regex: other.value, caseless, negate: op.value.startsWith('!') };
  }
  const test = FILE_TESTS[a.value];
  if (test !== undefined) {
    if (args.length !== 2) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid condition "${a.value}"`, a.loc);
    return { kind: 'file', ...test, value: args[1]!.value };
  }
  return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid condition "${a.value}"`, a.loc);
}

function conditionTemplates(scope: Scope, c: IfCondition, d: Directive): void {
  noteTemplate(scope, c.value, d.loc);
  if (c.kind === 'eq' || c.kind === 'ne') noteTemplate(scope, c.other, d.loc);
}

function applyIf(scope: Scope, d: Directive): Scope | null {
  const condition = parseCondition(d, scope.state.report);
  if (condition === undefined) return null;
  conditionTemplates(scope, condition, d);
  const inLocation = scope.context === 'location' || scope.context === 'if';
  const child = childScope(scope, inLocation ? 'if' : 'sif');
  const parent = scope.location;
  // The block's draft: a location-like draft whatever the level (rewrite, set, return and break
  // go into it; in a location if, proxy_pass and the settings too).
  const draft: LocationDraft = {
    match: parent?.match ?? { kind: 'prefix', path: '' }, matchLoc: d.loc, key: '', rewrites: NO_ITEMS, sets: NO_ITEMS, proxy: null,
    websocket: null, ret: null, checkStatus: null, locations: NO_ITEMS, extras: null, tryFiles: null, internal: false, scope: child, loc: d.loc,
  };
  child.location = draft;
  ((parent ?? scope.server!).extras ??= []).push({ kind: 'if', condition, draft, loc: d.loc });
  return child;
}

export const REWRITE_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'if', contexts: ['server', 'location', 'if', 'sif'], args: [1, Infinity], block: 'if', multiple: true,
    syntax: 'if (condition) { ... }',
    summary: 'Run the rewrite directives inside when the condition holds: `$var` (not empty, not "0"), `$var = s`, `!=`, `~ regex`, `~*`, `!~`, `!~*` (captures as $1..$9), `-f`, `-d`, `-e`, `-x` and `!-f` ... on a file.',
    note: 'In a location the block is an anonymous location: `proxy_pass`, `root`, `add_header`, `expires`, `access_log` and `error_page` inside it apply when it matched (nginx\'s "location if").',
    apply: applyIf,
  },
  {
    name: 'break', contexts: ['server', 'location', 'if', 'sif'], args: [0, 0], multiple: true, syntax: 'break;',
    summary: 'Stop running the rewrite directives of this level (and the location\'s `return`).',
    apply(scope, d) { ((scope.location ?? scope.server!).extras ??= []).push({ kind: 'break', loc: d.loc }); },
  },
];

/**
 * The typed `if` blocks, `break`s and `return`s of a level. In a location (`location` given) an if
 * block becomes an anonymous location over the enclosing settings, keeping the enclosing handler
 * unless it has its own; in a server it holds rewrite directives only.
 */
export function assembleExtras(
  extras: readonly RewriteExtraDraft[], settings: LocationSettings, handler: LocationHandler,
  location: ((draft: LocationDraft, handler: LocationHandler) => LocationConfig) | null,
): RewriteExtra[] {
  return extras.map((e): RewriteExtra => {
    if (e.kind !== 'if') return e;
    const anonymous = location === null ? null : location(e.draft, handler);
    const inner = e.draft.extras === null ? [] : (anonymous?.extras ?? assembleExtras(e.draft.extras, settings, handler, null));
    return { kind: 'if', block: { condition: e.condition, rewrites: e.draft.rewrites, sets: e.draft.sets, extras: inner, location: anonymous }, loc: e.loc };
  });
}
