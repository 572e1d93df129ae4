/** upstream {} blocks (http and stream/tcp), their servers, balancing methods and health checks. */
import { isIP } from 'node:net';
import type { Arg, Directive } from '../ast.js';
import type { CheckType, HttpStatusClass, UpstreamServerConfig } from '../types.js';
import { isBareNumber, parseDuration, parseNumber, parseUpstreamAddress } from '../units.js';
import { append, NO_ITEMS } from './drafts.js';
import {
  childScope, count, err, invalidParameter, member, positive, seconds, setting,
  type CheckDraft, type Context, type DirectiveSpec, type Reporter, type Scope, type UpstreamDraft,
} from './scope.js';

const UP: readonly Context[] = ['upstream', 'stream_upstream'];

const applyUpstream = (scope: Scope, d: Directive): Scope | null => {
  const area = scope.context === 'http' ? scope.state.http! : scope.state.stream!;
  const nameArg = d.args[0]!;
  if (area.upstreamsByName.has(nameArg.value)) {
    err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate upstream "${nameArg.value}"`, nameArg.loc);
    return null;
  }
  const child = childScope(scope, scope.context === 'http' ? 'upstream' : 'stream_upstream');
  const upstream: UpstreamDraft = {
    name: nameArg.value, area: scope.context === 'http' ? 'http' : 'stream', method: { kind: 'round_robin' }, methodLoc: null,
    servers: NO_ITEMS, serverDirectives: 0, backupLoc: null, check: null, scope: child, loc: d.loc,
  };
  area.upstreams.push(upstream);
  area.upstreamsByName.set(upstream.name, upstream);
  child.upstream = upstream;
  return child;
};

function parseServer(scope: Scope, d: Directive): UpstreamServerConfig | undefined {
  const r = scope.state.report;
  const a0 = d.args[0]!;
  const addr = parseUpstreamAddress(a0.value, scope.context === 'upstream' ? 80 : null);
  if (!addr.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', addr.message, a0.loc);
  let weight = 1, maxFails = 1, failTimeoutMs = 10_000, maxConns = 0, backup = false, down = false, resolve = false;
  for (let i = 1; i < d.args.length; i++) {
    const a = d.args[i]!;
    const eq = a.value.indexOf('=');
    const key = eq < 0 ? a.value : a.value.slice(0, eq);
    const val = a.value.slice(eq + 1);
    let n: number | null = null;
    if (key === 'weight' && eq > 0 && (n = parseNumber(val)) !== null && n > 0) weight = n;
    else if (key === 'max_fails' && eq > 0 && (n = parseNumber(val)) !== null) maxFails = n;
    else if (key === 'max_conns' && eq > 0 && (n = parseNumber(val)) !== null) maxConns = n;
    else if (key === 'fail_timeout' && eq > 0 && (n = parseDuration(val, 's')) !== null) failTimeoutMs = n;
    else if (a.value === 'backup') { backup = true; scope.upstream!.backupLoc ??= a.loc; }
    else if (a.value === 'down') down = true;
    else if (a.value === 'resolve') resolve = true;
    else return invalidParameter(r, a);
  }
  const server = { address: a0.value, target: addr.value, weight, maxFails, failTimeoutMs, maxConns, backup, down, loc: d.loc };
  // `resolve` on an IP address or a unix socket has nothing to re-resolve (nginx 1.27 ignores it too)
  return resolve && addr.value.kind === 'tcp' && isIP(bareHost(addr.value.host)) === 0 ? { ...server, resolve } : server;
}

/** "[::1]" → "::1" (upstream addresses keep the brackets of IPv6). */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function setMethod(scope: Scope, d: Directive, method: UpstreamDraft['method']): void {
  const up = scope.upstream!;
  if (up.methodLoc !== null) scope.state.report.warn('TSP_ERR_CONFIG_DUPLICATE', 'load balancing method redefined', d.loc);
  up.method = method;
  up.methodLoc = d.loc;
}

const CHECK_TYPES: readonly CheckType[] = ['tcp', 'http', 'ssl_hello', 'websocket'];

/** `check` times: bare numbers are milliseconds (module rule); a bare value < 100 draws a warning. */
function checkTime(a: Arg, key: string, val: string, r: Reporter): number | undefined {
  const v = parseDuration(val, 'ms');
  if (v === null) return invalidParameter(r, a);
  if (isBareNumber(val) && v < 100) {
    r.warn('TSP_ERR_CONFIG_VALUE', `check "${key}=${val}" is in milliseconds; write "${key}=${val}s" if seconds were meant`, a.loc);
  }
  return v;
}

function applyCheck(scope: Scope, d: Directive): void {
  const r = scope.state.report;
  const c: { -readonly [K in keyof CheckDraft]: CheckDraft[K] } = { intervalMs: 30_000, rise: 2, fall: 5, timeoutMs: 1000, defaultDown: true, type: 'tcp', port: 0, loc: d.loc };
  for (const a of d.args) {
    const eq = a.value.indexOf('=');
    if (eq < 0) { invalidParameter(r, a); return; }
    const key = a.value.slice(0, eq);
    const val = a.value.slice(eq + 1);
    let n: number | null | undefined;
    switch (key) {
      case 'interval': case 'timeout':
        if ((n = checkTime(a, key, val, r)) === undefined) return;
        if (n === 0) { invalidParameter(r, a); return; }
        if (key === 'interval') c.intervalMs = n; else c.timeoutMs = n;
        break;
      case 'rise': case 'fall':
        if ((n = parseNumber(val)) === null || n === 0) { invalidParameter(r, a); return; }
        c[key] = n;
        break;
      case 'port':
        if ((n = parseNumber(val)) === null || n > 65535) { invalidParameter(r, a); return; }
        c.port = n;
        break;
      case 'default_down':
        if (val !== 'true' && val !== 'false') { invalidParameter(r, a); return; }
        c.defaultDown = val === 'true';
        break;
      case 'type': {
        const type = member(CHECK_TYPES, val);
        if (type === undefined) { invalidParameter(r, a); return; }
        c.type = type;
        break;
      }
      default:
        invalidParameter(r, a);
        return;
    }
  }
  scope.upstream!.check = c;
}

const STATUS_CLASSES: readonly HttpStatusClass[] = ['http_2xx', 'http_3xx', 'http_4xx', 'http_5xx'];

export const UPSTREAM_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'upstream', contexts: ['http', 'stream'], args: [1, 1], block: 'upstream', multiple: true,
    syntax: 'upstream name { ... }', summary: 'A group of servers that proxy_pass / websocket_pass can name.',
    note: 'An upstream nobody references draws a warning.', apply: applyUpstream,
  },
  {
    name: 'server', contexts: UP, args: [1, Infinity], multiple: true,
    syntax: 'server address [weight=n] [max_fails=n] [fail_timeout=time] [max_conns=n] [backup] [down] [resolve];',
    summary: 'A peer of the group (`host:port`, `unix:path`; http default port 80, stream needs a port). `resolve` (nginx 1.27.3): the name is re-resolved while running through the `resolver`, its addresses join and leave the group without a reload.',
    apply(scope, d) { scope.upstream!.serverDirectives++; const s = parseServer(scope, d); if (s) scope.upstream!.servers = append(scope.upstream!.servers, s); },
  },
  { name: 'least_conn', contexts: UP, args: [0, 0], syntax: 'least_conn;', summary: 'Pick the peer with the fewest active connections.', apply: (s, d) => setMethod(s, d, { kind: 'least_conn' }) },
  { name: 'ip_hash', contexts: ['upstream'], args: [0, 0], syntax: 'ip_hash;', summary: 'Pick the peer by client address.', apply: (s, d) => setMethod(s, d, { kind: 'ip_hash' }) },
  {
    name: 'hash', contexts: UP, args: [1, 2], templates: 0, syntax: 'hash key [consistent];', summary: 'Pick the peer by a hashed key (ketama with `consistent`).',
    apply(s, d) {
      const c = d.args[1];
      if (c !== undefined && c.value !== 'consistent') { invalidParameter(s.state.report, c); return; }
      setMethod(s, d, { kind: 'hash', key: d.args[0]!.value, consistent: c !== undefined });
    },
  },
  {
    name: 'random', contexts: UP, args: [0, 2], syntax: 'random [two [least_conn]];', summary: 'Pick a random peer, or the better of two.',
    apply(s, d) {
      const [a, b] = d.args;
      if (a !== undefined && a.value !== 'two') { invalidParameter(s.state.report, a); return; }
      if (b !== undefined && b.value !== 'least_conn') { invalidParameter(s.state.report, b); return; }
      setMethod(s, d, { kind: 'random', two: a !== undefined, leastConn: b !== undefined });
    },
  },
  setting({ name: 'keepalive', contexts: ['upstream'], kind: 'upstream', field: 'keepalive', parse: positive, default: '32', syntax: 'keepalive connections;', summary: 'Idle keep-alive connections kept per upstream.', note: 'Default 32 (nginx: no pooling unless set).' }),
  setting({ name: 'keepalive_timeout', contexts: ['upstream'], kind: 'upstream', field: 'keepaliveTimeoutMs', parse: seconds, default: '60s', syntax: 'keepalive_timeout time;', summary: 'How long an idle upstream connection is kept.' }),
  setting({
    name: 'keepalive_time', contexts: ['upstream'], kind: 'upstream', field: 'keepaliveTimeMs', parse: seconds, default: '1h',
    syntax: 'keepalive_time time;', summary: 'How long a kept-alive upstream connection may be reused, counted from its connect.',
  }),
  setting({ name: 'keepalive_requests', contexts: ['upstream'], kind: 'upstream', field: 'keepaliveRequests', parse: count, default: '1000', syntax: 'keepalive_requests number;', summary: 'Requests sent over one upstream connection.' }),
  {
    name: 'check', contexts: UP, args: [0, Infinity],
    syntax: 'check [interval=ms] [rise=n] [fall=n] [timeout=ms] [default_down=true|false] [type=tcp|http|ssl_hello|websocket] [port=n];',
    default: 'interval=30000 rise=2 fall=5 timeout=1000 default_down=true type=tcp port=0',
    summary: 'Active health checks. Bare numbers are milliseconds; unit suffixes are accepted.',
    note: 'From nginx_upstream_check_module; `type=websocket` is tsproxy only. A bare value under 100 draws a warning. A peer down by `default_down` (at start, or new after a reload) is probed at once and back to back until `rise` or a failure, then every `interval`.',
    apply: applyCheck,
  },
  setting({ name: 'check_http_send', contexts: UP, kind: 'upstream', field: 'httpSend', parse: (a) => a[0]!.value, initial: 'GET / HTTP/1.0\r\n\r\n', default: '"GET / HTTP/1.0\\r\\n\\r\\n"', syntax: 'check_http_send request;', summary: 'Request sent by `type=http` checks.' }),
  setting({
    name: 'check_http_expect_alive', contexts: UP, kind: 'upstream', field: 'expectAlive', args: [1, Infinity],
    parse: (args, _d, r) => {
      const out: HttpStatusClass[] = [];
      for (const a of args) {
        const c = member(STATUS_CLASSES, a.value);
        if (c === undefined) return invalidParameter(r, a);
        out.push(c);
      }
      return out;
    },
    default: 'http_2xx http_3xx', syntax: 'check_http_expect_alive http_2xx | http_3xx | http_4xx | http_5xx ...;', summary: 'Status classes a `type=http` check accepts.',
  }),
  setting({ name: 'check_keepalive_requests', contexts: UP, kind: 'upstream', field: 'keepaliveRequestsCheck', parse: positive, default: '1', syntax: 'check_keepalive_requests number;', summary: 'Checks sent over one connection.', note: 'type=http only; reuse needs a `check_http_send` that keeps the connection alive (HTTP/1.1 without `Connection: close`).' }),
];
