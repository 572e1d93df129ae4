/**
 * The variable system: a template is compiled once into literal parts and getters chosen at
 * compile time (`$http_x_foo` becomes a getter with "x-foo" baked in), so evaluating it per
 * request is a loop of string concatenations. Names and syntax live in config/template.ts.
 */
import { hostname as osHostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { MapConfig } from '../config/types.js';
import { buildMapTables, mapKeyLookup, type MapTables } from '../config/host-names.js';
import { SSL_VARIABLES, type TlsInfo } from '../tls/info.js';
import { ATTEMPT_VALUES, seconds, secondsOrDash, type UpstreamAttempt, type UpstreamAttempts } from '../upstream/attempts.js';
import {
  BUILTIN_VARIABLES, UnknownVariableError, parseTemplate,
} from '../config/template.js';

export { UnknownVariableError, TemplateSyntaxError, isKnownVariable, listVariables, checkTemplate } from '../config/template.js';

export type Captures = {
  readonly numbered: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>> | null;
};

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
}

export type Getter = (r: RequestInfo) => string;

export interface CompiledTemplate {
  (r: RequestInfo): string;
  /** The value when the template has no variables, else null. */
  readonly constant: string | null;
}

/** `map` variables by name (without `$`), each computed lazily and cached in r.vars. */
export type CompiledMaps = ReadonlyMap<string, Getter>;

export interface TemplateContext {
  readonly maps?: CompiledMaps;
  /** Names made by `set` and named regex captures; read from r.vars / r.captures. */
  readonly declared?: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------------------------
// header helpers

/** Values of a header (lowercase name) joined as nginx 1.23+ does: "; " for Cookie, else ", ". */
export function headerValue(headers: readonly string[] | null, lname: string): string {
  if (headers === null) return '';
  let out: string | null = null;
  const len = lname.length;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length !== len || name.toLowerCase() !== lname) continue;
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
// times, cached per second

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

function tzOffset(d: Date, sep: string): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + sep + pad2(a % 60);
}

/** "27/Nov/2026:14:45:36 +0000" (local time, as nginx). */
export function formatTimeLocal(d: Date): string {
  return `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(d.getHours())}:`
    + `${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${tzOffset(d, '')}`;
}

/** "2026-11-27T14:45:36+00:00" */
export function formatTimeIso8601(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:`
    + `${pad2(d.getMinutes())}:${pad2(d.getSeconds())}${tzOffset(d, ':')}`;
}

let cachedSecond = -1;
let cachedLocal = '';
let cachedIso = '';

function refreshTime(): void {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec === cachedSecond) return;
  const d = new Date(sec * 1000);
  cachedSecond = sec;
  cachedLocal = formatTimeLocal(d);
  cachedIso = formatTimeIso8601(d);
}

// ---------------------------------------------------------------------------------------------
// getters

const HOSTNAME = osHostname();
const PID = String(process.pid);
const REQUEST_ID = '\0request_id';

function remoteUser(r: RequestInfo): string {
  const auth = headerValue(r.headers, 'authorization');
  if (auth.length < 7 || auth.slice(0, 6).toLowerCase() !== 'basic ') return '';
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? '' : decoded.slice(0, colon);
}

/** The address as 4 or 16 bytes in a latin1 string (hash keys); IPv4-mapped IPv6 gives 4, as nginx sees IPv4. */
export function binaryAddress(a: string): string {
  if (a.startsWith('::ffff:') && isIP(a.slice(7)) === 4) a = a.slice(7);
  const kind = isIP(a);
  if (kind === 4) return String.fromCharCode(...a.split('.').map(Number));
  if (kind !== 6) return a;
  const pct = a.indexOf('%');
  if (pct !== -1) a = a.slice(0, pct);
  const words: number[] = [];
  const [head, tail] = a.includes('::') ? a.split('::') as [string, string] : [a, null];
  const parse = (part: string): number[] => {
    const out: number[] = [];
    for (const w of part === '' ? [] : part.split(':')) {
      if (w.includes('.')) {
        const [b0, b1, b2, b3] = w.split('.').map(Number) as [number, number, number, number];
        out.push((b0 << 8) | b1, (b2 << 8) | b3);
      } else out.push(parseInt(w, 16));
    }
    return out;
  };
  const h = parse(head);
  const t = tail === null ? [] : parse(tail);
  words.push(...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t);
  let out = '';
  for (const w of words) out += String.fromCharCode(w >> 8, w & 0xff);
  return out;
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
  // nginx logs the request line's target as sent: an absolute-form one stays absolute here
  request: (r) => `${r.method} ${r.rawTarget ?? r.requestUri} HTTP/${r.httpVersion}`,
  request_method: (r) => r.method,
  request_uri: (r) => r.requestUri,
  uri: (r) => r.uri,
  document_uri: (r) => r.uri,
  args: (r) => r.args,
  query_string: (r) => r.args,
  is_args: (r) => (r.args === '' ? '' : '?'),
  request_id: requestId,
  status: (r) => (r.status === 0 ? '000' : String(r.status)),
  body_bytes_sent: (r) => String(r.bodyBytesSent),
  bytes_sent: (r) => String(r.bytesSent),
  request_length: (r) => String(r.requestLength),
  request_time: (r) => (Math.max(0, Date.now() - r.startMs) / 1000).toFixed(3),
  msec: () => (Date.now() / 1000).toFixed(3),
  time_local: () => (refreshTime(), cachedLocal),
  time_iso8601: () => (refreshTime(), cachedIso),
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
  ...Object.fromEntries(Object.entries(SSL_VARIABLES).map(([name, get]) => [name, (r: RequestInfo) => get(r.tls ?? null)])),
};

/**
 * A regex matched (server_name, location, rewrite): $1..$9 follow it, and its named captures
 * become variables of the request, as nginx stores them, so they outlive the next regex (a
 * server_name `(?<sub>)` still reads after a capturing location or a `rewrite ... last`).
 */
export function useCaptures(r: RequestInfo, captures: Captures): void {
  r.captures = captures;
  if (captures.named !== null) storeNamedCaptures(r, captures.named);
}

function storeNamedCaptures(r: RequestInfo, named: Readonly<Record<string, string | undefined>>): void {
  const vars = (r.vars ??= new Map());
  for (const k in named) vars.set(k, named[k] ?? '');
}

function declaredGetter(name: string, map: Getter | undefined): Getter {
  return (r) => {
    const v = r.vars?.get(name);
    if (v !== undefined) return v;
    const c = r.captures?.named?.[name];
    if (c !== undefined) return c;
    return map !== undefined ? map(r) : '';
  };
}

/** The getter for `$name`; throws UnknownVariableError when nothing defines it. */
export function variableGetter(name: string, ctx?: TemplateContext): Getter {
  const map = ctx?.maps?.get(name);
  // set/map/capture names may shadow nothing built in: nginx rejects `set $host`, so builtins first
  if (BUILTIN_VARIABLES.has(name)) return BUILTINS[name]!;
  if (map !== undefined || ctx?.declared?.has(name)) return declaredGetter(name, map);
  if (name.startsWith('http_') && name.length > 5) {
    const h = name.slice(5).replace(/_/g, '-').toLowerCase();
    return (r) => headerValue(r.headers, h);
  }
  if (name.startsWith('sent_http_') && name.length > 10) {
    const h = name.slice(10).replace(/_/g, '-').toLowerCase();
    // the upstream's Connection is never passed on: log the one tsproxy sent
    if (h === 'connection') return (r) => r.connectionHeader;
    return (r) => headerValue(r.responseHeaders, h);
  }
  if (name.startsWith('upstream_http_') && name.length > 14) {
    const h = name.slice(14).replace(/_/g, '-').toLowerCase();
    return (r) => (r.upstream === null ? '' : headerValue(r.responseHeaders, h));
  }
  if (name.startsWith('arg_') && name.length > 4) {
    const a = name.slice(4).toLowerCase();
    return (r) => argValue(r.args, a);
  }
  if (name.startsWith('cookie_') && name.length > 7) {
    const c = name.slice(7);
    return (r) => cookieValue(r.headers, c);
  }
  throw new UnknownVariableError(name);
}

export function captureGetter(index: number): Getter {
  return (r) => r.captures?.numbered[index] ?? '';
}

/**
 * Compile a template once; calling the result per request evaluates it. Throws
 * UnknownVariableError / TemplateSyntaxError (the config layer reports them with a position).
 */
export function compileTemplate(t: string, ctx?: TemplateContext): CompiledTemplate {
  const parts: (string | Getter)[] = parseTemplate(t).map((p) =>
    p.kind === 'literal' ? p.text : p.kind === 'capture' ? captureGetter(p.index) : variableGetter(p.name, ctx));
  let fn: (r: RequestInfo) => string;
  let constant: string | null = null;
  if (parts.length === 0) {
    constant = '';
    fn = () => '';
  } else if (parts.length === 1) {
    const only = parts[0]!;
    if (typeof only === 'string') {
      constant = only;
      fn = () => only;
    } else fn = only;
  } else if (parts.length === 2) {
    const [a, b] = parts as [string | Getter, string | Getter];
    fn = typeof a === 'string' ? (r) => a + (b as Getter)(r)
      : typeof b === 'string' ? (r) => a(r) + b
      : (r) => a(r) + b(r);
  } else {
    fn = (r) => {
      let s = '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        s += typeof p === 'string' ? p : p(r);
      }
      return s;
    };
  }
  const template = fn as CompiledTemplate;
  Object.defineProperty(template, 'constant', { value: constant, enumerable: true });
  return template;
}

// ---------------------------------------------------------------------------------------------
// map

/**
 * `map` blocks → lazily computed variables. Exact keys compare caseless (nginx's default);
 * regex keys are tried in file order, then the default. The value is cached in r.vars so a
 * variable used twice is computed once per request. Maps may read other maps (in any order).
 */
export function compileMaps(maps: readonly MapConfig[], ctx?: { declared?: ReadonlySet<string> }): CompiledMaps {
  const out = new Map<string, Getter>();
  const inner: TemplateContext = { maps: out, declared: ctx?.declared ?? new Set() };
  const pending: (() => void)[] = [];
  for (const m of maps) {
    const name = m.variable;
    let source: CompiledTemplate | null = null;
    let dflt: CompiledTemplate | null = null;
    let t: MapTables<CompiledTemplate> | null = null;
    // templates may name maps defined later, so compile them once every map is registered
    pending.push(() => {
      source = compileTemplate(m.source, inner);
      dflt = compileTemplate(m.defaultValue, inner);
      t = buildMapTables(m, (value) => compileTemplate(value, inner));
    });
    let computing = false;
    out.set(name, (r) => {
      const cached = r.vars?.get(name);
      if (cached !== undefined) return cached;
      // a map that reads itself (directly or through another map) yields '' instead of recursing
      if (computing) return '';
      computing = true;
      let v: string;
      try {
        let key = source!(r);
        if (m.hostnames && key.endsWith('.')) key = key.slice(0, -1);
        const hit = mapKeyLookup(t!, m.hostnames, key);
        if (hit !== undefined) v = hit(r);
        else {
          v = '';
          let found = false;
          for (const { re, value } of t!.regexes) {
            const mm = re.exec(key);
            if (mm === null) continue;
            const saved = r.captures;
            r.captures = { numbered: mm, named: mm.groups ?? null };
            try {
              v = value(r);
            } finally {
              r.captures = saved;
            }
            // nginx keeps a map regex's named captures as variables of the request
            if (mm.groups !== undefined) storeNamedCaptures(r, mm.groups);
            found = true;
            break;
          }
          if (!found) v = dflt!(r);
        }
      } finally {
        computing = false;
      }
      (r.vars ??= new Map()).set(name, v);
      return v;
    });
  }
  for (const p of pending) p();
  return out;
}
