/**
 * The generic syntax tree: what the grammar knows, and nothing about what directives mean
 * (as nginx's ngx_conf_read_token). src/config/directives.ts gives the words meaning.
 */
import type { Loc } from '../errors.js';

export interface Arg {
  /** The value with quotes removed and escapes resolved; `$var` references are kept as text. */
  readonly value: string;
  /** Whether the argument was written in quotes ("..." or '...'). */
  readonly quoted: boolean;
  readonly loc: Loc;
}

export interface Directive {
  readonly name: string;
  readonly args: readonly Arg[];
  /** The statements inside `{ ... }`, or null for a directive terminated by `;`. */
  readonly block: readonly Directive[] | null;
  /** Position of the directive name. */
  readonly loc: Loc;
}
