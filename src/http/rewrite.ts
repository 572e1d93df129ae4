/**
 * The rewrite phase (nginx ngx_http_rewrite_module): `rewrite`, `set`, `if`, `break` and `return`
 * inside an `if` run in file order, at server level before location matching and at location level after it. Steps are
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
 * - `if` (if.ts): when it holds, its steps run and, in a location, its anonymous location's plan
 *   becomes the request's (its handler, headers, root); the steps after the block run then too.
 *   A file test suspends the phase (r.rewriteRun keeps where it stood) and phases.ts resumes it.
 */
import type { Loc } from '../errors.js';
import type { IfBlock, RewriteExtra, RewriteRule, Template } from '../config/types.js';
import { compileConfigRegex } from '../config/template.js';
import { compileCondition, conditionHolds, fileTestHolds, type CompiledCondition } from './if.js';
import type { LocationPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import type { RouteTrace } from './route-trace.js';
import { holdBody } from './suspend.js';
import { resumePhase } from './phase-waits.js';
import { useCaptures, type CompiledTemplate } from './variables.js';

/** `loc`: where the directive is written (--explain names the step by it). */
export type RewriteStep = (
  | {
      readonly kind: 'rewrite';
      readonly regex: RegExp;
      readonly replacement: CompiledTemplate;
      readonly flag: RewriteRule['flag'];
      /** The replacement is an absolute URL: always a redirect. */
      readonly external: boolean;
    }
  | { readonly kind: 'set'; readonly name: string; readonly value: CompiledTemplate }
  | { readonly kind: 'break' }
  | { readonly kind: 'return'; readonly code: number; readonly text: CompiledTemplate | null }
  | { readonly kind: 'if'; readonly condition: CompiledCondition; readonly steps: readonly RewriteStep[]; readonly plan: LocationPlan | null }
) & { readonly loc: Loc };

export type RewriteOutcome =
  | { readonly kind: 'none' }
  /** The URI changed with no flag (or `last` at server level, which acts as `break`). */
  | { readonly kind: 'changed' }
  | { readonly kind: 'last' }
  | { readonly kind: 'break' }
  | { readonly kind: 'redirect'; readonly status: 301 | 302; readonly location: string }
  /** `return` inside an `if`. */
  | { readonly kind: 'return'; readonly code: number; readonly text: string | null }
  /** A file test is running: the phase resumes with `r.rewriteRun` set. */
  | { readonly kind: 'suspended' };

/** Where a suspended rewrite phase stands: the step index at each `if` depth, the file test's answer. */
export interface RewriteRun {
  /** The level's steps (a location if may have replaced r.plan meanwhile). */
  steps: readonly RewriteStep[];
  path: number[] | null;
  holds: boolean;
  changed: boolean;
}

/** nginx NGX_HTTP_MAX_URI_CHANGES: location lookups a request may redo before it gets 500. */
export const MAX_URI_CHANGES = 10;

const NONE: RewriteOutcome = { kind: 'none' };
const CHANGED: RewriteOutcome = { kind: 'changed' };
const LAST: RewriteOutcome = { kind: 'last' };
const BREAK: RewriteOutcome = { kind: 'break' };
const SUSPENDED: RewriteOutcome = { kind: 'suspended' };

type SetDirective = { readonly variable: string; readonly value: Template; readonly loc: Loc };

function before(a: Loc, b: Loc): boolean {
  return a.line < b.line || (a.line === b.line && a.column < b.column);
}

/** What compiling a level needs besides templates: the plan of a location if's anonymous location. */
export type IfPlanOf = (block: IfBlock) => LocationPlan | null;

/**
 * The steps of one level in file order. The config keeps rewrites, sets and the rest apart; their
 * Locs give back the order (all come from the same block, so from the same file). Steps after a
 * `return` of the same block never run in nginx, so they are dropped.
 */
export function compileRewritePhase(
  rewrites: readonly RewriteRule[],
  sets: readonly SetDirective[],
  returnLoc: Loc | null,
  compile: (t: Template) => CompiledTemplate,
  extras: readonly RewriteExtra[] = [],
  ifPlan: IfPlanOf = () => null,
): RewriteStep[] {
  const all: { loc: Loc; step: RewriteStep }[] = [];
  for (const r of rewrites) {
    const external = /^(https?:\/\/|\$scheme)/.test(r.replacement);
    all.push({ loc: r.loc, step: { kind: 'rewrite', regex: compileConfigRegex(r.regex, false), replacement: compile(r.replacement), flag: r.flag, external, loc: r.loc } });
  }
  for (const s of sets) all.push({ loc: s.loc, step: { kind: 'set', name: s.variable, value: compile(s.value), loc: s.loc } });
  for (const e of extras) {
    switch (e.kind) {
      case 'break': all.push({ loc: e.loc, step: { kind: 'break', loc: e.loc } }); break;
      case 'return': all.push({ loc: e.loc, step: { kind: 'return', code: e.code, text: e.text === null ? null : compile(e.text), loc: e.loc } }); break;
      case 'if': {
        const b = e.block;
        const steps = compileRewritePhase(b.rewrites, b.sets, null, compile, b.extras, ifPlan);
        all.push({ loc: e.loc, step: { kind: 'if', condition: compileCondition(b.condition, compile), steps, plan: ifPlan(b), loc: e.loc } });
        break;
      }
    }
  }
  all.sort((a, b) => (a.loc.file !== b.loc.file ? 0 : before(a.loc, b.loc) ? -1 : before(b.loc, a.loc) ? 1 : 0));
  return all.filter((x) => returnLoc === null || x.loc.file !== returnLoc.file || before(x.loc, returnLoc)).map((x) => x.step);
}

/** Whether the URI changed in the run under way (runs are synchronous; a suspended run keeps it in RewriteRun). */
let changed = false;

/**
 * Run one level's steps on `r` (uri, args, captures, vars and, for a location if, the plan are
 * updated in place). A suspended run (file test) is resumed by running phase `phase` again
 * (phases.ts resumePhase), which continues where the run stood.
 */
export function runRewritePhase(steps: readonly RewriteStep[], r: HttpRequest, absolute: (url: string) => string, phase = -1): RewriteOutcome {
  const run = r.rewriteRun;
  changed = run === null ? false : run.changed;
  const out = runSteps(steps, 0, r, absolute, phase);
  if (out === SUSPENDED) {
    r.rewriteRun!.changed = changed;
    r.rewriteRun!.steps = steps;
    return out;
  }
  r.rewriteRun = null;
  return out === NONE && changed ? CHANGED : out;
}

function runSteps(steps: readonly RewriteStep[], depth: number, r: HttpRequest, absolute: (url: string) => string, phase: number): RewriteOutcome {
  const run = r.rewriteRun;
  const resumeAt = run !== null && run.path !== null ? run.path[depth]! : -1;
  for (let i = resumeAt === -1 ? 0 : resumeAt; i < steps.length; i++) {
    const step = steps[i]!;
    switch (step.kind) {
      case 'set':
        (r.vars ??= new Map()).set(step.name, step.value(r));
        if (r.trace !== null) traceStep(r.trace, step, true, `$${step.name} = "${r.vars.get(step.name)}"`);
        continue;
      case 'break':
        if (r.trace !== null) traceStep(r.trace, step, true, 'stop the rewrite module here (the location\'s return too)');
        return BREAK;
      case 'return': {
        const text = step.text === null ? null : step.text(r);
        if (r.trace !== null) traceStep(r.trace, step, true, `return ${step.code}${text === null ? '' : ` "${text}"`}`);
        return { kind: 'return', code: step.code, text };
      }
      case 'if': {
        let holds: boolean;
        if (i === resumeAt && run !== null && run.path !== null) {
          if (depth === run.path.length - 1) {
            // The file test this run waited for.
            holds = run.holds;
            run.path = null;
            if (holds && step.plan !== null) r.plan = step.plan;
          } else {
            holds = true; // the run stood inside this block
          }
        } else {
          const c = step.condition;
          if (c.kind === 'file') {
            const state: RewriteRun = r.rewriteRun ?? { steps, path: null, holds: false, changed: false };
            state.path = [i];
            r.rewriteRun = state;
            holdBody(r);
            void fileTestHolds(c, r).then((v) => {
              state.holds = v;
              resumePhase(r, phase);
            });
            return SUSPENDED;
          }
          holds = conditionHolds(c, r);
          if (holds && step.plan !== null) r.plan = step.plan;
        }
        if (r.trace !== null) traceStep(r.trace, step, holds, holds ? (step.plan !== null ? 'holds: its block runs and its settings answer the request' : 'holds: its block runs') : 'does not hold');
        if (!holds) continue;
        const out = runSteps(step.steps, depth + 1, r, absolute, phase);
        if (out === SUSPENDED) {
          r.rewriteRun!.path!.unshift(i);
          return out;
        }
        if (out !== NONE) return out;
        continue;
      }
      case 'rewrite': {
        const m = step.regex.exec(r.uri);
        if (m === null) {
          if (r.trace !== null) traceStep(r.trace, step, false, `regex does not match ${r.uri}`);
          continue;
        }
        useCaptures(r, { numbered: m, named: m.groups ?? null });
        const value = step.replacement(r);
        const q = value.indexOf('?');
        const dropArgs = value.endsWith('?');
        let path = q === -1 ? value : value.slice(0, q);
        const own = q === -1 ? '' : value.slice(q + 1, dropArgs ? -1 : undefined);
        const args = dropArgs ? own : own === '' ? r.args : r.args === '' ? own : `${own}&${r.args}`;
        if (step.external || step.flag === 'redirect' || step.flag === 'permanent') {
          const status = step.flag === 'permanent' ? 301 : 302;
          const location = absolute(args === '' ? path : `${path}?${args}`);
          if (r.trace !== null) traceStep(r.trace, step, true, `redirect ${status} to ${location}`);
          return { kind: 'redirect', status, location };
        }
        if (path === '') path = '/';
        r.uri = path;
        r.args = args;
        r.uriChanged = true;
        changed = true;
        if (r.trace !== null) traceStep(r.trace, step, true, `URI is now ${path}${args === '' ? '' : `?${args}`}${step.flag === null ? '' : ` (${step.flag})`}`);
        if (step.flag === 'last') return LAST;
        if (step.flag === 'break') return BREAK;
        continue;
      }
    }
  }
  return NONE;
}

/** --explain: one step that ran (route-trace.ts). */
function traceStep(trace: RouteTrace, step: RewriteStep, matched: boolean, result: string): void {
  trace.events.push({ kind: 'step', step: { kind: step.kind, loc: step.loc, matched, result } });
}
