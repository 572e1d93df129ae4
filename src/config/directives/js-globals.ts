/**
 * The directives of njs's globals: ngx.fetch's settings (js_fetch_*; tsproxy reads them in
 * http {} and stream {} only, not per server or location: ngx.fetch is a global, and a script's
 * promise continuations do not know their request), ngx.shared's zones (js_shared_dict_zone:
 * http {} and stream {} each have their own, as njs) and js_periodic.
 */
import type { Directive } from '../ast.js';
import type { JsFetchConfig } from '../js-types.js';
import { parseDuration, parseFlag, parseSize } from '../units.js';
import { err, resolvePath, type DirectiveSpec, type Scope } from './scope.js';
import { functionRef, jsDraft, namedFile } from './js.js';

function setFetch(scope: Scope, d: Directive, value: Partial<JsFetchConfig> | null): void {
  if (value === null) {
    err(scope.state.report, 'TSP_ERR_CONFIG_VALUE', `invalid value "${d.args[0]!.value}" in "${d.name}" directive`, d.args[0]!.loc);
    return;
  }
  const js = jsDraft(scope);
  if (js !== null) js.fetch = { ...js.fetch, ...value };
}

const NOTE = 'In http {} and stream {} (njs: server and location too); a stream script\'s ngx.fetch uses stream {}\'s settings while it runs synchronously, http {}\'s (when it has scripts) after an await.';

export const JS_FETCH_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'js_fetch_timeout', contexts: ['http', 'stream'], args: [1, 1], syntax: 'js_fetch_timeout time;',
    summary: 'How long ngx.fetch waits between two reads or writes (default 60s): past it the Promise rejects with "read timed out".', note: NOTE,
    apply(scope, d) {
      const ms = parseDuration(d.args[0]!.value, 's');
      setFetch(scope, d, ms === null ? null : { timeoutMs: ms });
    },
  },
  {
    name: 'js_fetch_buffer_size', contexts: ['http', 'stream'], args: [1, 1], syntax: 'js_fetch_buffer_size size;',
    summary: 'The longest response head ngx.fetch reads (default 16k).', note: NOTE,
    apply(scope, d) {
      const n = parseSize(d.args[0]!.value);
      setFetch(scope, d, n === null ? null : { bufferBytes: n });
    },
  },
  {
    name: 'js_fetch_max_response_buffer_size', contexts: ['http', 'stream'], args: [1, 1], syntax: 'js_fetch_max_response_buffer_size size;',
    summary: 'The largest response body ngx.fetch keeps (default 1m); a larger one rejects (njs: "prematurely closed connection").', note: NOTE,
    apply(scope, d) {
      const n = parseSize(d.args[0]!.value);
      setFetch(scope, d, n === null ? null : { maxResponseBytes: n });
    },
  },
  {
    name: 'js_fetch_verify', contexts: ['http', 'stream'], args: [1, 1], syntax: 'js_fetch_verify on | off;',
    summary: 'Whether ngx.fetch checks an HTTPS server\'s certificate and name (default on).', note: NOTE,
    apply(scope, d) {
      const on = parseFlag(d.args[0]!.value);
      setFetch(scope, d, on === null ? null : { verify: on });
    },
  },
  {
    name: 'js_fetch_trusted_certificate', contexts: ['http', 'stream'], args: [1, 1], syntax: 'js_fetch_trusted_certificate file;',
    summary: 'The CA certificates (PEM) ngx.fetch checks HTTPS servers against (default: the system\'s).', note: `${NOTE} Relative paths resolve against the prefix.`,
    apply(scope, d) {
      setFetch(scope, d, { trustedCertificatePath: resolvePath(scope.state.prefix, d.args[0]!.value) });
    },
  },
];

/** `zone=name:size` of js_shared_dict_zone. */
const ZONE = /^zone=([^:]+):(.+)$/;
/** Smallest zone (njs: a zone needs room for its slab pages). */
const MIN_ZONE_BYTES = 8192;

export const JS_SHARED_DICT_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'js_shared_dict_zone', contexts: ['http', 'stream'], args: [1, 5], multiple: true,
    syntax: 'js_shared_dict_zone zone=name:size [timeout=time] [type=string|number] [evict] [state=file];',
    summary: 'A key/value dict scripts reach as `ngx.shared.name` (get, set, add, replace, incr, delete, pop, has, keys, items, size, freeSpace, clear): one zone across worker processes.',
    note: 'In http {} and stream {}: a zone name may be used in one of them only (njs keeps the two apart; tsproxy\'s ngx.shared holds both areas\' zones). Entries expire after `timeout=` (default: never); a full zone throws SharedMemoryError on a write, or with `evict` drops its least recently written entries. The primary process keeps the zone; each operation of a worker is a synchronous round trip to it. Entries survive a reload (unless the zone\'s type changes); with `state=file` (relative: to the prefix) they are kept in that JSON file and read back at start (written half a second after a change, and at exit).',
    apply(scope, d) {
      const r = scope.state.report;
      const m = ZONE.exec(d.args[0]!.value);
      const sizeBytes = m === null ? null : parseSize(m[2]!);
      if (m === null || sizeBytes === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid zone "${d.args[0]!.value}"`, d.args[0]!.loc);
      if (sizeBytes < MIN_ZONE_BYTES) return err(r, 'TSP_ERR_CONFIG_VALUE', `zone "${m[1]}" is too small`, d.args[0]!.loc);
      let timeoutMs = 0;
      let evict = false;
      let type: 'string' | 'number' = 'string';
      let statePath: string | null = null;
      for (const a of d.args.slice(1)) {
        if (a.value === 'evict') evict = true;
        else if (a.value.startsWith('state=') && a.value.length > 6) statePath = resolvePath(scope.state.prefix, a.value.slice(6));
        else if (a.value === 'type=string' || a.value === 'type=number') type = a.value === 'type=string' ? 'string' : 'number';
        else if (a.value.startsWith('timeout=')) {
          const ms = parseDuration(a.value.slice(8), 's');
          if (ms === null || ms <= 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid timeout value "${a.value.slice(8)}"`, a.loc);
          timeoutMs = ms;
        } else return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${a.value}"`, a.loc);
      }
      const js = jsDraft(scope);
      if (js === null) return;
      if (js.sharedZones.some((z) => z.name === m[1])) return err(r, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate zone "${m[1]}"`, d.args[0]!.loc);
      // One ngx.shared holds both areas' zones (a global does not know which area runs it).
      const other = js === scope.state.http?.js ? scope.state.stream?.js : scope.state.http?.js;
      if (other?.sharedZones.some((z) => z.name === m[1]) === true) {
        return err(r, 'TSP_ERR_CONFIG_DUPLICATE', `zone "${m[1]}" is already a js_shared_dict_zone of ${js === scope.state.http?.js ? 'stream' : 'http'} {}`, d.args[0]!.loc);
      }
      js.sharedZones.push({ name: m[1]!, sizeBytes, timeoutMs, evict, type, statePath });
    },
  },
];

/** njs's names scripts use already: a preload object may not hide them. */
const TAKEN_GLOBALS = new Set(['ngx', 'njs', 'Buffer', 'process', 'globalThis', 'console', 'crypto']);

function workerMask(text: string): readonly number[] | null | undefined {
  if (text === 'all') return null;
  if (!/^[01]+$/.test(text)) return undefined;
  // As nginx's CPU masks: the rightmost digit is worker 0.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) if (text[text.length - 1 - i] === '1') out.push(i);
  return out;
}

export const JS_MORE_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'js_preload_object', contexts: ['http'], args: [1, 3], multiple: true, syntax: 'js_preload_object [name from] file.json;',
    summary: 'Read a JSON file when the config loads; scripts see it as the global `name` (default: the file name without extension), frozen.',
    note: 'In http {} only (njs: server and location too); a file that does not parse fails the config (and `-t`) with its position.',
    apply(scope, d) {
      const r = scope.state.report;
      const a = d.args;
      const named = namedFile(d, r);
      if (named === undefined) return;
      const { name, file } = named;
      if (/^[0-9]/.test(name)) return err(r, 'TSP_ERR_CONFIG_VALUE', `cannot start with "${name[0]}" in global name "${name}"`, a[0]!.loc);
      if (!/^[A-Za-z_$][\w$]*$/.test(name)) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid global name "${name}"`, a[0]!.loc);
      if (TAKEN_GLOBALS.has(name)) return err(r, 'TSP_ERR_CONFIG_VALUE', `global name "${name}" is taken`, a[0]!.loc);
      const js = jsDraft(scope);
      if (js === null) return;
      if (js.preloads.some((p) => p.name === name)) return err(r, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate js_preload_object name "${name}"`, a[0]!.loc);
      js.preloads.push({ name, path: file.value, loc: file.loc });
    },
  },
  {
    name: 'js_periodic', contexts: ['location', 'stream_server'], args: [1, 4], multiple: true,
    syntax: 'js_periodic module.function [interval=time] [jitter=time] [worker_affinity=all|mask];',
    summary: 'Run the function every `interval` (default 5s) in the worker processes `worker_affinity` names (default: worker 0 only; `all`, or a mask such as `0101` whose rightmost digit is worker 0), each run delayed by up to `jitter`.',
    note: 'In a location (http) or a server (stream), as njs. The function gets an object with `variables` / `rawVariables` (empty: there is no request) and may be async: a run that has not finished skips the next. A throw or rejection is logged ("js exception"). The timers start when the config serves and stop when a reload replaces it.',
    apply(scope, d) {
      const r = scope.state.report;
      const ref = functionRef(d.args[0]!, r);
      let intervalMs = 5000;
      let jitterMs = 0;
      let workers: readonly number[] | null = [0];
      for (const a of d.args.slice(1)) {
        const eq = a.value.indexOf('=');
        const key = eq < 0 ? a.value : a.value.slice(0, eq);
        const value = a.value.slice(eq + 1);
        if (key === 'interval' || key === 'jitter') {
          const ms = parseDuration(value, key === 'jitter' ? 'ms' : 's');
          if (ms === null || (key === 'interval' && ms <= 0)) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid ${key} value "${value}"`, a.loc);
          if (key === 'interval') intervalMs = ms;
          else jitterMs = ms;
        } else if (key === 'worker_affinity') {
          const mask = workerMask(value);
          if (mask === undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid worker_affinity value "${value}"`, a.loc);
          workers = mask;
        } else return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${a.value}"`, a.loc);
      }
      const js = jsDraft(scope);
      if (js === null || ref === undefined) return;
      js.periodics.push({ ref, intervalMs, jitterMs, workers });
    },
  },
];
