/**
 * $fastcgi_script_name and $fastcgi_path_info (nginx's ngx_http_fastcgi_split and
 * ngx_http_fastcgi_script_name_variable): fastcgi_split_path_info's regex, matched against $uri,
 * gives the script name (first capture) and the path info (second); without a match (or a regex)
 * the script name is $uri and the path info empty. A script name ending in `/` gets fastcgi_index.
 * The regex is compiled once per location; each read runs it on the current $uri, so a URI
 * changed by rewrite or try_files is split again (nginx caches the split per request and
 * location; a URI does not change between two reads here without a reason).
 */
import { compileConfigRegex } from '../../config/template.js';
import type { FastcgiSettings } from '../../config/types.js';

export interface FastcgiNames {
  readonly split: RegExp | null;
  readonly index: string;
}

/** Null for a location whose levels set no fastcgi_* directive (both variables then read $uri and ''). */
export function compileFastcgiNames(f: FastcgiSettings | undefined): FastcgiNames | null {
  if (f === undefined) return null;
  return { split: f.splitPathInfo === null ? null : compileConfigRegex(f.splitPathInfo, false), index: f.index };
}

export function fastcgiScriptName(uri: string, names: FastcgiNames | null | undefined): string {
  if (names === null || names === undefined) return uri;
  let script = uri;
  if (names.split !== null) {
    const m = names.split.exec(uri);
    if (m !== null) script = m[1] ?? '';
  }
  return script.endsWith('/') && names.index !== '' ? script + names.index : script;
}

export function fastcgiPathInfo(uri: string, names: FastcgiNames | null | undefined): string {
  if (names === null || names === undefined || names.split === null) return '';
  const m = names.split.exec(uri);
  return m === null ? '' : (m[2] ?? '');
}

/** $nginx_version: the nginx release whose behaviour tsproxy follows (Debian's fastcgi_params sends it as SERVER_SOFTWARE). */
export const NGINX_VERSION = '1.22.1';
