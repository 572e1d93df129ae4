/**
 * The FastCGI settings of a location (directives/fastcgi.ts), grouped: LocationSettings.fastcgi
 * is present only where some level sets a fastcgi_* directive, so a config without FastCGI
 * carries none of it.
 */
import type { NextUpstreamCondition, Template } from './types.js';

export interface FastcgiParam {
  readonly name: string;
  readonly value: Template;
  readonly ifNotEmpty: boolean;
}

export interface FastcgiSettings {
  /** fastcgi_param in file order (inherited as a whole list, like proxy_set_header). */
  readonly params: readonly FastcgiParam[];
  /** fastcgi_index: appended to $fastcgi_script_name when the URI ends in `/` ('' = none). */
  readonly index: string;
  /** fastcgi_split_path_info: a PCRE with two captures (script name, path info), null when none. */
  readonly splitPathInfo: string | null;
  readonly keepConn: boolean;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly interceptErrors: boolean;
  /** Lowercased response header names, added to nginx's hidden ones / taken out of them. */
  readonly hideHeaders: readonly string[];
  readonly passHeaders: readonly string[];
  readonly passRequestHeaders: boolean;
  readonly passRequestBody: boolean;
  readonly nextUpstream: readonly NextUpstreamCondition[];
  readonly nextUpstreamTries: number;
  readonly nextUpstreamTimeoutMs: number;
}
