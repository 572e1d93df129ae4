/**
 * proxy_cache (nginx's ngx_http_file_cache + the proxy module's cache directives): the zones
 * (proxy_cache_path, http only), and what a location caches. Values and nginx 1.22's -t messages
 * (checked with ask-nginx); assembled by cache-build.ts, served by http/cache/.
 */
import type { Arg } from '../ast.js';
import type { CacheValidRule, CacheZoneConfig } from '../cache-types.js';
import { parseDuration, parseFlag, parseNumber, parseSize } from '../units.js';
import {
  count, err, flag, invalidParameter, listSetting, seconds, setting, size, type Context, type DirectiveSpec, type Reporter, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
/** nginx refuses a keys zone smaller than two pages. */
const MIN_KEYS_ZONE_BYTES = 2 * 4096;

function paramError(r: Reporter, a: Arg, what: string): undefined {
  return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid ${what} value "${a.value}"`, a.loc);
}

/** `levels=1:2`: up to three levels of one or two hex digits each (nginx). */
function levelsArg(a: Arg, r: Reporter): number[] | undefined {
  const parts = a.value.slice('levels='.length).split(':');
  if (parts.length > 3 || parts.some((p) => p !== '1' && p !== '2')) {
    return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid "levels" "${a.value}"`, a.loc);
  }
  return parts.map(Number);
}

/** Parameters with a value after `name=`: what each must parse as. */
const TIME_PARAMS = new Set(['inactive', 'loader_sleep', 'loader_threshold', 'manager_sleep', 'manager_threshold']);
const COUNT_PARAMS = new Set(['loader_files', 'manager_files']);
const SIZE_PARAMS = new Set(['max_size', 'min_free']);

const cachePath: ValueParser<CacheZoneConfig> = (args, d, r) => {
  let levels: number[] = [];
  let zone: { name: string; bytes: number } | null = null;
  let inactiveMs = 10 * 60_000;
  let maxSizeBytes = 0;
  let minFreeBytes = 0;
  let useTempPath = true;
  for (const a of args.slice(1)) {
    const eq = a.value.indexOf('=');
    const name = eq < 0 ? a.value : a.value.slice(0, eq);
    const value = a.value.slice(eq + 1);
    if (eq < 0) return invalidParameter(r, a);
    if (name === 'levels') {
      const l = levelsArg(a, r);
      if (l === undefined) return undefined;
      levels = l;
    } else if (name === 'keys_zone') {
      const colon = value.indexOf(':');
      const bytes = colon < 0 ? null : parseSize(value.slice(colon + 1));
      if (colon <= 0 || bytes === null || bytes === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid keys zone size "${a.value}"`, a.loc);
      if (bytes < MIN_KEYS_ZONE_BYTES) return err(r, 'TSP_ERR_CONFIG_VALUE', `keys zone "${value.slice(0, colon)}" is too small`, a.loc);
      zone = { name: value.slice(0, colon), bytes };
    } else if (TIME_PARAMS.has(name)) {
      const ms = parseDuration(value, 's');
      if (ms === null) return paramError(r, a, name);
      if (name === 'inactive') inactiveMs = ms;
    } else if (SIZE_PARAMS.has(name)) {
      const n = parseSize(value);
      if (n === null) return paramError(r, a, name);
      if (name === 'max_size') maxSizeBytes = n;
      else minFreeBytes = n;
    } else if (COUNT_PARAMS.has(name)) {
      // nginx takes 0 (and then does at least one file per pass).
      if (parseNumber(value) === null) return paramError(r, a, name);
    } else if (name === 'use_temp_path') {
      const f = parseFlag(value);
      if (f === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid use_temp_path value "${a.value}", it must be "on" or "off"`, a.loc);
      useTempPath = f;
    } else return invalidParameter(r, a);
  }
  if (zone === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" must have "keys_zone" parameter`, d.loc);
  return {
    name: zone.name, path: args[0]!.value, levels, keysZoneBytes: zone.bytes, inactiveMs, maxSizeBytes, minFreeBytes, useTempPath, loc: d.loc,
  };
};

/** `proxy_cache zone | off`: the zone and where it was named (for the unknown-zone error). */
const cacheZone: ValueParser<{ readonly name: string; readonly loc: Arg['loc'] } | null> = (args) =>
  args[0]!.value === 'off' ? null : { name: args[0]!.value, loc: args[0]!.loc };

/** `proxy_cache_valid [code ...|any] time`: no code means 200 301 302 (nginx). */
const cacheValid: ValueParser<CacheValidRule> = (args, d, r) => {
  const last = args[args.length - 1]!;
  const ms = parseDuration(last.value, 's');
  if (ms === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid time value "${last.value}"`, last.loc);
  if (args.length === 1) return { statuses: [200, 301, 302], ms };
  const statuses: number[] = [];
  for (const a of args.slice(0, -1)) {
    if (a.value === 'any') {
      statuses.push(0);
      continue;
    }
    const n = parseNumber(a.value);
    if (n === null || n < 100 || n > 599) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid status "${a.value}"`, a.loc);
    statuses.push(n);
  }
  return { statuses, ms };
};

/** `proxy_cache_methods GET | HEAD | POST ...`: GET and HEAD are always cached (nginx's bitmask). */
const cacheMethods: ValueParser<string[]> = (args, d, r) => {
  const methods = ['GET', 'HEAD'];
  for (const a of args) {
    if (a.value !== 'GET' && a.value !== 'HEAD' && a.value !== 'POST') return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
    if (!methods.includes(a.value)) methods.push(a.value);
  }
  return methods;
};

/** proxy_cache_use_stale's conditions (nginx 1.22's bitmask names); `off` alone is none. */
const STALE_CONDITIONS = ['error', 'timeout', 'invalid_header', 'updating', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429'];

const useStale: ValueParser<string[]> = (args, d, r) => {
  const out: string[] = [];
  for (const a of args) {
    if (a.value === 'off') continue;
    if (!STALE_CONDITIONS.includes(a.value)) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
    if (!out.includes(a.value)) out.push(a.value);
  }
  return out;
};

const templates: ValueParser<string[]> = (args) => args.map((a) => a.value);

export const CACHE_DIRECTIVES: readonly DirectiveSpec[] = [
  listSetting({
    name: 'proxy_cache_path', contexts: ['http'], kind: 'http', field: 'proxyCachePaths', parse: cachePath, args: [2, Infinity],
    syntax: 'proxy_cache_path path [levels=levels] keys_zone=name:size [inactive=time] [max_size=size] [min_free=size] [use_temp_path=on|off] [manager_files=n] [manager_sleep=time] [manager_threshold=time] [loader_files=n] [loader_sleep=time] [loader_threshold=time];',
    summary: 'A cache zone: entries are files under `path` named by the md5 of their key, in `levels` directories (nginx\'s layout); they survive reloads and restarts and are shared by worker processes.',
    note: 'The file system is the index: every worker reads the entry files (no shared keys zone), and fills (proxy_cache_lock, use_stale updating) and proxy_cache_min_uses counts are files beside the entries, so a zone is one zone for every worker process. inactive, max_size and min_free (the file system\'s available space) are kept by a sweep every inactive/4 (0.2 to 10 s) in each process; the manager_*/loader_* parameters are checked as nginx checks them and have no effect (there is no loader, and a sweep is one pass); temporary files are always written beside the entries (use_temp_path is checked and has no effect).',
  }),
  setting({
    name: 'proxy_cache', contexts: LOC3, kind: 'http', field: 'proxyCache', parse: cacheZone, default: 'off',
    syntax: 'proxy_cache zone | off;', summary: 'Cache proxied responses in the zone of that name.',
    note: 'The zone name cannot hold variables.',
  }),
  setting({
    name: 'proxy_cache_key', contexts: LOC3, kind: 'http', field: 'proxyCacheKey', parse: (a) => a[0]!.value, default: '$scheme$proxy_host$request_uri', initial: null, templates: 0,
    syntax: 'proxy_cache_key string;', summary: 'The key an entry is stored under (its file is the md5 of it).',
    note: 'Unset, the key is nginx\'s built-in one, which the documented default stands for: the proxy_pass URL as written and the URI sent upstream (`http://backend/path?args`), so entry files have the names nginx gives them.',
  }),
  listSetting({
    name: 'proxy_cache_valid', contexts: LOC3, kind: 'http', field: 'proxyCacheValid', parse: cacheValid, args: [1, Infinity],
    syntax: 'proxy_cache_valid [code ...] time;', summary: 'How long responses of these statuses (`any`: all; none named: 200 301 302) stay fresh when the upstream\'s headers do not say.',
  }),
  setting({
    name: 'proxy_cache_methods', contexts: LOC3, kind: 'http', field: 'proxyCacheMethods', parse: cacheMethods, args: [1, Infinity], default: 'GET HEAD',
    syntax: 'proxy_cache_methods GET | HEAD | POST ...;', summary: 'Request methods whose responses are cached (GET and HEAD always are).',
  }),
  setting({
    name: 'proxy_cache_min_uses', contexts: LOC3, kind: 'http', field: 'proxyCacheMinUses', parse: count, default: '1',
    syntax: 'proxy_cache_min_uses number;', summary: 'A response is stored once its key was asked this many times.',
    note: 'Counted for every worker process in a file beside the entry (removed once the entry is stored, or after `inactive`).',
  }),
  listSetting({
    name: 'proxy_cache_bypass', contexts: LOC3, kind: 'http', field: 'proxyCacheBypass', parse: templates, args: [1, Infinity], templates: 'all',
    syntax: 'proxy_cache_bypass string ...;', summary: 'When any value is not empty and not "0", the response is not taken from the cache (it may be stored).',
  }),
  listSetting({
    name: 'proxy_no_cache', contexts: LOC3, kind: 'http', field: 'proxyNoCache', parse: templates, args: [1, Infinity], templates: 'all',
    syntax: 'proxy_no_cache string ...;', summary: 'When any value is not empty and not "0", the response is not stored.',
  }),
  setting({
    name: 'proxy_cache_use_stale', contexts: LOC3, kind: 'http', field: 'proxyCacheUseStale', parse: useStale, args: [1, Infinity], default: 'off',
    syntax: 'proxy_cache_use_stale error | timeout | invalid_header | updating | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | off ...;',
    summary: 'When the upstream fails this way on an expired entry, the entry answers ($upstream_cache_status STALE); `updating`: while another request fetches it again (UPDATING).',
    note: '`invalid_header` counts as `error` and `error` covers an invalid header. The Cache-Control extensions stale-while-revalidate and stale-if-error are not read.',
  }),
  setting({
    name: 'proxy_cache_lock', contexts: LOC3, kind: 'http', field: 'proxyCacheLock', parse: flag, default: 'off',
    syntax: 'proxy_cache_lock on | off;', summary: 'Concurrent misses of one key: one request goes upstream, the others wait for its entry (up to proxy_cache_lock_timeout).',
    note: 'The lock is a file beside the entry (created exclusively), so it holds across worker processes. Waiters in the process that fetches wake as soon as the entry is stored, those in other processes within 100 ms (nginx checks every 500 ms).',
  }),
  setting({
    name: 'proxy_cache_lock_timeout', contexts: LOC3, kind: 'http', field: 'proxyCacheLockTimeoutMs', parse: seconds, default: '5s',
    syntax: 'proxy_cache_lock_timeout time;', summary: 'How long a request waits for the lock; then it goes upstream, and its answer is not stored.',
  }),
  setting({
    name: 'proxy_cache_lock_age', contexts: LOC3, kind: 'http', field: 'proxyCacheLockAgeMs', parse: seconds, default: '5s',
    syntax: 'proxy_cache_lock_age time;', summary: 'A fill that has not completed in this time lets one more request go upstream.',
  }),
  setting({
    name: 'proxy_cache_revalidate', contexts: LOC3, kind: 'http', field: 'proxyCacheRevalidate', parse: flag, default: 'off',
    syntax: 'proxy_cache_revalidate on | off;', summary: 'An expired entry with Last-Modified or ETag is asked for again with If-Modified-Since / If-None-Match; a 304 makes it fresh again ($upstream_cache_status REVALIDATED).',
  }),
  setting({
    name: 'proxy_cache_background_update', contexts: LOC3, kind: 'http', field: 'proxyCacheBackgroundUpdate', parse: flag, default: 'off',
    syntax: 'proxy_cache_background_update on | off;',
    summary: 'With proxy_cache_use_stale updating, an expired entry answers at once ($upstream_cache_status STALE) while a background request fetches it again (others meanwhile: UPDATING).',
    note: 'The client\'s connection is free for its next request at once (nginx holds it until the background request ends). The background request does not revalidate (proxy_cache_revalidate) and is not logged.',
  }),
  setting({
    name: 'proxy_cache_max_range_offset', contexts: LOC3, kind: 'http', field: 'proxyCacheMaxRangeOffsetBytes', parse: size, initial: null,
    syntax: 'proxy_cache_max_range_offset number;',
    summary: 'A Range request that is not answered from an entry and starts at or past this offset (or is a suffix range) goes upstream with its Range field, and the answer is not stored.',
  }),
  setting({
    name: 'proxy_cache_convert_head', contexts: LOC3, kind: 'http', field: 'proxyCacheConvertHead', parse: flag, default: 'on',
    syntax: 'proxy_cache_convert_head on | off;', summary: 'A HEAD request that misses is sent upstream as GET, so its answer can be stored.',
  }),
];
