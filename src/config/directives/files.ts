/**
 * Static-file directives (nginx's core, static, index, autoindex, headers and try_files parts):
 * default_type, types, etag, expires, if_modified_since, autoindex*, alias, try_files, internal.
 * The inherited ones are grouped into FileSettings at assembly (build.ts mergeFiles).
 */
import type { Directive } from '../ast.js';
import type { ExpiresConfig, FileSettings } from '../types.js';
import { parseDuration } from '../units.js';
import {
  err, flag, invalidValue, oneOf, ownSettings, setting, valueSlot, type Context, type DirectiveSpec, type Scope, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];

/** nginx's defaults; default_type is tsproxy's (see the note on default_type). */
export const DEFAULT_FILES: FileSettings = {
  defaultType: 'application/octet-stream', types: null, etag: true, expires: null, ifModifiedSince: 'exact',
  autoindex: false, autoindexFormat: 'html', autoindexExactSize: true, autoindexLocaltime: false, alias: false,
  logNotFound: true,
};

/** A signed nginx time in seconds ("1h", "-1", "+30m"). */
function signedSeconds(text: string): number | null {
  const neg = text.startsWith('-');
  const body = neg || text.startsWith('+') ? text.slice(1) : text;
  const ms = parseDuration(body, 's');
  if (ms === null) return null;
  const s = Math.floor(ms / 1000);
  return neg ? -s : s;
}

/** `expires [modified] time | epoch | max | off` (null: off). */
const expires: ValueParser<ExpiresConfig | null> = (args, d, r) => {
  let rest = args;
  let modified = false;
  if (args.length === 2) {
    if (args[0]!.value !== 'modified') return invalidValue(r, args[0]!, d);
    modified = true;
    rest = args.slice(1);
  }
  const v = rest[0]!.value;
  if (!modified) {
    if (v === 'off') return null;
    if (v === 'epoch') return { kind: 'epoch' };
    if (v === 'max') return { kind: 'max' };
  }
  if (v.startsWith('@')) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" @time (time of day) is not supported by tsproxy`, rest[0]!.loc);
  const seconds = signedSeconds(v);
  if (seconds === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, rest[0]!.loc);
  return modified ? { kind: 'modified', seconds } : { kind: 'access', seconds };
};

/** `types { type ext ...; ... }`: extension → type (a later line wins, as nginx warns and overrides). */
function applyTypes(scope: Scope, d: Directive): void {
  const table: Record<string, string> = {};
  for (const line of d.block ?? []) {
    if (line.block !== null) { err(scope.state.report, 'TSP_ERR_CONFIG_SYNTAX', `unexpected "{"`, line.loc); continue; }
    if (line.args.length === 0) { err(scope.state.report, 'TSP_ERR_CONFIG_ARGS', `invalid number of arguments in "${line.name}" directive`, line.loc); continue; }
    for (const a of line.args) table[a.value.toLowerCase()] = line.name;
  }
  ownSettings(scope, 'http').mimeTypes = table;
}

/** `alias path`: shares `root`'s slot (nginx); root and alias in one block are refused. */
function applyAlias(scope: Scope, d: Directive): void {
  const r = scope.state.report;
  if (scope.seen.includes('root')) { err(r, 'TSP_ERR_CONFIG_DUPLICATE', `"alias" directive is duplicate, "root" directive was specified earlier`, d.loc); return; }
  if (scope.location?.match.kind === 'named') { err(r, 'TSP_ERR_CONFIG_NOT_ALLOWED', `"alias" directive cannot be used inside the named location`, d.loc); return; }
  const own = ownSettings(scope, 'http');
  own.root = d.args[0]!.value;
  own.alias = true;
}

export const FILE_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    kind: 'http', contexts: LOC3, name: 'default_type', field: 'defaultType', parse: (a) => a[0]!.value, default: 'application/octet-stream',
    syntax: 'default_type mime-type;', summary: 'Content-Type of a static file whose extension `types` does not list.',
    note: 'Default `application/octet-stream`, as Debian\'s and nginx\'s shipped nginx.conf set it (nginx\'s built-in default: text/plain).',
  }),
  {
    name: 'types', contexts: LOC3, args: [0, 0], block: 'http', rawBlock: true, syntax: 'types { mime-type extension ...; ... }',
    summary: 'Extension → Content-Type table (`include mime.types` inside it); a level with `types` replaces the inherited table.',
    note: 'Without any `types`, tsproxy uses a built-in table of common types from nginx\'s mime.types (nginx: text/html, image/gif, image/jpeg).',
    setting: valueSlot('http', 'mimeTypes', null), apply: applyTypes,
  },
  setting({ kind: 'http', contexts: LOC3, name: 'etag', field: 'etag', parse: flag, default: 'on', syntax: 'etag on | off;', summary: 'Send `ETag: "mtime-size"` (hex) with static files and answer If-None-Match.' }),
  setting({
    kind: 'http', contexts: [...LOC3, 'if'], name: 'expires', field: 'expires', parse: expires, args: [1, 2], default: 'off',
    syntax: 'expires [modified] time | epoch | max | off;', summary: 'Expires and Cache-Control (replacing an upstream\'s) of responses with status 200, 201, 204, 206, 301, 302, 303, 304, 307, 308; a negative time, or a time already past, is `no-cache`.',
    note: '`@time` of day is not supported.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'if_modified_since', field: 'ifModifiedSince', parse: oneOf(['off', 'exact', 'before'] as const), default: 'exact',
    syntax: 'if_modified_since off | exact | before;', summary: 'How If-Modified-Since is compared with a static file\'s time (304).',
  }),
  setting({ kind: 'http', contexts: LOC3, name: 'autoindex', field: 'autoindex', parse: flag, default: 'off', syntax: 'autoindex on | off;', summary: 'List a directory that has no index file.' }),
  setting({
    kind: 'http', contexts: LOC3, name: 'autoindex_format', field: 'autoindexFormat', parse: oneOf(['html', 'json', 'xml', 'jsonp'] as const), default: 'html',
    syntax: 'autoindex_format html | json;', summary: 'Format of directory listings.', note: '`xml` and `jsonp` are accepted and answered as html and json.',
  }),
  setting({ kind: 'http', contexts: LOC3, name: 'autoindex_exact_size', field: 'autoindexExactSize', parse: flag, default: 'on', syntax: 'autoindex_exact_size on | off;', summary: 'html listings: exact sizes in bytes, else rounded to K, M, G.' }),
  setting({
    kind: 'http', contexts: LOC3, name: 'log_not_found', field: 'logNotFound', parse: flag, default: 'on', syntax: 'log_not_found on | off;',
    summary: 'Log a static file or index that is not there (`open() "..." failed (2: No such file or directory)`); off keeps the 404 out of the error log.',
  }),
  setting({ kind: 'http', contexts: LOC3, name: 'autoindex_localtime', field: 'autoindexLocaltime', parse: flag, default: 'off', syntax: 'autoindex_localtime on | off;', summary: 'html listings: times in local time, else UTC.' }),
  {
    name: 'alias', contexts: ['location'], args: [1, 1], templates: 0, syntax: 'alias path;',
    summary: 'Replace the location\'s prefix with `path` (in a regex location, `path` with captures is the whole file name).',
    setting: valueSlot('http', 'alias', false), apply: applyAlias,
  },
  {
    name: 'try_files', contexts: ['server', 'location'], args: [2, Infinity], templates: 'all', syntax: 'try_files file ... uri | =code;',
    summary: 'Serve the first file that exists (a name ending in "/" tests a directory), else the last parameter: an internal redirect, `@name` or `=code`.',
    apply(scope, d) {
      const last = d.args[d.args.length - 1]!;
      if (last.value.startsWith('=')) {
        const code = Number(last.value.slice(1));
        if (!/^\d{3}$/.test(last.value.slice(1)) || code > 999) { err(scope.state.report, 'TSP_ERR_CONFIG_VALUE', `invalid code "${last.value.slice(1)}"`, last.loc); return; }
      }
      const draft = scope.location ?? scope.server!;
      draft.tryFiles = { files: d.args.slice(0, -1).map((a) => a.value), fallback: last.value, loc: d.loc };
    },
  },
  {
    name: 'internal', contexts: ['location'], args: [0, 0], syntax: 'internal;',
    summary: 'Only internal requests (error_page, try_files, index, rewrite, named locations, auth_request subrequests) reach this location; others get 404.',
    apply(scope) { scope.location!.internal = true; },
  },
];

/** A level's FileSettings: the parent's, with this level's own values over them (the parent's object when none). */
export function mergeFiles(base: FileSettings | undefined, own: Partial<Record<string, unknown>> & {
  defaultType?: string; mimeTypes?: FileSettings['types']; etag?: boolean; expires?: FileSettings['expires'];
  ifModifiedSince?: FileSettings['ifModifiedSince']; autoindex?: boolean; autoindexFormat?: FileSettings['autoindexFormat'];
  autoindexExactSize?: boolean; autoindexLocaltime?: boolean; alias?: boolean; root?: string; logNotFound?: boolean;
}): FileSettings | undefined {
  const b = base ?? DEFAULT_FILES;
  // `root` at this level ends an inherited alias (they share one slot).
  const alias = own.alias ?? (own.root !== undefined ? false : b.alias);
  if (own.defaultType === undefined && own.mimeTypes === undefined && own.etag === undefined && own.expires === undefined
    && own.ifModifiedSince === undefined && own.autoindex === undefined && own.autoindexFormat === undefined
    && own.autoindexExactSize === undefined && own.autoindexLocaltime === undefined && own.logNotFound === undefined && alias === b.alias) return base;
  return {
    defaultType: own.defaultType ?? b.defaultType,
    types: own.mimeTypes === undefined ? b.types : own.mimeTypes,
    etag: own.etag ?? b.etag,
    expires: own.expires === undefined ? b.expires : own.expires,
    ifModifiedSince: own.ifModifiedSince ?? b.ifModifiedSince,
    autoindex: own.autoindex ?? b.autoindex,
    autoindexFormat: own.autoindexFormat ?? b.autoindexFormat,
    autoindexExactSize: own.autoindexExactSize ?? b.autoindexExactSize,
    autoindexLocaltime: own.autoindexLocaltime ?? b.autoindexLocaltime,
    alias,
    logNotFound: own.logNotFound ?? b.logNotFound,
  };
}
