/**
 * `if` conditions (nginx ngx_http_rewrite_module), compiled once per config:
 *
 *   ($var)              false when the value is empty or "0"
 *   ($var = s) (!= s)   string comparison
 *   ($var ~ re) (~*) (!~) (!~*)   regex match; a match sets the captures $1..$9 and named ones
 *   (-f path) (-d) (-e) (-x) and their `!` forms   a file, a directory, anything, the owner's x bit
 *
 * File tests go to the thread pool (fs.promises.stat), never blocking the event loop: the rewrite
 * phase is suspended and resumed with the answer (rewrite.ts). No cache: a stat costs a few
 * microseconds in the pool, a cache would serve stale answers after deploys, and nginx without
 * open_file_cache stats every time too.
 */
import { stat } from 'node:fs/promises';
import type { IfCondition } from '../config/types.js';
import { compileConfigRegex } from '../config/template.js';
import type { HttpRequest } from './request.js';
import { useCaptures, type CompiledTemplate } from './variables.js';

export type CompiledCondition =
  | { readonly kind: 'var'; readonly value: CompiledTemplate }
  | { readonly kind: 'eq'; readonly value: CompiledTemplate; readonly other: CompiledTemplate; readonly negate: boolean }
  | { readonly kind: 'regex'; readonly value: CompiledTemplate; readonly regex: RegExp; readonly negate: boolean }
  | { readonly kind: 'file'; readonly path: CompiledTemplate; readonly test: 'f' | 'd' | 'e' | 'x'; readonly negate: boolean };

export function compileCondition(c: IfCondition, compile: (t: string) => CompiledTemplate): CompiledCondition {
  switch (c.kind) {
    case 'var': return { kind: 'var', value: compile(c.value) };
    case 'eq': case 'ne': return { kind: 'eq', value: compile(c.value), other: compile(c.other), negate: c.kind === 'ne' };
    case 'regex': return { kind: 'regex', value: compile(c.value), regex: compileConfigRegex(c.regex, c.caseless), negate: c.negate };
    case 'file': return { kind: 'file', path: compile(c.value), test: c.test, negate: c.negate };
  }
}

/** A condition that needs no file system: its truth now (a regex match sets the captures). */
export function conditionHolds(c: Exclude<CompiledCondition, { kind: 'file' }>, r: HttpRequest): boolean {
  switch (c.kind) {
    case 'var': {
      const v = c.value(r);
      return v !== '' && v !== '0';
    }
    case 'eq': return (c.value(r) === c.other(r)) !== c.negate;
    case 'regex': {
      const m = c.regex.exec(c.value(r));
      if (m === null) return c.negate;
      if (!c.negate) useCaptures(r, { numbered: m, named: m.groups ?? null });
      return !c.negate;
    }
  }
}

/** A file test, answered by the thread pool. */
export async function fileTestHolds(c: Extract<CompiledCondition, { kind: 'file' }>, r: HttpRequest): Promise<boolean> {
  const file = c.path(r);
  let holds: boolean;
  try {
    const st = await stat(file);
    switch (c.test) {
      case 'f': holds = st.isFile(); break;
      case 'd': holds = st.isDirectory(); break;
      case 'e': holds = true; break;
      // nginx ngx_is_exec: the owner's execute bit (a directory has it too).
      case 'x': holds = (st.mode & 0o100) !== 0; break;
    }
  } catch {
    holds = false;
  }
  return holds !== c.negate;
}
