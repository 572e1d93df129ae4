/**
 * The rest of a stock nginx config (Debian's nginx.conf, sites-available/default, snippets,
 * proxy_params): directives tsproxy accepts with nginx's checks of arity, context
 * and value, and that have no effect here (`-t` prints a notice for each, `-q` silences it).
 * Messages are nginx 1.22's (checked with ask-nginx; test/config/stock.test.ts).
 */
import type { Directive } from '../ast.js';
import { parseDuration, parseNumber, parseSize } from '../units.js';
import {
  err, flag, invalidParameter, noEffect, size,
  type Context, type DirectiveSpec, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
const MAIN: readonly Context[] = ['main'];

/** ngx_conf_set_num_slot's message (hash sizes, worker_rlimit_nofile: numbers, no units). */
const number: ValueParser<number> = (args, d, r) => {
  const v = parseNumber(args[0]!.value);
  return v === null ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid number`, args[0]!.loc) : v;
};

/** `worker_priority number;` (negative values are the point of it). */
const signedNumber: ValueParser<number> = (args, d, r) => {
  const t = args[0]!.value;
  const v = parseNumber(t.startsWith('-') ? t.slice(1) : t);
  return v === null ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid number`, args[0]!.loc) : v;
};

/** ngx_conf_set_msec_slot's message. */
const time: ValueParser<number> = (args, d, r) => {
  const v = parseDuration(args[0]!.value, 'ms');
  return v === null ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[0]!.loc) : v;
};

/** `worker_cpu_affinity auto [mask] | mask ...`: masks of 0 and 1. */
const cpuMasks: ValueParser<true> = (args, d, r) => {
  const masks = args[0]!.value === 'auto' ? args.slice(1) : args;
  if (args[0]!.value === 'auto' && masks.length > 1) return invalidParameter(r, masks[1]!);
  for (const a of masks) {
    // nginx reads a mask from its last character (CPU 0) on, and names the first bad one it meets
    for (let i = a.value.length - 1; i >= 0; i--) {
      const c = a.value[i]!;
      if (c !== '0' && c !== '1') return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid character "${c}" in "${d.name}"`, a.loc);
    }
  }
  return true;
};

/** `thread_pool name threads=number [max_queue=number]`. */
const threadPool: ValueParser<true> = (args, _d, r) => {
  let threads = false;
  for (const a of args.slice(1)) {
    const [key, value = ''] = a.value.split('=', 2) as [string, string?];
    const n = parseNumber(value);
    if (key === 'threads') {
      if (n === null || n === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid threads value "${a.value}"`, a.loc);
      threads = true;
    } else if (key === 'max_queue') {
      if (n === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid max_queue value "${a.value}"`, a.loc);
    } else {
      return invalidParameter(r, a);
    }
  }
  return threads ? true : err(r, 'TSP_ERR_CONFIG_VALUE', `"${args[0]!.value}" must have "threads" parameter`, args[0]!.loc);
};

/** `open_file_cache off | max=N [inactive=time]`. */
const openFileCache: ValueParser<true> = (args, d, r) => {
  const bad = (a: { value: string; loc: Directive['loc'] }): undefined =>
    err(r, 'TSP_ERR_CONFIG_VALUE', `invalid "${d.name}" parameter "${a.value}"`, a.loc);
  if (args.length === 1 && args[0]!.value === 'off') return true;
  let max = false;
  for (const a of args) {
    if (a.value.startsWith('max=')) {
      const n = parseNumber(a.value.slice(4));
      if (n === null || n === 0) return bad(a);
      max = true;
    } else if (a.value.startsWith('inactive=')) {
      if (parseDuration(a.value.slice(9), 's') === null) return bad(a);
    } else {
      return bad(a);
    }
  }
  return max ? true : err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" must have the "max" parameter`, d.loc);
};

/** Smallest shared zone nginx accepts (8 pages of 4 KiB). */
const MIN_ZONE_BYTES = 8 * 4096;

/** `zone name [size]` of an upstream: shared memory in nginx, nothing to share here. */
const upstreamZone: ValueParser<true> = (args, _d, r) => {
  const s = args[1];
  if (s === undefined) return true;
  const bytes = parseSize(s.value);
  if (bytes === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid zone size "${s.value}"`, s.loc);
  if (bytes < MIN_ZONE_BYTES) return err(r, 'TSP_ERR_CONFIG_VALUE', `zone "${args[0]!.value}" is too small`, s.loc);
  return true;
};

/**
 * A flag tsproxy has only nginx's default of: that value is accepted (a notice says it changes
 * nothing), the other one is refused, saying what tsproxy does.
 */
function onlyDefault(name: string, contexts: readonly Context[], value: 'on' | 'off', summary: string, what: string): DirectiveSpec {
  const check: ValueParser<true> = (args, d, r) => {
    const v = flag(args, d, r);
    if (v === undefined) return undefined;
    if (v !== (value === 'on')) return err(r, 'TSP_ERR_CONFIG_UNSUPPORTED', `"${d.name} ${args[0]!.value}" is not supported by tsproxy (${what})`, args[0]!.loc);
    return true;
  };
  return { ...noEffect(name, contexts, [1, 1], summary, `${name} on | off;`, check), note: `Only \`${value}\`, nginx's default, is accepted: ${what}.` };
}

export const STOCK_DIRECTIVES: readonly DirectiveSpec[] = [
  // main
  { ...noEffect('load_module', MAIN, [1, 1], 'Load a dynamic nginx module.', 'load_module file;'), multiple: true, note: 'Accepted so nginx configs load; no effect: tsproxy has no dynamic modules (the stream module is built in). The file is not opened.' },
  noEffect('worker_rlimit_nofile', MAIN, [1, 1], 'Open-files limit (RLIMIT_NOFILE) of worker processes.', 'worker_rlimit_nofile number;', number),
  noEffect('worker_rlimit_core', MAIN, [1, 1], 'Core-file size limit of worker processes.', 'worker_rlimit_core size;'),
  noEffect('worker_cpu_affinity', MAIN, [1, Infinity], 'Bind worker processes to CPUs.', 'worker_cpu_affinity cpumask ... | auto [cpumask];', cpuMasks),
  noEffect('worker_priority', MAIN, [1, 1], 'Scheduling priority of worker processes.', 'worker_priority number;', signedNumber),
  noEffect('pcre_jit', MAIN, [1, 1], 'JIT-compile regular expressions.', 'pcre_jit on | off;'),
  { ...noEffect('env', MAIN, [1, 1], 'Environment variable kept for (or set in) worker processes.', 'env variable[=value];'), multiple: true, note: 'Accepted; no effect: workers inherit the whole environment.' },
  noEffect('timer_resolution', MAIN, [1, 1], 'Timer resolution of worker processes.', 'timer_resolution interval;', time),
  noEffect('working_directory', MAIN, [1, 1], 'Working directory of worker processes.', 'working_directory directory;'),
  noEffect('lock_file', MAIN, [1, 1], 'Prefix of the accept mutex lock file.', 'lock_file file;'),
  { ...noEffect('thread_pool', MAIN, [2, 3], 'A pool of threads for file I/O.', 'thread_pool name threads=number [max_queue=number];', threadPool), multiple: true },
  noEffect('ssl_engine', MAIN, [1, 1], 'OpenSSL hardware engine.', 'ssl_engine device;'),
  // events
  noEffect('accept_mutex', ['events'], [1, 1], 'Workers accept new connections in turn.', 'accept_mutex on | off;'),
  noEffect('accept_mutex_delay', ['events'], [1, 1], 'Wait before accepting again when another worker accepts.', 'accept_mutex_delay time;', time),
  noEffect('worker_aio_requests', ['events'], [1, 1], 'Outstanding aio operations per worker.', 'worker_aio_requests number;', number),
  { ...noEffect('debug_connection', ['events'], [1, 1], 'Debug log for selected clients.', 'debug_connection address | CIDR | unix:;'), multiple: true },
  // http
  noEffect('types_hash_bucket_size', LOC3, [1, 1], 'Bucket size of the MIME types hash.', 'types_hash_bucket_size size;', number),
  noEffect('variables_hash_max_size', ['http'], [1, 1], 'Size of the variables hash.', 'variables_hash_max_size size;', number),
  noEffect('variables_hash_bucket_size', ['http'], [1, 1], 'Bucket size of the variables hash.', 'variables_hash_bucket_size size;', number),
  noEffect('map_hash_max_size', ['http', 'stream'], [1, 1], 'Size of the map hashes.', 'map_hash_max_size size;', number),
  noEffect('map_hash_bucket_size', ['http', 'stream'], [1, 1], 'Bucket size of the map hashes.', 'map_hash_bucket_size size;', number),
  noEffect('proxy_headers_hash_max_size', LOC3, [1, 1], 'Size of the proxied headers hash.', 'proxy_headers_hash_max_size size;', number),
  noEffect('proxy_headers_hash_bucket_size', LOC3, [1, 1], 'Bucket size of the proxied headers hash.', 'proxy_headers_hash_bucket_size size;', number),
  noEffect('open_file_cache', LOC3, [1, 2], 'Cache of open file descriptors.', 'open_file_cache off | max=N [inactive=time];', openFileCache),
  noEffect('open_file_cache_valid', LOC3, [1, 1], 'How often open_file_cache entries are validated.', 'open_file_cache_valid time;', time),
  noEffect('open_file_cache_min_uses', LOC3, [1, 1], 'Uses that keep a descriptor open in open_file_cache.', 'open_file_cache_min_uses number;', number),
  noEffect('open_file_cache_errors', LOC3, [1, 1], 'Cache file lookup errors in open_file_cache.', 'open_file_cache_errors on | off;'),
  noEffect('log_subrequest', LOC3, [1, 1], 'Log subrequests in the access log.', 'log_subrequest on | off;'),
  noEffect('charset', LOC3, [1, 1], 'Charset added to the Content-Type of responses.', 'charset charset | off;'),
  noEffect('source_charset', LOC3, [1, 1], 'Source charset of responses.', 'source_charset charset;'),
  noEffect('override_charset', LOC3, [1, 1], 'Recode proxied responses.', 'override_charset on | off;'),
  noEffect('sendfile_max_chunk', LOC3, [1, 1], 'Largest chunk one sendfile() call sends.', 'sendfile_max_chunk size;'),
  noEffect('aio', LOC3, [1, 1], 'Asynchronous file I/O.', 'aio on | off | threads[=pool];'),
  noEffect('directio', LOC3, [1, 1], 'O_DIRECT for large files.', 'directio size | off;'),
  noEffect('postpone_output', LOC3, [1, 1], 'Least data to send in one write.', 'postpone_output size;', size),
  noEffect('send_lowat', LOC3, [1, 1], 'SO_SNDLOWAT of client connections.', 'send_lowat size;', size),
  onlyDefault('server_name_in_redirect', LOC3, 'off', 'Use the server\'s primary name in redirects.', 'redirects name the Host of the request'),
  onlyDefault('port_in_redirect', LOC3, 'on', 'Name the port in redirects.', 'redirects name the port the request came to, unless it is the scheme\'s default'),
  onlyDefault('absolute_redirect', LOC3, 'on', 'Absolute URLs in redirects.', 'redirects tsproxy makes carry scheme://host[:port]'),
  noEffect('msie_padding', LOC3, [1, 1], 'Pad error pages for MSIE.', 'msie_padding on | off;'),
  // upstream (http and stream)
  noEffect('zone', ['upstream', 'stream_upstream'], [1, 2], 'Shared memory zone of the group\'s state across workers.', 'zone name [size];', upstreamZone),
];
