/**
 * Where a URI is on disk and the per-location static-file settings, compiled once per plan:
 * `root` (root + URI), `alias` in a prefix location (the prefix replaced by the alias) and in a
 * regex location (the alias, captures substituted, is the whole file name), as nginx's
 * ngx_http_map_uri_to_path. Also the `expires` fields (nginx's headers filter; headers.ts writes them).
 */
import path from 'node:path';
import { DEFAULT_FILES } from '../config/directives/files.js';
import type { ExpiresConfig, FileSettings, LocationMatch, LocationSettings } from '../config/types.js';

export const ALIAS_NONE = 0;
export const ALIAS_PREFIX = 1;
export const ALIAS_REGEX = 2;

export interface FilePlan {
  readonly settings: FileSettings;
  readonly alias: typeof ALIAS_NONE | typeof ALIAS_PREFIX | typeof ALIAS_REGEX;
  /** The location's path an ALIAS_PREFIX replaces. */
  readonly aliasPrefix: string;
}

export function compileFilePlan(settings: LocationSettings, match: LocationMatch | null): FilePlan {
  const files = settings.files ?? DEFAULT_FILES;
  if (!files.alias || match === null) return { settings: files, alias: ALIAS_NONE, aliasPrefix: '' };
  if (match.kind === 'regex') return { settings: files, alias: ALIAS_REGEX, aliasPrefix: '' };
  return { settings: files, alias: ALIAS_PREFIX, aliasPrefix: match.kind === 'named' ? '' : match.path };
}

/**
 * The file `uri` names: root + uri (kept under root), or the alias mapping. `tried` is a try_files
 * name: in a regex alias location nginx appends it to the alias (ngx_http_try_files_handler).
 */
export function filePath(root: string, plan: FilePlan, uri: string, tried = false): string | null {
  if (uri.includes('\0')) return null;
  switch (plan.alias) {
    case ALIAS_NONE: return underRoot(root, uri);
    case ALIAS_PREFIX: return root + (uri.startsWith(plan.aliasPrefix) ? uri.slice(plan.aliasPrefix.length) : uri);
    case ALIAS_REGEX: return tried ? root + uri : root;
  }
}

/** root + uri, or null when the result would leave root (a rewrite may produce anything). */
export function underRoot(root: string, uri: string): string | null {
  const base = path.resolve(root);
  const full = path.resolve(base, `.${uri.startsWith('/') ? uri : `/${uri}`}`);
  if (full !== base && !full.startsWith(base.endsWith(path.sep) ? base : base + path.sep)) return null;
  // nginx keeps a trailing slash (a directory request).
  return uri.endsWith('/') && !full.endsWith('/') ? `${full}/` : full;
}

/** Statuses the expires fields go with (nginx ngx_http_headers_filter). */
const EXPIRES_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);
const EPOCH_FIELDS = ['Expires', 'Thu, 01 Jan 1970 00:00:01 GMT', 'Cache-Control', 'no-cache'] as const;
const MAX_FIELDS = ['Expires', 'Thu, 31 Dec 2037 23:55:55 GMT', 'Cache-Control', 'max-age=315360000'] as const;

/** Whether `expires` applies to a response of `status`. */
export function appliesExpires(status: number): boolean {
  return EXPIRES_STATUSES.has(status);
}

/** Expires and Cache-Control for a response (name, value, name, value), null when none. */
export function expiresFields(e: ExpiresConfig, status: number, lastModifiedMs: number | null, nowMs: number): readonly string[] | null {
  if (!EXPIRES_STATUSES.has(status)) return null;
  if (e.kind === 'epoch' || e.kind === 'max') return e.kind === 'epoch' ? EPOCH_FIELDS : MAX_FIELDS;
  const now = Math.floor(nowMs / 1000);
  // `modified` without a modification time counts from now (nginx).
  const base = e.kind === 'modified' && lastModifiedMs !== null ? Math.floor(lastModifiedMs / 1000) : now;
  const at = base + e.seconds;
  const expires = new Date(at * 1000).toUTCString();
  if (e.seconds < 0 || at < now) return ['Expires', expires, 'Cache-Control', 'no-cache'];
  return ['Expires', expires, 'Cache-Control', `max-age=${at - now}`];
}
