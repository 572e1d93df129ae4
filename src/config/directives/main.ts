/** main and events context directives, and the http/stream/tcp blocks that open the other trees. */
import type { ErrorLogConfig, LogLevel } from '../types.js';
import { parseNumber } from '../units.js';
import {
  childScope, err, flag, listSetting, member, noEffect, positive, resolvePath, seconds, setting,
  type BuildState, type DirectiveSpec, type Scope, type ValueParser,
} from './scope.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'];

export function ensureHttp(state: BuildState): Scope {
  state.http ??= { upstreams: [], upstreamsByName: new Map(), servers: [], logFormats: [], maps: [], geo: [], splitClients: [], scope: childScope(state.mainScope, 'http') };
  return state.http.scope;
}

export function ensureStream(state: BuildState): Scope {
  state.stream ??= { upstreams: [], upstreamsByName: new Map(), servers: [], logFormats: [], maps: [], geo: [], splitClients: [], scope: childScope(state.mainScope, 'stream') };
  return state.stream.scope;
}

/**
 * `error_log file [level] [json]`; the path is resolved when the table is applied (needs the
 * prefix). `json` (tsproxy) writes pino's JSON lines instead of nginx's text layout.
 */
const errorLog: ValueParser<ErrorLogConfig> = (args, d, r) => {
  let level: LogLevel = 'error';
  let format: ErrorLogConfig['format'] = 'text';
  for (const a of args.slice(1)) {
    const l = a === args[1] ? member(LEVELS, a.value) : undefined;
    if (a.value === 'json' && format === 'text') format = 'json';
    else if (l !== undefined) level = l;
    else return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid log level "${a.value}"`, a.loc);
  }
  return { target: args[0]!.value, level, format, loc: d.loc };
};

const workerProcesses: ValueParser<number | 'auto'> = (args, d, r) => {
  if (args[0]!.value === 'auto') return 'auto';
  const n = parseNumber(args[0]!.value);
  return n === null || n === 0 ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[0]!.loc) : n;
};

export const MAIN_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    name: 'worker_processes', contexts: ['main'], kind: 'main', field: 'workerProcesses', parse: workerProcesses,
    default: '1', syntax: 'worker_processes number | auto;', summary: 'Number of worker processes (`auto`: one per CPU).',
  }),
  setting({
    name: 'worker_shutdown_timeout', contexts: ['main'], kind: 'main', field: 'workerShutdownTimeoutMs', parse: seconds,
    initial: 0, syntax: 'worker_shutdown_timeout time;', summary: 'Deadline for a graceful stop; 0 (unset) waits for every connection.',
  }),
  setting({
    name: 'pid', contexts: ['main'], kind: 'main', field: 'pid',
    parse: (args) => (args[0]!.value === 'off' ? null : args[0]!.value),
    default: 'logs/tsproxy.pid', syntax: 'pid file | off;',
    summary: 'File the master process id is written to, after every listener is bound.',
    note: '`pid off` writes no pid file. Relative paths are resolved against the prefix.',
  }),
  listSetting({
    name: 'error_log', contexts: ['main'], kind: 'main', field: 'errorLogs', parse: errorLog, args: [1, 3],
    default: 'stderr notice',
    syntax: 'error_log file | stderr [level] [json];', summary: 'Where and from which level the error log is written (several may be given).',
    note: 'Default is `stderr notice`, or the `-e` file (nginx: `logs/error.log error`). Lines use nginx\'s layout; `json` writes JSON lines instead. Follows reloads.',
  }),
  setting({
    name: 'daemon', contexts: ['main'], kind: 'main', field: 'daemon', parse: flag, default: 'off',
    syntax: 'daemon on | off;', summary: 'Whether to detach from the terminal.', note: 'Default off: tsproxy runs in the foreground.',
  }),
  setting({
    name: 'user', contexts: ['main'], kind: 'main', field: 'user', args: [1, 2], initial: null,
    parse: (args) => ({ user: args[0]!.value, group: args[1]?.value ?? null }),
    syntax: 'user user [group];', summary: 'User (and group) the workers run as; unset keeps the current user.',
  }),
  setting({
    name: 'watch', contexts: ['main'], kind: 'main', field: 'watch', parse: flag, default: 'on',
    syntax: 'watch on | off;', summary: 'Reload when a config file changes.', note: 'tsproxy only.',
  }),
  setting({
    name: 'stream_close_delay', contexts: ['main'], kind: 'main', field: 'streamCloseDelayMs', parse: seconds, default: '10s',
    syntax: 'stream_close_delay time;', summary: 'How long WebSocket/TCP tunnels whose route vanished on reload may live on.',
    note: 'tsproxy only.',
  }),
  {
    name: 'events', contexts: ['main'], args: [0, 0], block: 'events', syntax: 'events { ... }',
    summary: 'Connection processing settings.',
    // events settings are main settings: share the object so assembly finds them.
    apply: (scope) => childScope(scope, 'events', scope.settings),
  },
  setting({
    name: 'worker_connections', contexts: ['events'], kind: 'main', field: 'workerConnections', parse: positive,
    default: '1024', syntax: 'worker_connections number;', summary: 'Maximum simultaneous connections per worker.',
  }),
  noEffect('use', ['events'], [1, 1], 'Connection processing method.', 'use method;'),
  noEffect('multi_accept', ['events'], [1, 1], 'Accept several connections at once.', 'multi_accept on | off;'),
  {
    name: 'http', contexts: ['main'], args: [0, 0], block: 'http', syntax: 'http { ... }',
    summary: 'HTTP server settings. A top-level `server {}` is taken as if inside `http {}`.',
    apply: (scope) => ensureHttp(scope.state),
  },
  {
    name: 'stream', contexts: ['main'], args: [0, 0], block: 'stream', multiple: true, syntax: 'stream { ... }',
    summary: 'TCP proxy settings (nginx stream module).', note: 'Several `stream {}` and `tcp {}` blocks merge into one.',
    apply: (scope) => ensureStream(scope.state),
  },
  {
    name: 'tcp', contexts: ['main'], args: [0, 0], block: 'stream', multiple: true, syntax: 'tcp { ... }',
    summary: 'TCP proxy settings (nginx_tcp_proxy_module syntax); same as `stream {}`.',
    note: 'Several `stream {}` and `tcp {}` blocks merge into one.', apply: (scope) => ensureStream(scope.state),
  },
];

export function resolveErrorLogs(prefix: string, logs: readonly ErrorLogConfig[]): ErrorLogConfig[] {
  return logs.map((l) => ({ ...l, target: resolvePath(prefix, l.target) }));
}
