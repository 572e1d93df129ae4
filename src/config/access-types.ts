/**
 * The access-phase part of the typed config tree (types.ts re-exports it): allow/deny, satisfy,
 * auth_basic and auth_request of a location. nginx's http access, auth_basic and auth_request
 * modules.
 */
import type { AccessRule, Template } from './types.js';

/** `auth_request_set $variable value;`: `value` is evaluated against the auth subrequest. */
export interface AuthRequestSet {
  /** The variable's name, without `$`. */
  readonly variable: string;
  readonly value: Template;
}

/**
 * A location's access settings; absent from LocationSettings when none of these directives
 * applies (configs without them keep their shape and hash).
 */
export interface AccessConfig {
  /** allow/deny in file order (nginx: a level with any rule replaces the outer list). */
  readonly rules: readonly AccessRule[];
  /** `satisfy any`: one module letting the request through is enough (default `all`). */
  readonly satisfy: 'all' | 'any';
  /** auth_basic's realm (a template); null: off. */
  readonly authBasic: Template | null;
  /**
   * auth_basic_user_file as written (a template); evaluated per request when it has variables,
   * and a relative result is taken from the prefix, as nginx's conf prefix. null: not set.
   */
  readonly authBasicUserFile: Template | null;
  /** auth_request's URI; null: off. */
  readonly authRequest: string | null;
  readonly authRequestSet: readonly AuthRequestSet[];
}
