/**
 * http's variables: what a request exposes to them (RequestInfo) and a getter per built-in name
 * and prefix family (HTTP_VARIABLES), bound to the engine in core/variables/ that compiles
 * templates, maps and log formats once per config. Names and syntax live in config/template.ts.
 */
import { basicCredentials } from './access/basic-credentials.js';
import fs from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { MapConfig } from '../config/types.js';
import { parseSize } from '../config/units.js';
import { binaryAddress } from '../core/address-match.js';
import {
  compileTemplate as compileWith, type Captures, type CompiledTemplate as Compiled, type Getter as GetterOf,
  type TemplateScope, type VariableTable,
} from '../core/variables/template.js';
import { compileMaps as compileMapsWith, type VariableModules } from '../core/variables/maps.js';
import { timeIso8601, timeLocal } from '../core/variables/time.js';
import { ALIAS_NONE, filePath, type FilePlan } from './file-path.js';
import { fastcgiPathInfo, fastcgiScriptName, NGINX_VERSION, type FastcgiNames } from './fastcgi/names.js';
import { connectionStats, localCounts } from '../core/connection-stats.js';
import { SSL_VARIABLES, type TlsInfo } from '../tls/info.js';
import { ATTEMPT_VALUES, seconds, secondsOrDash, type UpstreamAttempt, type UpstreamAttempts } from '../upstream/attempts.js';

export { UnknownVariableError, TemplateSyntaxError, isKnownVariable, listVariables, checkTemplate } from '../config/template.js';
export { useCaptures, type Captures } from '../core/variables/template.js';

/** What a variable may read; implemented by the HTTP engine's request object. */
export interface RequestInfo {
  readonly method: string;
  /** The raw request target, query included. */
  readonly requestUri: string;
  /** The normalized path. */
  readonly uri: string;
  readonly args: string;
  /** "1.1" */
  readonly httpVersion: string;
  readonly scheme: 'http' | 'https';
  /** TLS state of the connection ($ssl_*); absent or null for plain HTTP. */
  readonly tls?: TlsInfo | null;
  /** Flat [name, value, name, value, ...] as received, names in original case. */
  readonly headers: readonly string[];
  readonly remoteAddr: string;
  readonly remotePort: number;
  /** The request line's target as sent ($request); requestUri when absent. */
  readonly rawTarget?: string;
  /** The connection's peer before realip changed remoteAddr ($realip_remote_addr / _port). */
  readonly realipRemoteAddr?: string;
  readonly realipRemotePort?: number;
  /** The client address of the connection's PROXY protocol header, null without one. */
  readonly proxyProtocolAddr?: string | null;
  readonly proxyProtocolPort?: number | null;
  readonly serverAddr: string;
  readonly serverPort: number;
  /** Host without port, lowercased, or server_name when absent. */
  readonly host: string;
  readonly serverName: string;
  readonly connectionId: number;
  readonly connectionRequests: number;
  /** Date.now() at request start, with sub-ms from performance.now(). */
  readonly startMs: number;
  captures: Captures | null;
  /** From set/map. */
  vars: Map<string, string> | null;
  status: number;
  bytesSent: number;
  bodyBytesSent: number;
  requestLength: number;
  /** The upstream tries of this request ($upstream_* list them), null when it was not proxied. */
  upstream: UpstreamAttempts | null;
  proxyHost: string;
  /** $proxy_port: the port of the proxy_pass target (80 / 443 for an upstream name). */
  proxyPort: string;
  /** The upstream response's headers as received (also what $sent_http_* reads). */
  responseHeaders: readonly string[] | null;
  /** The Connection header tsproxy sent ($sent_http_connection): keep-alive, close or upgrade. */
  connectionHeader: string;
  /** The location's root / alias and file settings ($document_root, $request_filename); absent or null outside a request. */
  readonly plan?: { readonly root: CompiledTemplate; readonly files: FilePlan; readonly fastcgiNames?: FastcgiNames | null } | null;
  /** The copy of the body kept for $request_body / $request_body_file (kept-body.ts), null when none. */
  readonly keptBody?: { readonly text: string; readonly fileName: string } | null;
  /** $limit_req_status / $limit_conn_status (limits.ts), '' when no limit decided. */
  readonly limitReqStatus?: string;
  /** $upstream_cache_status (cache/serve.ts), '' when the request did not use a cache. */
  readonly cacheStatus?: string;
  readonly limitConnStatus?: string;
  /** The response's rate once one applies (pacing.ts), -1 before. */
  readonly limitRateBytes?: number;
  /** $gzip_ratio (body-filters/gzip.ts): '' unless the response was compressed. */
  readonly gzipRatio?: string;
}

export type Getter = GetterOf<RequestInfo>;
export type CompiledTemplate = Compiled<RequestInfo>;
/** `map` variables by name (without `$`), each computed lazily and cached in r.vars. */
export type CompiledMaps = ReadonlyMap<string, Getter>;
export type TemplateContext = TemplateScope<RequestInfo>;

// ---------------------------------------------------------------------------------------------
// header helpers

/**
 * Values of a header (lowercase name) joined as nginx 1.23+ does: "; " for Cookie, else ", ".
 * `anySeparator`: '-' and '_' in a name match each other ($http_x_under reads X_Under too, which
 * underscores_in_headers lets in), as nginx's $http_ lookup.
 */
export function headerValue(headers: readonly string[] | null, lname: string, anySeparator = false): string {
  if (headers === null) return '';
  let out: string | null = null;
  const len = lname.length;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length !== len) continue;
    const lower = name.toLowerCase();
    if (lower !== lname && !(anySeparator && lower.replace(/_/g, '-') === lname)) continue;
    const v = headers[i + 1]!;
    out = out === null ? v : out + (lname === 'cookie' ? '; ' : ', ') + v;
  }
  return out ?? '';
}

/** nginx $arg_<name>: the raw (undecoded) value of the first matching argument, name caseless. */
export function argValue(args: string, lname: string): string {
  if (args === '') return '';
  let start = 0;
  while (start <= args.length) {
    let end = args.indexOf('&', start);
    if (end === -1) end = args.length;
    const eq = args.indexOf('=', start);
    const nameEnd = eq !== -1 && eq < end ? eq : end;
    if (nameEnd - start === lname.length && args.slice(start, nameEnd).toLowerCase() === lname) {
      return nameEnd === end ? '' : args.slice(nameEnd + 1, end);
    }
    start = end + 1;
  }
  return '';
}

/** nginx $cookie_<name>: value of the first cookie with that (case-sensitive) name. */
export function cookieValue(headers: readonly string[], name: string): string {
  const all = headerValue(headers, 'cookie');
  if (all === '') return '';
  for (const pair of all.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    if (pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return '';
}

// ---------------------------------------------------------------------------------------------
// getters

const HOSTNAME = osHostname();
const PID = String(process.pid);
const REQUEST_ID = '\0request_id';

/** The Basic user name, whatever auth_basic says (nginx); its bytes read as UTF-8. */
function remoteUser(r: RequestInfo): string {
  const c = basicCredentials(headerValue(r.headers, 'authorization'));
  return c === null ? '' : Buffer.from(c.user, 'latin1').toString('utf8');
}

/** A `$upstream_*` list, '' when the request was not proxied. */
function attempts(value: (a: UpstreamAttempt) => string): Getter {
  return (r) => r.upstream?.format(value) ?? '';
}

function requestId(r: RequestInfo): string {
  let id = r.vars?.get(REQUEST_ID);
  if (id === undefined) {
    id = randomBytes(16).toString('hex');
    (r.vars ??= new Map()).set(REQUEST_ID, id);
  }
  return id;
}

/** Every name of config/template.ts BUILTIN_VARIABLES (test/http/variables.test.ts keeps both equal). */
const BUILTINS: Readonly<Record<string, Getter>> = {
  host: (r) => r.host,
  hostname: () => HOSTNAME,
  pid: () => PID,
  remote_addr: (r) => r.remoteAddr,
  binary_remote_addr: (r) => binaryAddress(r.remoteAddr),
  // 0: a unix socket peer, or realip found an address without a port (nginx prints nothing)
  remote_port: (r) => (r.remotePort === 0 ? '' : String(r.remotePort)),
  realip_remote_addr: (r) => r.realipRemoteAddr ?? r.remoteAddr,
  realip_remote_port: (r) => String(r.realipRemotePort ?? r.remotePort),
  proxy_protocol_addr: (r) => r.proxyProtocolAddr ?? '',
  proxy_protocol_port: (r) => (r.proxyProtocolPort === null || r.proxyProtocolPort === undefined ? '' : String(r.proxyProtocolPort)),
  remote_user: remoteUser,
  server_addr: (r) => r.serverAddr,
  server_port: (r) => String(r.serverPort),
  server_name: (r) => r.serverName,
  server_protocol: (r) => `HTTP/${r.httpVersion}`,
  scheme: (r) => r.scheme,
  https: (r) => (r.scheme === 'https' ? 'on' : ''),
  // nginx: "h2" over TLS, "h2c" in clear text, empty on HTTP/1.x
  http2: (r) => (r.httpVersion !== '2.0' ? '' : r.tls === null ? 'h2c' : 'h2'),
  // nginx logs the request line's target as sent: an absolute-form one stays absolute here
  request: (r) => `${r.method} ${r.rawTarget ?? r.requestUri} HTTP/${r.httpVersion}`,
  request_method: (r) => r.method,
  request_uri: (r) => r.requestUri,
  uri: (r) => r.uri,
  document_uri: (r) => r.uri,
  document_root: documentRoot,
  realpath_root: realpathRoot,
  fastcgi_script_name: (r) => fastcgiScriptName(r.uri, r.plan?.fastcgiNames),
  fastcgi_path_info: (r) => fastcgiPathInfo(r.uri, r.plan?.fastcgiNames),
  // The nginx version whose behaviour tsproxy follows (fastcgi_params sends SERVER_SOFTWARE nginx/$nginx_version).
  nginx_version: () => NGINX_VERSION,
  // The file the URI maps to (root + URI, or the alias), as nginx's ngx_http_map_uri_to_path.
  request_filename: (r) => (r.plan === undefined || r.plan === null ? '' : (filePath(documentRoot(r), r.plan.files, r.uri) ?? '')),
  args: (r) => r.args,
  query_string: (r) => r.args,
  is_args: (r) => (r.args === '' ? '' : '?'),
  request_id: requestId,
  status: (r) => (r.status === 0 ? '000' : String(r.status)),
  body_bytes_sent: (r) => String(r.bodyBytesSent),
  bytes_sent: (r) => String(r.bytesSent),
  request_length: (r) => String(r.requestLength),
  request_time: (r) => seconds(Math.max(0, Date.now() - r.startMs)),
  msec: () => seconds(Date.now()),
  time_local: () => timeLocal(Date.now()),
  time_iso8601: () => timeIso8601(Date.now()),
  ...Object.fromEntries(Object.entries(ATTEMPT_VALUES).map(([name, value]) => [name, attempts(value)])),
  upstream_status: attempts((a) => (a.status === 0 ? '-' : String(a.status))),
  upstream_response_time: attempts((a) => seconds(Math.max(0, a.endMs))),
  upstream_header_time: attempts((a) => secondsOrDash(a.headerMs)),
  upstream_response_length: attempts((a) => String(a.bodyBytes)),
  proxy_host: (r) => r.proxyHost,
  proxy_port: (r) => r.proxyPort,
  proxy_add_x_forwarded_for: (r) => {
    const xff = headerValue(r.headers, 'x-forwarded-for');
    return xff === '' ? r.remoteAddr : `${xff}, ${r.remoteAddr}`;
  },
  connection: (r) => String(r.connectionId),
  connection_requests: (r) => String(r.connectionRequests),
  content_length: (r) => headerValue(r.headers, 'content-length'),
  content_type: (r) => headerValue(r.headers, 'content-type'),
  // tsproxy built-in so that nginx's `map $http_upgrade $connection_upgrade` is not needed
  connection_upgrade: (r) => (headerValue(r.headers, 'upgrade') === '' ? 'close' : 'upgrade'),
  // Only locations whose plan keeps the body have one (kept-body.ts); elsewhere both are empty, as
  // nginx's are when the body was not read (a `return` location).
  request_body: (r) => r.keptBody?.text ?? '',
  request_body_file: (r) => r.keptBody?.fileName ?? '',
  limit_req_status: (r) => r.limitReqStatus ?? '',
  upstream_cache_status: (r) => r.cacheStatus ?? '',
  limit_conn_status: (r) => r.limitConnStatus ?? '',
  // nginx prints the number: `set $limit_rate 4k` reads 4096; the directive's value only once the
  // body starts (0 in add_header), an upstream's X-Accel-Limit-Rate from the head on
  limit_rate: (r) => {
    const set = r.vars?.get('limit_rate');
    if (set !== undefined) return String(parseSize(set) ?? 0);
    return String(Math.max(0, r.limitRateBytes ?? 0));
  },
  gzip_ratio: (r) => r.gzipRatio ?? '',
  // This process's counts (with worker processes, the worker's own; stub_status sums them all).
  connections_active: () => String(connectionStats.active),
  connections_reading: () => String(connectionStats.reading),
  connections_writing: () => String(connectionStats.writing),
  connections_waiting: () => String(localCounts().waiting),
  ...Object.fromEntries(Object.entries(SSL_VARIABLES).map(([name, get]) => [name, (r: RequestInfo) => get(r.tls ?? null)])),
};

/** The `$prefix<suffix>` families (config/template.ts VARIABLE_PREFIXES names the same ones). */
const FAMILIES: Readonly<Record<string, (suffix: string) => Getter>> = {
  http_: (suffix) => {
    const h = headerName(suffix);
    if (!suffix.includes('_')) return (r) => headerValue(r.headers, h);
    return (r) => headerValue(r.headers, h, true);
  },
  sent_http_: (suffix) => {
    const h = headerName(suffix);
    // the upstream's Connection is never passed on: log the one tsproxy sent
    if (h === 'connection') return (r) => r.connectionHeader;
    return (r) => headerValue(r.responseHeaders, h);
  },
  upstream_http_: (suffix) => {
    const h = headerName(suffix);
    return (r) => (r.upstream === null ? '' : headerValue(r.responseHeaders, h));
  },
  arg_: (suffix) => {
    const a = suffix.toLowerCase();
    return (r) => argValue(r.args, a);
  },
  cookie_: (suffix) => (r) => cookieValue(r.headers, suffix),
};

function headerName(suffix: string): string {
  return suffix.replace(/_/g, '-').toLowerCase();
}

/** http's variables for the engine in core/variables/. */
/** $document_root: the root or alias value (nginx drops a root's trailing slash). */
function documentRoot(r: RequestInfo): string {
  const plan = r.plan;
  if (plan === undefined || plan === null) return '';
  const root = plan.root(r);
  return plan.files.alias === ALIAS_NONE && root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
}

/**
 * $realpath_root: $document_root with symlinks resolved, at each read (deploys that switch a
 * `current` symlink rely on it: SCRIPT_FILENAME $realpath_root$fastcgi_script_name). '' when the
 * root does not exist, as nginx leaves the variable unset.
 */
function realpathRoot(r: RequestInfo): string {
  const root = documentRoot(r);
  if (root === '') return '';
  try {
    return fs.realpathSync(root);
  } catch {
    return '';
  }
}

export const HTTP_VARIABLES: VariableTable<RequestInfo> = {
  builtins: BUILTINS,
  families: FAMILIES,
  // nginx reports these as found even when their value is empty
  emptyIsSet: new Set(['is_args', 'https']),
};

/**
 * Compile a template once; calling the result per request evaluates it. Throws
 * UnknownVariableError / TemplateSyntaxError (the config layer reports them with a position).
 */
export function compileTemplate(t: string, ctx?: TemplateContext): CompiledTemplate {
  return compileWith(t, HTTP_VARIABLES, ctx);
}

/** http's `map`, `geo` and `split_clients` blocks → lazily computed variables (core/variables/maps.ts). */
export function compileMaps(maps: readonly MapConfig[], ctx?: { declared?: ReadonlySet<string>; modules?: VariableModules }): CompiledMaps {
  return compileMapsWith(maps, HTTP_VARIABLES, ctx?.declared, ctx?.modules);
}
