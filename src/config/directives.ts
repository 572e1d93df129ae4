/**
 * The directive table: the only place that knows directive names (nginx's ngx_command_t).
 * The specs live per area in ./directives/; this module joins them and indexes them by name.
 */
import { HTTP_DIRECTIVES } from './directives/http.js';
import { HTTP2_DIRECTIVES } from './directives/http2.js';
import { CLIENT_KEEPALIVE_DIRECTIVES } from './directives/client-keepalive.js';
import { HTTP_CLIENT_DIRECTIVES } from './directives/http-client.js';
import { CLIENT_BODY_DIRECTIVES } from './directives/client-body.js';
import { LIMIT_DIRECTIVES, STUB_STATUS_DIRECTIVES } from './directives/limits.js';
import { MAIN_DIRECTIVES } from './directives/main.js';
import { FILE_DIRECTIVES } from './directives/files.js';
import { REWRITE_DIRECTIVES } from './directives/rewrite.js';
import { RATE_DIRECTIVES } from './directives/rate.js';
import { GZIP_DIRECTIVES } from './directives/gzip.js';
import { SUB_FILTER_DIRECTIVES } from './directives/sub-filter.js';
import { TsproxyError } from '../errors.js';
import type { Context, DirectiveSpec, SettingKind } from './directives/scope.js';
import type { OwnSettings, SettingsOf } from './directives/settings.js';
import { SSL_DIRECTIVES } from './directives/ssl.js';
import { SSL_SESSION_DIRECTIVES } from './directives/ssl-sessions.js';
import { STOCK_DIRECTIVES } from './directives/stock.js';
import { FASTCGI_DIRECTIVES } from './directives/fastcgi.js';
import { VARIABLE_MODULE_DIRECTIVES } from './directives/variable-modules.js';
import { STREAM_DIRECTIVES } from './directives/stream.js';
import { ACCESS_DIRECTIVES } from './directives/access.js';
import { UPSTREAM_DIRECTIVES } from './directives/upstream.js';
import { RESOLVER_DIRECTIVES } from './directives/resolver.js';
import { REDIS_DIRECTIVES } from './directives/redis.js';
import { JS_DIRECTIVES } from './directives/js.js';
import { JS_FETCH_DIRECTIVES, JS_MORE_DIRECTIVES, JS_SHARED_DICT_DIRECTIVES } from './directives/js-globals.js';
import { CACHE_DIRECTIVES } from './directives/cache.js';

export type { Context, DirectiveSpec, SettingKind } from './directives/scope.js';

export const DIRECTIVES: readonly DirectiveSpec[] = [
  ...MAIN_DIRECTIVES,
  ...HTTP_DIRECTIVES,
  ...HTTP_CLIENT_DIRECTIVES,
  ...CLIENT_BODY_DIRECTIVES,
  ...UPSTREAM_DIRECTIVES,
  ...STREAM_DIRECTIVES,
  ...ACCESS_DIRECTIVES,
  ...SSL_DIRECTIVES,
  ...SSL_SESSION_DIRECTIVES,
  ...HTTP2_DIRECTIVES,
  ...CLIENT_KEEPALIVE_DIRECTIVES,
  ...STOCK_DIRECTIVES,
  ...FASTCGI_DIRECTIVES,
  ...JS_DIRECTIVES,
  ...JS_FETCH_DIRECTIVES,
  ...JS_SHARED_DICT_DIRECTIVES,
  ...JS_MORE_DIRECTIVES,
  ...VARIABLE_MODULE_DIRECTIVES,
  ...FILE_DIRECTIVES,
  ...REWRITE_DIRECTIVES,
  ...RATE_DIRECTIVES,
  ...LIMIT_DIRECTIVES,
  ...STUB_STATUS_DIRECTIVES,
  ...GZIP_DIRECTIVES,
  ...SUB_FILTER_DIRECTIVES,
  ...RESOLVER_DIRECTIVES,
  ...CACHE_DIRECTIVES,
  ...REDIS_DIRECTIVES,
];

/** Specs by name; a name may have one spec per context family (`server`, `listen`, `proxy_pass`...). */
export const DIRECTIVES_BY_NAME: ReadonlyMap<string, readonly DirectiveSpec[]> = (() => {
  const m = new Map<string, DirectiveSpec[]>();
  for (const spec of DIRECTIVES) {
    const list = m.get(spec.name) ?? [];
    if (list.some((s) => s.contexts.some((c) => spec.contexts.includes(c)))) {
      throw new TsproxyError('TSP_ERR_INTERNAL', `directive table: "${spec.name}" has two specs for one context`);
    }
    list.push(spec);
    m.set(spec.name, list);
  }
  return m;
})();

/** The spec of `name` allowed in `context`, null when the name is known but not allowed there, undefined when unknown. */
export function findDirective(name: string, context: Context): DirectiveSpec | null | undefined {
  // Answers are kept per context: a big config asks the same few (name, context) pairs once per
  // statement, and the search below walks specs and their context lists.
  let known = FOUND.get(context);
  if (known === undefined) FOUND.set(context, (known = new Map()));
  const hit = known.get(name);
  if (hit !== undefined) return hit;
  const specs = DIRECTIVES_BY_NAME.get(name);
  const spec = specs === undefined ? undefined : (specs.find((s) => s.contexts.includes(context)) ?? null);
  // Unknown names are not kept (a file of random words would grow the map without bound). The
  // key is the table's own string: `name` is a slice of the config's text, and kept here it
  // kept that whole text (4 MB for 10,000 servers) for the life of the process.
  if (spec !== undefined) known.set(specs![0]!.name, spec);
  return spec;
}
const FOUND = new Map<Context, Map<string, DirectiveSpec | null>>();

/** The table's defaults of every inherited setting, by kind (the first spec of a field gives it). */
const DEFAULTS: OwnSettings = {};
for (const spec of DIRECTIVES) spec.setting?.seed(DEFAULTS);

/**
 * Default values of every inherited setting of one kind, from the table's `default`s: a new
 * object per call (callers merge into it). The one place a draft is taken as complete: every
 * field of settings.ts has a spec, and test/config/directives.test.ts checks that a config
 * setting nothing assembles without an undefined value.
 */
export function settingDefaults<K extends SettingKind>(kind: K): SettingsOf<K> {
  return { ...DEFAULTS[kind] } as SettingsOf<K>;
}

/** Names the table knows, for "did you mean" suggestions and the missing ";" warning. */
export const DIRECTIVE_NAMES: readonly string[] = [...DIRECTIVES_BY_NAME.keys()];
