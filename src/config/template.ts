/**
 * The pure half of the variable system: splitting a `$var` template into parts and knowing which
 * variable names exist. It lives under config/ so that validation can report unknown variables
 * at their position without importing src/http (imports go one way). src/http/variables.ts
 * turns the parts into getters.
 */

import { TsproxyError } from '../errors.js';
import { translatePcre } from './pcre.js';

export type TemplatePart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string }
  /** `$1`..`$9`: a numbered regex capture (nginx takes one digit only). */
  | { readonly kind: 'capture'; readonly index: number };

/** A template that does not follow nginx's `$name` / `${name}` syntax. */
export class TemplateSyntaxError extends TsproxyError {
  constructor(message: string) {
    super('TSP_ERR_CONFIG_VALUE', message);
  }
}

/**
 * A `$name` nobody defines; the config layer turns it into `unknown "name" variable` at its Loc
 * (with the code it reports every template problem with).
 */
export class UnknownVariableError extends TsproxyError {
  readonly variable: string;
  constructor(variable: string) {
    super('TSP_ERR_CONFIG_VALUE', `unknown "${variable}" variable`);
    this.variable = variable;
  }
}

const SSL_NAMES = [
  'ssl_protocol', 'ssl_cipher', 'ssl_server_name', 'ssl_client_verify', 'ssl_client_s_dn', 'ssl_client_i_dn',
  'ssl_client_serial', 'ssl_client_fingerprint', 'ssl_session_reused', 'ssl_alpn_protocol',
  'ssl_session_id', 'ssl_ciphers', 'ssl_curve', 'ssl_curves', 'ssl_client_cert', 'ssl_client_raw_cert', 'ssl_client_escaped_cert',
  'ssl_client_s_dn_legacy', 'ssl_client_i_dn_legacy', 'ssl_client_v_start', 'ssl_client_v_end', 'ssl_client_v_remain',
];

/** http variables with a fixed name (nginx core, upstream, proxy, ssl, and tsproxy's $connection_upgrade). */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set([
  'host', 'hostname', 'pid', 'remote_addr', 'binary_remote_addr', 'remote_port', 'remote_user',
  'server_addr', 'server_port', 'server_name', 'server_protocol', 'scheme', 'https', 'http2',
  'request', 'request_method', 'request_uri', 'uri', 'document_uri', 'args', 'query_string', 'is_args',
  'request_id', 'status', 'body_bytes_sent', 'bytes_sent', 'request_length', 'request_time', 'msec',
  'time_local', 'time_iso8601', 'upstream_addr', 'upstream_status', 'upstream_response_time',
  'upstream_connect_time', 'upstream_header_time', 'upstream_bytes_received', 'upstream_bytes_sent',
  'upstream_response_length', 'upstream_cache_status', 'proxy_host', 'proxy_port', 'proxy_add_x_forwarded_for',
  'connection', 'connection_requests', 'content_length', 'content_type', 'connection_upgrade',
  'realip_remote_addr', 'realip_remote_port', 'proxy_protocol_addr', 'proxy_protocol_port',
  'request_body', 'request_body_file', 'document_root', 'request_filename',
  'fastcgi_script_name', 'fastcgi_path_info', 'nginx_version', 'realpath_root',
  'limit_req_status', 'limit_conn_status', 'limit_rate', 'connections_active', 'connections_reading', 'connections_writing', 'connections_waiting', 'gzip_ratio',
  ...SSL_NAMES,
]);

/** Families of http variables whose suffix names something of the request or response. */
export const VARIABLE_PREFIXES: readonly string[] = ['http_', 'sent_http_', 'upstream_http_', 'arg_', 'cookie_'];

/** stream {} variables (nginx's stream core, upstream, realip, ssl_preread and ssl modules). */
export const STREAM_BUILTIN_VARIABLES: ReadonlySet<string> = new Set([
  'remote_addr', 'remote_port', 'binary_remote_addr', 'server_addr', 'server_port', 'server_name',
  'bytes_sent', 'bytes_received', 'session_time', 'status', 'protocol', 'connection',
  'upstream_addr', 'upstream_bytes_sent', 'upstream_bytes_received', 'upstream_connect_time',
  'upstream_first_byte_time', 'upstream_session_time',
  'ssl_preread_server_name', 'ssl_preread_alpn_protocols', 'ssl_preread_protocol', 'proxy_protocol_addr', 'proxy_protocol_port',
  'host', 'realip_remote_addr', 'realip_remote_port', 'time_local', 'time_iso8601', 'msec', 'pid', 'hostname',
  'limit_conn_status',
  ...SSL_NAMES,
]);

/**
 * Variables nginx (1.22 and its common modules) knows and tsproxy does not compute: -t names them
 * as unsupported rather than unknown, so an operator knows the config is not simply misspelt.
 */
const NGINX_ONLY_HTTP: ReadonlySet<string> = new Set([
  'request_completion',
  'pipe', 'connection_time', 'tcpinfo_rtt', 'tcpinfo_rttvar', 'tcpinfo_snd_cwnd',
  'tcpinfo_rcv_space', 'proxy_protocol_server_addr', 'proxy_protocol_server_port',
  'upstream_queue_time', 'upstream_last_server_name', 'proxy_internal_body_length', 'proxy_internal_chunked',
  'http2', 'invalid_referer', 'secure_link',
  'secure_link_expires', 'date_local', 'date_gmt', 'uid_got', 'uid_set',
  'uid_reset', 'msie', 'modern_browser', 'ancient_browser', 'ssl_early_data',
]);
const NGINX_ONLY_STREAM: ReadonlySet<string> = new Set([
  'nginx_version', 'proxy_protocol_server_addr', 'proxy_protocol_server_port',
]);
const NGINX_ONLY_PREFIXES: readonly string[] = ['sent_trailer_', 'upstream_trailer_', 'upstream_cookie_', 'geoip_', 'jwt_'];

export type VariableArea = 'http' | 'stream';

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/** Whether `name` (without `$`) is a built-in or prefixed variable; `declared` adds set/map/capture names. */
export function isKnownVariable(name: string, declared?: ReadonlySet<string>, area: VariableArea = 'http'): boolean {
  if (declared?.has(name)) return true;
  if (area === 'stream') return STREAM_BUILTIN_VARIABLES.has(name);
  if (BUILTIN_VARIABLES.has(name)) return true;
  for (const p of VARIABLE_PREFIXES) {
    if (name.length > p.length && name.startsWith(p)) return true;
  }
  return false;
}

/** Why `name` cannot be used, as -t says it: unknown (nginx's wording), or known to nginx only. */
export function unknownVariableMessage(name: string, area: VariableArea): string {
  return isNginxOnlyVariable(name, area) ? `the "${name}" variable is not supported by tsproxy` : new UnknownVariableError(name).message;
}

/** Whether nginx knows `name` and tsproxy does not compute it. */
function isNginxOnlyVariable(name: string, area: VariableArea): boolean {
  return (area === 'http' ? NGINX_ONLY_HTTP : NGINX_ONLY_STREAM).has(name)
    || NGINX_ONLY_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length);
}

/**
 * Split a template into literal, variable and capture parts, as nginx's script compiler does.
 * Adjacent literals are merged. Throws TemplateSyntaxError on `$` without a name or an
 * unterminated `${`.
 */
export function parseTemplate(t: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  const n = t.length;
  while (i < n) {
    const dollar = t.indexOf('$', i);
    if (dollar === -1) {
      literal += t.slice(i);
      break;
    }
    literal += t.slice(i, dollar);
    let j = dollar + 1;
    const c = j < n ? t.charCodeAt(j) : -1;
    if (c >= 0x31 && c <= 0x39) {
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push({ kind: 'capture', index: c - 0x30 });
      i = j + 1;
      continue;
    }
    let name: string;
    if (c === 0x7b /* { */) {
      const close = t.indexOf('}', j + 1);
      if (close === -1) throw new TemplateSyntaxError(`the closing bracket in "${t.slice(j + 1)}" variable is missing`);
      name = t.slice(j + 1, close);
      for (let k = 0; k < name.length; k++) {
        if (!isNameChar(name.charCodeAt(k))) throw new TemplateSyntaxError(`invalid variable name "${name}"`);
      }
      i = close + 1;
    } else {
      while (j < n && isNameChar(t.charCodeAt(j))) j++;
      name = t.slice(dollar + 1, j);
      i = j;
    }
    if (name === '') throw new TemplateSyntaxError(`invalid variable name in "${t}"`);
    const digit = name.charCodeAt(0);
    if (name.length === 1 && digit >= 0x31 && digit <= 0x39) {
      // `${1}` is the same capture as `$1`
      if (literal) parts.push({ kind: 'literal', text: literal });
      literal = '';
      parts.push({ kind: 'capture', index: digit - 0x30 });
      continue;
    }
    if (literal) parts.push({ kind: 'literal', text: literal });
    literal = '';
    parts.push({ kind: 'variable', name });
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return parts;
}

/** Names of the variables a template references, in order, without duplicates. */
export function listVariables(t: string): string[] {
  const seen = new Set<string>();
  for (const p of parseTemplate(t)) if (p.kind === 'variable') seen.add(p.name);
  return [...seen];
}

/**
 * The first problem of a template, as nginx words it, with its offset in the template, or null.
 * `declared` holds the names made by `set`, `map` and named regex captures.
 */
export interface TemplateProblem {
  readonly message: string;
  readonly offset: number;
  readonly length: number;
  /** A variable nginx has and tsproxy does not compute (not a syntax error, not an unknown name). */
  readonly nginxOnly?: true;
}

/** The first problem of a template (see templateProblems), or null. */
export function checkTemplate(t: string, declared?: ReadonlySet<string>, area: VariableArea = 'http'): TemplateProblem | null {
  return templateProblems(t, declared, area)[0] ?? null;
}

/** Every problem of a template: a syntax error, or each variable nothing defines (once per name). */
export function templateProblems(t: string, declared?: ReadonlySet<string>, area: VariableArea = 'http'): TemplateProblem[] {
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(t);
  } catch (err) {
    return [{ message: (err as Error).message, offset: 0, length: t.length }];
  }
  const out: TemplateProblem[] = [];
  let reported: Set<string> | null = null;
  for (const p of parts) {
    if (p.kind !== 'variable' || isKnownVariable(p.name, declared, area) || reported?.has(p.name)) continue;
    (reported ??= new Set()).add(p.name);
    const at = findReference(t, p.name);
    out.push({
      message: unknownVariableMessage(p.name, area), offset: at.offset, length: at.length,
      ...(isNginxOnlyVariable(p.name, area) ? { nginxOnly: true as const } : {}),
    });
  }
  return out;
}

/** Where `$name` / `${name}` is written in `t` (for the caret). */
function findReference(t: string, name: string): { offset: number; length: number } {
  for (let i = t.indexOf('$'); i !== -1; i = t.indexOf('$', i + 1)) {
    if (t.startsWith(`{${name}}`, i + 1)) return { offset: i, length: name.length + 3 };
    if (t.startsWith(name, i + 1) && !isNameChar(t.charCodeAt(i + 1 + name.length))) return { offset: i, length: name.length + 1 };
  }
  return { offset: 0, length: t.length };
}

/**
 * A config regex (PCRE, as nginx compiles it) as a JS RegExp: see pcre.ts. Throws
 * (TSP_ERR_CONFIG_VALUE) for what -t refuses (the config layer reports it with a position before this runs).
 */
export function compileConfigRegex(source: string, caseless: boolean): RegExp {
  const t = translatePcre(source, caseless);
  if (!t.ok) throw new TsproxyError('TSP_ERR_CONFIG_VALUE', `invalid regex "${source}": ${t.error.message}`);
  return new RegExp(t.value.source, t.value.flags);
}

/** Names of the named groups of a config regex: they become variables when it matches. */
export function regexCaptureNames(source: string): string[] {
  const t = translatePcre(source, false);
  return t.ok ? [...t.value.names] : [];
}
