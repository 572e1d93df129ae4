/**
 * The pure half of the variable system: splitting a `$var` template into parts and knowing which
 * variable names exist. It lives under config/ so that validation can report unknown variables
 * at their position without importing src/http (imports go one way). src/http/variables.ts
 * turns the parts into getters.
 */

export type TemplatePart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string }
  /** `$1`..`$9`: a numbered regex capture (nginx takes one digit only). */
  | { readonly kind: 'capture'; readonly index: number };

/** A template that does not follow nginx's `$name` / `${name}` syntax. */
export class TemplateSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateSyntaxError';
  }
}

/** A `$name` nobody defines; the config layer turns it into `unknown "name" variable` at its Loc. */
export class UnknownVariableError extends Error {
  readonly variable: string;
  constructor(variable: string) {
    super(`unknown "${variable}" variable`);
    this.name = 'UnknownVariableError';
    this.variable = variable;
  }
}

/** Variables with a fixed name (nginx core, upstream, proxy, and tsproxy's $connection_upgrade). */
export const BUILTIN_VARIABLES: ReadonlySet<string> = new Set([
  'host', 'hostname', 'pid', 'remote_addr', 'binary_remote_addr', 'remote_port', 'remote_user',
  'server_addr', 'server_port', 'server_name', 'server_protocol', 'scheme', 'https',
  'request', 'request_method', 'request_uri', 'uri', 'document_uri', 'args', 'query_string', 'is_args',
  'request_id', 'status', 'body_bytes_sent', 'bytes_sent', 'request_length', 'request_time', 'msec',
  'time_local', 'time_iso8601', 'upstream_addr', 'upstream_status', 'upstream_response_time',
  'upstream_connect_time', 'upstream_header_time', 'proxy_host', 'proxy_add_x_forwarded_for',
  'connection', 'connection_requests', 'content_length', 'content_type', 'connection_upgrade',
  'ssl_protocol', 'ssl_cipher', 'ssl_server_name', 'ssl_client_verify', 'ssl_client_s_dn', 'ssl_client_i_dn',
  'ssl_client_serial', 'ssl_client_fingerprint', 'ssl_session_reused', 'ssl_alpn_protocol',
]);

/** Families of variables whose suffix names something of the request or response. */
export const VARIABLE_PREFIXES: readonly string[] = ['http_', 'sent_http_', 'arg_', 'cookie_'];

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/** Whether `name` (without `$`) is a built-in or prefixed variable; `declared` adds set/map/capture names. */
export function isKnownVariable(name: string, declared?: ReadonlySet<string>): boolean {
  if (BUILTIN_VARIABLES.has(name) || declared?.has(name)) return true;
  for (const p of VARIABLE_PREFIXES) {
    if (name.length > p.length && name.startsWith(p)) return true;
  }
  return false;
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
 * The first problem of a template, as nginx words it, or null: for config validation.
 * `declared` holds the names made by `set`, `map` and named regex captures.
 */
export function checkTemplate(t: string, declared?: ReadonlySet<string>): string | null {
  let parts: TemplatePart[];
  try {
    parts = parseTemplate(t);
  } catch (err) {
    return (err as Error).message;
  }
  for (const p of parts) {
    if (p.kind === 'variable' && !isKnownVariable(p.name, declared)) return new UnknownVariableError(p.name).message;
  }
  return null;
}

/**
 * A PCRE pattern from the config as a JS RegExp source: `(?P<name>` (PCRE's Python syntax, common
 * in nginx configs) becomes `(?<name>`. Throws SyntaxError when JS cannot compile it.
 */
export function compileConfigRegex(source: string, caseless: boolean): RegExp {
  return new RegExp(source.replace(/\(\?P</g, '(?<'), caseless ? 'i' : '');
}

/** Names of the named groups of a config regex: they become variables when it matches. */
export function regexCaptureNames(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/g)) names.push(m[1]!);
  return names;
}
