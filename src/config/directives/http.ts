/** http, server and location directives. */
import type { Arg, Directive } from '../ast.js';
import type {
  AccessLogConfig, AddHeader, ErrorPage, HeaderOp, LocationMatch, LogFormatConfig,
  NextUpstreamCondition, RewriteRule, ServerName,
} from '../types.js';
import { parseDuration, parseNumber, parseProxyPassUrl, parseSize } from '../units.js';
import { ensureHttp } from './main.js';
import { parseListen } from './listen.js';
import { append, NO_ITEMS } from './drafts.js';
import {
  addLogFormat, checkRegex, childScope, count, err, flag, invalidParameter, invalidValue, isVariableName, listSetting, noEffect, oneOf,
  member, ownSettings, seconds, setting, size, trustedSource, valueSlot, type Context, type DirectiveSpec, type HttpServerDraft,
  type LocationDraft, type Reporter, type Scope, type SettingOptions, type TargetDraft, type ValueField, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
const SRV2: readonly Context[] = ['http', 'server'];

// ---------------------------------------------------------------------------------------------
// listen / server_name (shared with stream servers)

export function parseServerNames(d: Directive, r: Reporter): ServerName[] {
  const out: ServerName[] = [];
  for (const a of d.args) {
    const v = a.value;
    if (v === '') continue;
    if (v.startsWith('~')) {
      // nginx folds case only for a pattern with an uppercase letter; Host is lowercased anyway.
      if (checkRegex(r, v, 1, true, a.loc) !== undefined) out.push({ kind: 'regex', source: v.slice(1), loc: a.loc });
      continue;
    }
    const name = v.toLowerCase();
    if (name.startsWith('*.')) out.push({ kind: 'leadingWildcard', suffix: name.slice(1), loc: a.loc });
    else if (name.endsWith('.*')) out.push({ kind: 'trailingWildcard', prefix: name.slice(0, -1), loc: a.loc });
    else if (name.startsWith('.')) {
      out.push({ kind: 'exact', name: name.slice(1), loc: a.loc }, { kind: 'leadingWildcard', suffix: name, loc: a.loc });
    } else if (name.includes('*')) err(r, 'TSP_ERR_CONFIG_VALUE', `invalid server name or wildcard "${v}"`, a.loc);
    else out.push({ kind: 'exact', name, loc: a.loc });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// proxy targets

export function httpTarget(scope: Scope, a: Arg, viaName: boolean): TargetDraft | undefined {
  const r = scope.state.report;
  let t: TargetDraft;
  if (viaName && !/^https?:\/\//i.test(a.value)) {
    // websocket_pass names an upstream (tcp_proxy_module style).
    t = { scheme: 'http', upstream: a.value, uri: null, dynamic: a.value.includes('$'), raw: a.value, loc: a.loc, hasPort: /:\d+$/.test(a.value), area: 'http' };
  } else {
    const u = parseProxyPassUrl(a.value);
    if (!u.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', u.message, a.loc);
    t = { scheme: u.value.scheme, upstream: u.value.host, uri: u.value.uri, dynamic: u.value.dynamic, raw: a.value, loc: a.loc, hasPort: u.value.hasPort, area: 'http' };
  }
  scope.state.targets.push(t);
  return t;
}

export function contentHandlerTaken(loc: LocationDraft): boolean {
  return loc.proxy !== null || loc.websocket !== null || loc.checkStatus !== null || loc.fastcgi != null;
}

// ---------------------------------------------------------------------------------------------
// location

function parseLocationMatch(d: Directive, r: Reporter): LocationMatch | undefined {
  const [a, b] = d.args;
  if (b === undefined) {
    const v = a!.value;
    if (v.startsWith('@')) return { kind: 'named', name: v.slice(1) };
    // nginx also accepts the modifier glued to the path ("=/x", "~^/x").
    if (v.startsWith('=') && v.length > 1) return { kind: 'exact', path: v.slice(1) };
    if (v.startsWith('^~') && v.length > 2) return { kind: 'prefixNoRegex', path: v.slice(2) };
    if (v.startsWith('~*') && v.length > 2) return regexMatch(2, true, a!, r);
    if (v.startsWith('~') && v.length > 1) return regexMatch(1, false, a!, r);
    return { kind: 'prefix', path: v };
  }
  switch (a!.value) {
    case '=': return { kind: 'exact', path: b.value };
    case '^~': return { kind: 'prefixNoRegex', path: b.value };
    case '~': return regexMatch(0, false, b, r);
    case '~*': return regexMatch(0, true, b, r);
    default: return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid location modifier "${a!.value}"`, a!.loc);
  }
}

/** A regex location; the pattern starts at `at` in the argument (`~^/x` is glued, nginx accepts it). */
function regexMatch(at: number, caseless: boolean, a: Arg, r: Reporter): LocationMatch | undefined {
  return checkRegex(r, a.value, at, caseless, a.loc) === undefined ? undefined : { kind: 'regex', source: a.value.slice(at), caseless };
}

export function locationText(m: LocationMatch): string {
  switch (m.kind) {
    case 'exact': case 'prefix': case 'prefixNoRegex': return m.path;
    case 'named': return `@${m.name}`;
    case 'regex': return m.source;
  }
}

/** Key under which two sibling locations collide (nginx: exact, prefix and ^~ share prefix keys). */
function locationKey(m: LocationMatch): string {
  switch (m.kind) {
    case 'exact': return `=${m.path}`;
    case 'prefix': case 'prefixNoRegex': return `p${m.path}`;
    case 'named': return `@${m.name}`;
    case 'regex': return `${m.caseless ? '~*' : '~'}${m.source}`;
  }
}

const applyLocation = (scope: Scope, d: Directive): Scope | null => {
  const r = scope.state.report;
  const match = parseLocationMatch(d, r);
  if (match === undefined) return null;
  const argLoc = d.args[d.args.length - 1]!.loc;
  const parent = scope.location;
  const text = locationText(match);
  if (parent !== undefined) {
    const p = parent.match;
    if (match.kind === 'named') return err(r, 'TSP_ERR_CONFIG_NOT_ALLOWED', `named location "@${match.name}" can be on the server level only`, argLoc) ?? null;
    if (p.kind === 'exact') return err(r, 'TSP_ERR_CONFIG_NOT_ALLOWED', `location "${text}" cannot be inside the exact location "${p.path}"`, argLoc) ?? null;
    if (p.kind === 'named') return err(r, 'TSP_ERR_CONFIG_NOT_ALLOWED', `location "${text}" cannot be inside the named location "@${p.name}"`, argLoc) ?? null;
    if ((p.kind === 'prefix' || p.kind === 'prefixNoRegex') && match.kind !== 'regex' && !match.path.startsWith(p.path)) {
      return err(r, 'TSP_ERR_CONFIG_NOT_ALLOWED', `location "${text}" is outside location "${p.path}"`, argLoc) ?? null;
    }
  }
  const siblings = parent?.locations ?? scope.server!.locations;
  const key = locationKey(match);
  let twin: LocationDraft | undefined;
  for (const l of siblings) if (l.key === key) { twin = l; break; }
  if (twin !== undefined) {
    if (match.kind !== 'regex') return err(r, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate location "${text}"`, argLoc) ?? null;
    r.warn('TSP_ERR_CONFIG_DUPLICATE', `location "${text}" can never match: the same regex is used at line ${twin.loc.line}`, argLoc);
  }
  const child = childScope(scope, 'location');
  const draft: LocationDraft = {
    match, matchLoc: argLoc, key, rewrites: NO_ITEMS, sets: NO_ITEMS, proxy: null, websocket: null, ret: null, checkStatus: null,
    locations: NO_ITEMS, extras: null, tryFiles: null, internal: false, scope: child, loc: d.loc,
  };
  if (parent !== undefined) parent.locations = append(siblings, draft);
  else scope.server!.locations = append(siblings, draft);
  child.location = draft;
  return child;
};

// ---------------------------------------------------------------------------------------------
// value parsers

const returnValue: ValueParser<{ code: number; text: string | null; loc: Directive['loc'] }> = (args, d, r) => {
  const a0 = args[0]!;
  if (args.length === 1 && /^(https?:\/\/|\$scheme)/.test(a0.value)) return { code: 302, text: a0.value, loc: d.loc };
  const code = parseNumber(a0.value);
  if (code === null || code > 999) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid return code "${a0.value}"`, a0.loc);
  return { code, text: args[1]?.value ?? null, loc: d.loc };
};

const REWRITE_FLAGS = ['last', 'break', 'redirect', 'permanent'] as const;
const rewriteRule: ValueParser<RewriteRule> = (args, d, r) => {
  const [re, rep, fl] = args;
  if (checkRegex(r, re!.value, 0, false, re!.loc) === undefined) return undefined;
  let flag: RewriteRule['flag'] = null;
  if (fl !== undefined) {
    const f = member(REWRITE_FLAGS, fl.value);
    if (f === undefined) return invalidParameter(r, fl);
    flag = f;
  }
  return { regex: re!.value, replacement: rep!.value, flag, loc: d.loc };
};

const headerOp: ValueParser<HeaderOp> = (args, d) => ({ name: args[0]!.value, value: args[1]!.value, loc: d.loc });

const addHeader: ValueParser<AddHeader> = (args, d, r) => {
  if (args[2] !== undefined && args[2].value !== 'always') return invalidParameter(r, args[2]);
  return { name: args[0]!.value, value: args[1]!.value, always: args[2] !== undefined, loc: d.loc };
};

const errorPage: ValueParser<ErrorPage> = (args, d, r) => {
  const codes: number[] = [];
  let overrideStatus: ErrorPage['overrideStatus'] = null;
  const target = args[args.length - 1]!;
  for (const a of args.slice(0, -1)) {
    if (a.value.startsWith('=')) {
      if (a !== args[args.length - 2]) return invalidValue(r, a, d);
      const rest = a.value.slice(1);
      const n = rest === '' ? 'target' : parseNumber(rest);
      if (n === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
      overrideStatus = n;
      continue;
    }
    const n = parseNumber(a.value);
    if (n === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
    if (n < 300 || n > 599) return err(r, 'TSP_ERR_CONFIG_VALUE', `value "${a.value}" must be between 300 and 599`, a.loc);
    codes.push(n);
  }
  if (codes.length === 0) return err(r, 'TSP_ERR_CONFIG_ARGS', `invalid number of arguments in "${d.name}" directive`, d.loc);
  return { codes, overrideStatus, target: target.value, loc: d.loc };
};

/** nginx's access_log buffer when only gzip is given. */
const GZIP_BUFFER_BYTES = 64 * 1024;

/**
 * `access_log path [format [buffer=size] [gzip[=level]] [flush=time] [if=condition]] | off`
 * with nginx's checks and messages (checked with ask-nginx): flush= needs a buffer, gzip alone
 * buffers 64k at level 1. `if=` is accepted and not applied (every request is logged).
 */
export function accessLog(defaultFormat: string): ValueParser<AccessLogConfig> {
  return (args, d, r) => {
    const path = args[0]!.value;
    let bufferBytes = 0;
    let flushMs = 0;
    let gzipLevel = 0;
    for (const a of args.slice(2)) {
      const v = a.value;
      if (v.startsWith('buffer=')) {
        const n = parseSize(v.slice(7));
        if (n === null || n === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid buffer size "${v.slice(7)}"`, a.loc);
        bufferBytes = n;
      } else if (v.startsWith('flush=')) {
        const ms = parseDuration(v.slice(6), 's');
        if (ms === null || ms === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid flush time "${v.slice(6)}"`, a.loc);
        flushMs = ms;
      } else if (v === 'gzip' || v.startsWith('gzip=')) {
        const level = v === 'gzip' ? 1 : parseNumber(v.slice(5));
        if (level === null || level < 1 || level > 9) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid compression level "${v.slice(5)}"`, a.loc);
        gzipLevel = level;
      } else if (!v.startsWith('if=')) {
        return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${v}"`, a.loc);
      }
    }
    if (flushMs > 0 && bufferBytes === 0 && gzipLevel === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `no buffer is defined for access_log "${path}"`, d.loc);
    if (gzipLevel > 0 && bufferBytes === 0) bufferBytes = GZIP_BUFFER_BYTES;
    // nginx: a path with variables names a file per request, opened for each line
    if (bufferBytes > 0 && path.includes('$')) return err(r, 'TSP_ERR_CONFIG_VALUE', 'buffered logs cannot have variables in name', d.loc);
    const log = { path: path === 'off' ? null : path, format: args[1]?.value ?? defaultFormat, loc: d.loc };
    return bufferBytes === 0 ? log : { ...log, buffering: { bufferBytes, flushMs, gzipLevel } };
  };
}

export const logFormat: ValueParser<LogFormatConfig> = (args, d, r) => {
  let rest = args.slice(1);
  let escape: LogFormatConfig['escape'] = 'default';
  if (rest[0]?.value.startsWith('escape=')) {
    const v = rest[0].value.slice(7);
    if (v !== 'default' && v !== 'json' && v !== 'none') return err(r, 'TSP_ERR_CONFIG_VALUE', `unknown log format escaping "${v}"`, rest[0].loc);
    escape = v;
    rest = rest.slice(1);
  }
  if (rest.length === 0) return err(r, 'TSP_ERR_CONFIG_ARGS', `invalid number of arguments in "${d.name}" directive`, d.loc);
  return { name: args[0]!.value, escape, template: rest.map((a) => a.value).join(''), loc: d.loc };
};

const NEXT_UPSTREAM: readonly NextUpstreamCondition[] = [
  'error', 'timeout', 'invalid_header', 'http_500', 'http_502', 'http_503', 'http_504', 'http_403', 'http_404', 'http_429', 'non_idempotent',
];
export const nextUpstream: ValueParser<NextUpstreamCondition[]> = (args, _d, r) => {
  if (args.length === 1 && args[0]!.value === 'off') return [];
  const out: NextUpstreamCondition[] = [];
  for (const a of args) {
    const c = member(NEXT_UPSTREAM, a.value);
    if (c === undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
    out.push(c);
  }
  return out;
};

const largeBuffers: ValueParser<{ count: number; sizeBytes: number }> = (args, d, r) => {
  const n = parseNumber(args[0]!.value);
  if (n === null || n === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[0]!.loc);
  const s = size([args[1]!], d, r);
  return s === undefined ? undefined : { count: n, sizeBytes: s };
};

const applyProxyRedirect = (scope: Scope, d: Directive): void => {
  if (d.args.length === 1) {
    const v = d.args[0]!.value;
    if (v === 'default' || v === 'off') { ownSettings(scope, 'http').proxyRedirect = { kind: v }; return; }
    invalidValue(scope.state.report, d.args[0]!, d);
    return;
  }
  const own = ownSettings(scope, 'http');
  const rule = { from: d.args[0]!.value, to: d.args[1]!.value };
  own.proxyRedirect = own.proxyRedirect?.kind === 'rules' ? { kind: 'rules', rules: [...own.proxyRedirect.rules, rule] } : { kind: 'rules', rules: [rule] };
};

// ---------------------------------------------------------------------------------------------
// the table

const http = <F extends ValueField<'http'>>(o: Omit<SettingOptions<'http', F>, 'kind' | 'contexts'> & { contexts?: readonly Context[] }): DirectiveSpec =>
  setting({ contexts: LOC3, kind: 'http', ...o });

export const HTTP_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'server', contexts: ['main', 'http'], args: [0, 0], block: 'server', multiple: true, syntax: 'server { ... }',
    summary: 'A virtual server.', note: 'A `server {}` at top level is taken as if inside `http {}`.',
    apply(scope, d) {
      const httpScope = scope.context === 'main' ? ensureHttp(scope.state) : scope;
      const child = childScope(httpScope, 'server');
      const server: HttpServerDraft = {
        listens: NO_ITEMS, serverNames: NO_ITEMS, rewrites: NO_ITEMS, sets: NO_ITEMS, ret: null, locations: NO_ITEMS, extras: null, tryFiles: null, scope: child, loc: d.loc,
      };
      scope.state.http!.servers.push(server);
      child.server = server;
      return child;
    },
  },
  {
    name: 'listen', contexts: ['server'], args: [1, Infinity], multiple: true, default: '*:80',
    syntax: 'listen address[:port] | port | unix:path [default_server] [ssl] [http2] [proxy_protocol] [backlog=n] [rcvbuf=size] [sndbuf=size] [reuseport] [so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]] [fastopen=n] [deferred] [bind] [ipv6only=on|off];',
    summary: 'Address and port the server accepts requests on.',
    note: 'A server without `listen` gets `0.0.0.0:80`. `ssl` terminates TLS (certificate chosen by SNI); `http2` offers HTTP/2 (ALPN with `ssl`, prior-knowledge h2c without). Socket parameters: `backlog`, `so_keepalive` (keepidle), `ipv6only` and `reuseport` (worker processes, Node >= 22.12) are applied; `rcvbuf`, `sndbuf`, `fastopen`, `deferred`, `bind` and so_keepalive\'s keepintvl/keepcnt are checked and have no effect (Node cannot set them).',
    apply(scope, d) {
      const l = parseListen(d, scope.state.report);
      if (l !== undefined) scope.server!.listens = append(scope.server!.listens, l);
    },
  },
  {
    name: 'server_name', contexts: ['server'], args: [1, Infinity], multiple: true, default: '""',
    syntax: 'server_name name ...;', summary: 'Names of the virtual server: exact, `*.wild`, `wild.*`, `.both`, `~regex`.',
    apply(scope, d) {
      const server = scope.server!;
      for (const name of parseServerNames(d, scope.state.report)) server.serverNames = append(server.serverNames, name);
    },
  },
  {
    name: 'location', contexts: ['server', 'location'], args: [1, 2], block: 'location', multiple: true,
    syntax: 'location [ = | ~ | ~* | ^~ ] uri { ... } | location @name { ... }',
    summary: 'Configuration depending on the request URI.', apply: applyLocation,
  },
  {
    name: 'proxy_pass', contexts: ['location', 'if'], args: [1, 1], templates: 0, syntax: 'proxy_pass URL;',
    summary: 'Proxy to an upstream group or `host:port`; a URI part replaces the matched location prefix.',
    note: 'Upgrade: websocket requests are proxied as WebSockets without extra headers.',
    apply(scope, d) {
      const loc = scope.location!;
      if (contentHandlerTaken(loc)) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      const t = httpTarget(scope, d.args[0]!, false) ?? null;
      if (t !== null && t.uri !== null && scope.context === 'if') {
        err(scope.state.report, 'TSP_ERR_CONFIG_VALUE', '"proxy_pass" cannot have URI part in location given by regular expression, or inside named location, or inside "if" statement, or inside "limit_except" block', d.loc);
        return;
      }
      loc.proxy = t;
    },
  },
  {
    name: 'websocket_pass', contexts: ['location'], args: [1, 2], templates: 'last', syntax: 'websocket_pass [path] upstream | URL;',
    summary: 'Proxy WebSocket upgrades (tcp_proxy_module); `path` matches the first path segment exactly.',
    apply(scope, d) {
      const loc = scope.location!;
      if (contentHandlerTaken(loc)) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      const target = httpTarget(scope, d.args[d.args.length - 1]!, true);
      if (target !== undefined) loc.websocket = { path: d.args.length === 2 ? d.args[0]!.value : null, target };
    },
  },
  {
    name: 'return', contexts: ['server', 'location', 'if', 'sif'], args: [1, 2], templates: 'all', syntax: 'return code [text] | code URL | URL;',
    summary: 'Stop processing and return a status (a bare URL redirects with 302).',
    apply(scope, d) {
      const v = returnValue(d.args, d, scope.state.report);
      if (v === undefined) return;
      // Inside an if, `return` runs where it stands among the rewrite directives.
      if (scope.context === 'if' || scope.context === 'sif') (scope.location!.extras ??= []).push({ kind: 'return', ...v });
      else if (scope.location) scope.location.ret = v;
      else scope.server!.ret = v;
    },
  },
  {
    name: 'rewrite', contexts: ['server', 'location', 'if', 'sif'], args: [2, 3], multiple: true, templates: 1,
    syntax: 'rewrite regex replacement [last | break | redirect | permanent];', summary: 'Rewrite the request URI.',
    apply(scope, d) {
      const v = rewriteRule(d.args, d, scope.state.report);
      if (v === undefined) return;
      const block = scope.location ?? scope.server!;
      block.rewrites = append(block.rewrites, v);
    },
  },
  {
    name: 'set', contexts: ['server', 'location', 'if', 'sif'], args: [2, 2], multiple: true, templates: 1, syntax: 'set $variable value;',
    summary: 'Set a variable.', note: 'Runs in file order with `rewrite`, `if`, `break`.',
    apply(scope, d) {
      const a = d.args[0]!;
      if (!isVariableName(a.value)) { err(scope.state.report, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${a.value}"`, a.loc); return; }
      const block = scope.location ?? scope.server!;
      block.sets = append(block.sets, { variable: a.value.slice(1), value: d.args[1]!.value, loc: d.loc });
    },
  },
  {
    name: 'check_status', contexts: ['location'], args: [0, 1], syntax: 'check_status [html | json | prometheus];',
    summary: 'Serve the status page: every upstream peer, the process, servers; HTML (live), JSON, Prometheus, or an event stream.', default: 'html',
    note: 'From nginx_upstream_check_module; `prometheus`, `?format=events` and `Accept: text/event-stream` are tsproxy only.',
    apply(scope, d) { applyCheckStatus(scope, d); },
  },
  {
    name: 'tcp_check_status', contexts: ['location'], args: [0, 1], syntax: 'tcp_check_status [html | json | prometheus];',
    summary: 'Same as `check_status` (tcp_proxy_module name).', default: 'html', apply(scope, d) { applyCheckStatus(scope, d); },
  },
  http({ name: 'root', contexts: [...LOC3, 'if'], field: 'root', parse: (a) => a[0]!.value, default: 'html', templates: 0, syntax: 'root path;', summary: 'Root directory for static files.', note: 'Resolved against the prefix.' }),
  http({ name: 'index', field: 'index', parse: (a) => a.map((x) => x.value), args: [1, Infinity], default: 'index.html', templates: 'all', syntax: 'index file ...;', summary: 'Index files for a directory request: the first that exists is an internal redirect to it (the last may be an absolute URI).' }),
  listSetting({ name: 'add_header', contexts: [...LOC3, 'if'], kind: 'http', field: 'addHeaders', parse: addHeader, args: [2, 3], templates: 1, syntax: 'add_header name value [always];', summary: 'Add a response header (2xx/3xx responses unless `always`).' }),
  listSetting({
    name: 'proxy_set_header', contexts: LOC3, kind: 'http', field: 'proxySetHeaders', parse: headerOp, args: [2, 2], templates: 1,
    syntax: 'proxy_set_header field value;', summary: 'Set (or, with an empty value, remove) a header sent upstream.',
    note: 'With none set, tsproxy sends `Host: $proxy_host` and keeps connections alive (nginx: `Connection: close`).',
  }),
  listSetting({ name: 'proxy_hide_header', contexts: LOC3, kind: 'http', field: 'proxyHideHeaders', parse: (a) => a[0]!.value.toLowerCase(), args: [1, 1], syntax: 'proxy_hide_header field;', summary: 'Do not pass this upstream response header to the client.' }),
  listSetting({ name: 'proxy_pass_header', contexts: LOC3, kind: 'http', field: 'proxyPassHeaders', parse: (a) => a[0]!.value.toLowerCase(), args: [1, 1], syntax: 'proxy_pass_header field;', summary: 'Pass a header that is hidden by default.' }),
  http({ name: 'proxy_http_version', field: 'proxyHttpVersion', parse: oneOf(['1.0', '1.1'] as const), default: '1.1', syntax: 'proxy_http_version 1.0 | 1.1;', summary: 'HTTP version used to talk to upstreams.', note: 'Default 1.1 with keep-alive (nginx: 1.0).' }),
  http({ name: 'proxy_method', field: 'proxyMethod', parse: text, initial: null, templates: 0, syntax: 'proxy_method method;', summary: 'Method used for upstream requests instead of the client\'s.' }),
  http({ name: 'proxy_pass_request_headers', field: 'proxyPassRequestHeaders', parse: flag, default: 'on', syntax: 'proxy_pass_request_headers on | off;', summary: 'Pass the client request headers upstream.' }),
  http({ name: 'proxy_pass_request_body', field: 'proxyPassRequestBody', parse: flag, default: 'on', syntax: 'proxy_pass_request_body on | off;', summary: 'Pass the client request body upstream.' }),
  {
    name: 'proxy_redirect', contexts: LOC3, args: [1, 2], multiple: true, default: 'default', templates: 'all',
    syntax: 'proxy_redirect default | off | redirect replacement;', summary: 'Rewrite Location and Refresh headers of upstream responses.',
    setting: valueSlot('http', 'proxyRedirect', { kind: 'default' }), apply: applyProxyRedirect,
  },
  http({ name: 'proxy_intercept_errors', field: 'proxyInterceptErrors', parse: flag, default: 'off', syntax: 'proxy_intercept_errors on | off;', summary: 'Answer upstream responses >= 300 with error_page.' }),
  http({
    name: 'proxy_socket_keepalive', field: 'proxySocketKeepalive', parse: flag, default: 'off', syntax: 'proxy_socket_keepalive on | off;',
    summary: 'Turn on TCP keepalive (SO_KEEPALIVE, with the system\'s timers) on connections to upstreams.',
    note: 'Set when a connection is opened: a pooled connection keeps the setting of the location that opened it.',
  }),
  http({ name: 'proxy_ignore_client_abort', field: 'proxyIgnoreClientAbort', parse: flag, default: 'off', syntax: 'proxy_ignore_client_abort on | off;', summary: 'Finish the upstream request when the client closes (or half-closes) its connection first.' }),
  http({ name: 'proxy_buffering', field: 'proxyBuffering', parse: flag, default: 'on', syntax: 'proxy_buffering on | off;', summary: 'Buffer upstream responses.' }),
  http({ name: 'proxy_forwarded_headers', field: 'proxyForwardedHeaders', parse: flag, default: 'on', syntax: 'proxy_forwarded_headers on | off;', summary: 'Set X-Forwarded-For, X-Real-IP and X-Forwarded-Proto.', note: 'tsproxy only.' }),
  http({ name: 'proxy_protocol', field: 'proxyProtocolVersion', parse: (a, d, r) => { const f = flag(a, d, r); return f === undefined ? undefined : f ? 1 : 0; }, default: 'off', syntax: 'proxy_protocol on | off;', summary: 'Send a PROXY protocol v1 header to HTTP upstreams.', note: 'tsproxy only in http.' }),
  http({ name: 'proxy_next_upstream', field: 'proxyNextUpstream', parse: nextUpstream, args: [1, Infinity], default: 'error timeout', syntax: 'proxy_next_upstream error | timeout | invalid_header | http_500 | http_502 | http_503 | http_504 | http_403 | http_404 | http_429 | non_idempotent | off ...;', summary: 'When to try the next upstream peer.' }),
  http({ name: 'proxy_next_upstream_tries', field: 'proxyNextUpstreamTries', parse: count, default: '0', syntax: 'proxy_next_upstream_tries number;', summary: 'Maximum tries (0: no limit).' }),
  http({ name: 'proxy_next_upstream_timeout', field: 'proxyNextUpstreamTimeoutMs', parse: seconds, default: '0', syntax: 'proxy_next_upstream_timeout time;', summary: 'Time limit for trying peers (0: no limit).' }),
  http({ name: 'proxy_connect_timeout', field: 'proxyConnectTimeoutMs', parse: seconds, default: '60s', syntax: 'proxy_connect_timeout time;', summary: 'Timeout for connecting to an upstream.' }),
  http({ name: 'proxy_read_timeout', field: 'proxyReadTimeoutMs', parse: seconds, default: '60s', syntax: 'proxy_read_timeout time;', summary: 'Timeout between two reads from an upstream.' }),
  http({ name: 'proxy_send_timeout', field: 'proxySendTimeoutMs', parse: seconds, default: '60s', syntax: 'proxy_send_timeout time;', summary: 'Timeout between two writes to an upstream.' }),
  http({ name: 'client_max_body_size', field: 'clientMaxBodySizeBytes', parse: size, default: '1m', syntax: 'client_max_body_size size;', summary: 'Largest allowed request body (0: no limit).' }),
  http({ name: 'client_body_timeout', field: 'clientBodyTimeoutMs', parse: seconds, default: '60s', syntax: 'client_body_timeout time;', summary: 'Timeout between two reads of the request body.' }),
  http({ name: 'client_header_timeout', contexts: SRV2, field: 'clientHeaderTimeoutMs', parse: seconds, default: '60s', syntax: 'client_header_timeout time;', summary: 'Timeout for reading the request head.' }),
  http({ name: 'client_header_buffer_size', contexts: SRV2, field: 'clientHeaderBufferSizeBytes', parse: size, default: '1k', syntax: 'client_header_buffer_size size;', summary: 'Buffer for the request head.' }),
  http({ name: 'large_client_header_buffers', contexts: SRV2, field: 'largeClientHeaderBuffers', parse: largeBuffers, args: [2, 2], default: '4 8k', syntax: 'large_client_header_buffers number size;', summary: 'Buffers for large request heads (a line must fit in one).' }),
  http({ name: 'send_timeout', field: 'sendTimeoutMs', parse: seconds, default: '60s', syntax: 'send_timeout time;', summary: 'Timeout between two writes to the client.' }),
  http({ name: 'keepalive_timeout', field: 'keepaliveTimeoutMs', parse: seconds, args: [1, 2], default: '75s', syntax: 'keepalive_timeout timeout [header_timeout];', summary: 'How long an idle client keep-alive connection stays open.', note: 'The header_timeout argument is accepted and ignored.' }),
  http({ name: 'keepalive_requests', field: 'keepaliveRequests', parse: count, default: '1000', syntax: 'keepalive_requests number;', summary: 'Requests served on one client connection.' }),
  http({ name: 'websocket_read_timeout', field: 'websocketReadTimeoutMs', parse: seconds, default: '60s', syntax: 'websocket_read_timeout time;', summary: 'Idle timeout of a proxied WebSocket.', note: 'tsproxy / tcp_proxy_module.' }),
  http({ name: 'server_tokens', field: 'serverTokens', parse: flag, default: 'on', syntax: 'server_tokens on | off;', summary: 'Show the version in error pages and the Server header.' }),
  listSetting({ name: 'error_page', contexts: [...LOC3, 'if'], kind: 'http', field: 'errorPages', parse: errorPage, args: [2, Infinity], templates: 'last', syntax: 'error_page code ... [=[response]] uri;', summary: 'URI shown for the given error codes.' }),
  listSetting({
    name: 'access_log', contexts: [...LOC3, 'if'], kind: 'http', field: 'accessLogs', parse: accessLog('combined'), args: [1, Infinity], templates: 0,
    syntax: 'access_log path [format [buffer=size] [gzip[=level]] [flush=time] [if=condition]] | off;', summary: 'Where requests are logged, in which log_format.',
    note: 'No access log unless configured (nginx: `logs/access.log combined`). Each line is written at once; `buffer=` (and `gzip`) buffer as nginx: written when full, after `flush=` time, on USR1 and at exit. `if=` is accepted and not applied. A path with variables names a file per request, opened for each line (unbuffered, as nginx). The format may be declared after its first use (nginx: before).',
  }),
  {
    name: 'log_format', contexts: ['http'], args: [2, Infinity], multiple: true, templates: 'rest', syntax: 'log_format name [escape=default|json|none] string ...;',
    summary: 'A named access log format (`combined` is predefined).',
    apply(scope, d) { const v = logFormat(d.args, d, scope.state.report); if (v) addLogFormat(scope, scope.state.http!, 'combined', d, v); },
  },
  listSetting({
    name: 'set_real_ip_from', contexts: LOC3, kind: 'http', field: 'realIpFrom', parse: trustedSource, args: [1, 1],
    syntax: 'set_real_ip_from address | CIDR | unix:;', summary: 'A trusted peer whose real_ip_header gives the client address.',
    note: 'Host names are not resolved: use addresses or CIDRs.',
  }),
  http({
    name: 'real_ip_header', field: 'realIpHeader', parse: (a) => a[0]!.value, default: 'X-Real-IP',
    syntax: 'real_ip_header field | X-Real-IP | X-Forwarded-For | proxy_protocol;', summary: 'Where the client address of a trusted peer\'s request is read.',
  }),
  http({
    name: 'real_ip_recursive', field: 'realIpRecursive', parse: flag, default: 'off', syntax: 'real_ip_recursive on | off;',
    summary: 'Take the last X-Forwarded-For address that is not a trusted peer (instead of the last one).',
  }),
  noEffect('error_log', LOC3, [1, 2], 'Error log (accepted at this level, but only the main-level error_log is used).', 'error_log file [level];'),
  noEffect('sendfile', LOC3, [1, 1], 'Use sendfile().', 'sendfile on | off;'),
  noEffect('tcp_nopush', LOC3, [1, 1], 'TCP_NOPUSH / TCP_CORK.', 'tcp_nopush on | off;'),
  noEffect('tcp_nodelay', LOC3, [1, 1], 'TCP_NODELAY on client connections (always on in tsproxy).', 'tcp_nodelay on | off;'),
  noEffect('types_hash_max_size', SRV2, [1, 1], 'Size of the MIME types hash.', 'types_hash_max_size size;'),
  noEffect('proxy_buffer_size', LOC3, [1, 1], 'Buffer for the upstream response head (tsproxy takes heads up to 64 KiB).', 'proxy_buffer_size size;', size),
  noEffect('proxy_buffers', LOC3, [2, 2], 'Buffers for an upstream response (tsproxy streams bodies with backpressure).', 'proxy_buffers number size;', largeBuffers),
  noEffect('proxy_busy_buffers_size', LOC3, [1, 1], 'Buffers busy sending to the client.', 'proxy_busy_buffers_size size;', size),
  noEffect('server_names_hash_bucket_size', ['http'], [1, 1], 'Bucket size of the server names hash (tsproxy uses a Map).', 'server_names_hash_bucket_size size;', size),
  noEffect('server_names_hash_max_size', ['http'], [1, 1], 'Maximum size of the server names hash.', 'server_names_hash_max_size size;', count),
  ...['proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((n) =>
    noEffect(n, LOC3, [1, 4], 'Directory for temporary files.', `${n} path [level1 [level2 [level3]]];`)),
];

function text(args: readonly Arg[]): string {
  return args[0]!.value;
}

function applyCheckStatus(scope: Scope, d: Directive): void {
  const loc = scope.location!;
  const r = scope.state.report;
  if (contentHandlerTaken(loc)) { err(r, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
  const v = d.args[0]?.value ?? 'html';
  if (v !== 'html' && v !== 'json' && v !== 'prometheus') { invalidValue(r, d.args[0]!, d); return; }
  loc.checkStatus = v;
}
