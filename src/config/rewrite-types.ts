/** The rewrite-module and try_files part of the typed config (re-exported by types.ts). */
import type { Loc } from '../errors.js';
import type { LocationConfig, RewriteRule, Template } from './types.js';

/** `try_files file ... uri | =code`. */
export interface TryFilesConfig {
  /** Templates tested in order; one ending in "/" tests for a directory. */
  readonly files: readonly Template[];
  /** The fallback: `=code`, `@name` or a URI (internal redirect). */
  readonly fallback: Template;
  readonly loc: Loc;
}

/** An `if` condition as nginx reads it. */
export type IfCondition =
  | { readonly kind: 'var'; readonly value: Template }
  | { readonly kind: 'eq' | 'ne'; readonly value: Template; readonly other: Template }
  | { readonly kind: 'regex'; readonly value: Template; readonly regex: string; readonly caseless: boolean; readonly negate: boolean }
  | { readonly kind: 'file'; readonly test: 'f' | 'd' | 'e' | 'x'; readonly negate: boolean; readonly value: Template };

/** One rewrite-module directive of a level, in file order (the if blocks, `break`, `return` inside an if). */
export type RewriteExtra =
  | { readonly kind: 'break'; readonly loc: Loc }
  | { readonly kind: 'return'; readonly code: number; readonly text: Template | null; readonly loc: Loc }
  | { readonly kind: 'if'; readonly block: IfBlock; readonly loc: Loc };

/**
 * `if (condition) { ... }`: the rewrite directives inside run when the condition holds; in a
 * location, the block is an anonymous location (nginx's "location if"): its settings and content
 * handler apply to the request from then on.
 */
export interface IfBlock {
  readonly condition: IfCondition;
  readonly rewrites: readonly RewriteRule[];
  readonly sets: readonly { readonly variable: string; readonly value: Template; readonly loc: Loc }[];
  readonly extras: readonly RewriteExtra[];
  /** Location if: the anonymous location (its settings over the enclosing ones); null in a server. */
  readonly location: LocationConfig | null;
}
