/**
 * Every error tsproxy raises or reports has a stable `code` from this registry
 * (fastify's FST_ERR_* idea). Code elsewhere branches on `code`, never on message text.
 * test/errors.test.ts keeps this list, the classes and the README's error table in sync.
 */
export const ERROR_CODES = {
  TSP_ERR_CONFIG_LEX: 'a character sequence the config lexer cannot read (e.g. an unterminated quote)',
  TSP_ERR_CONFIG_SYNTAX: 'the config does not follow the grammar (missing ";", "{" or "}")',
  TSP_ERR_CONFIG_UNKNOWN_DIRECTIVE: 'a directive name tsproxy does not know',
  TSP_ERR_CONFIG_UNSUPPORTED: 'an nginx directive tsproxy does not support (nginx has it, tsproxy does not)',
  TSP_ERR_CONFIG_NO_EFFECT: 'a directive accepted for nginx compatibility that has no effect in tsproxy (a -t notice)',
  TSP_ERR_CONFIG_NOT_ALLOWED: 'a directive used in a context where it is not allowed',
  TSP_ERR_CONFIG_ARGS: 'a directive with the wrong number of arguments',
  TSP_ERR_CONFIG_DUPLICATE: 'a directive given twice where only one is allowed',
  TSP_ERR_CONFIG_VALUE: 'an argument whose value is invalid for its directive',
  TSP_ERR_CONFIG_REFERENCE: 'a reference to something that does not exist, or a conflict between blocks',
  TSP_ERR_CONFIG_INCLUDE: 'an include or config file that cannot be read',
  TSP_ERR_CONFIG_SCRIPT: 'a js_import module that cannot be found or loaded (a syntax error), or a function it lacks',
  TSP_ERR_JS: 'a script function (js_content, js_set, js_access) that threw, rejected or timed out',
  TSP_ERR_CONFIG_TLS: 'a certificate, key, CA or password file that cannot be read or used (bad PEM, wrong passphrase, key not matching its certificate)',
  TSP_ERR_UPSTREAM_CONNECT: 'connecting to an upstream peer failed (502, retryable)',
  TSP_ERR_UPSTREAM_TIMEOUT: 'an upstream peer did not answer in time (504)',
  TSP_ERR_UPSTREAM_STDERR: 'a FastCGI server wrote to its stderr (logged as nginx does)',
  TSP_ERR_UPSTREAM_RESET: 'an upstream peer closed or reset the connection (502)',
  TSP_ERR_UPSTREAM_INVALID_HEADER: 'an upstream peer sent an invalid response head (502)',
  TSP_ERR_NO_LIVE_UPSTREAM: 'no peer of an upstream group is available (502)',
  TSP_ERR_RESOLVE: 'a name did not resolve through the configured `resolver` (nginx\'s "could not be resolved" line; the last good addresses stay)',
  TSP_ERR_REDIS: 'a `redis` block is unreachable (one line per outage; known keys keep their last peers, unknown keys get 502)',
  TSP_ERR_PEER_DISABLED: 'a peer reached max_fails and is left out for fail_timeout (warn)',
  TSP_ERR_CLIENT_ABORT: 'the client closed the connection before the response was complete',
  TSP_ERR_BODY_FILE: 'a request body file (a buffered body past client_body_buffer_size, client_body_in_file_only, $request_body_file) could not be written or read',
  TSP_ERR_CACHE_FILE: 'a proxy_cache entry file could not be written or read (the response goes out uncached, or is cut)',
  TSP_ERR_STATIC_FILE: 'a static file or directory could not be served (404, 403 or 500; nginx\'s error-log line)',
  TSP_ERR_LIMITED: 'a request or connection delayed or refused by limit_req / limit_conn (nginx\'s "limiting requests" lines)',
  TSP_ERR_LISTEN: 'a listen address could not be bound',
  TSP_ERR_SIGNAL: 'tsproxy -s could not signal the running instance',
  TSP_ERR_WORKER: 'a worker process failed to start',
  TSP_ERR_DAEMON: 'the daemonized process did not come up (daemon on)',
  TSP_ERR_USER: 'the "user" directive names a user or group that cannot be switched to',
  TSP_ERR_LOG_FILE: 'a log file (error_log, access_log) or the pid file cannot be opened',
  TSP_ERR_RELOAD: 'a reload that cannot be applied now (tsproxy is stopping, or the reload was already committed or aborted)',
  TSP_ERR_EXPLAIN: 'tsproxy --explain cannot explain the request given (not METHOD URL, no http listen for it, a --status URL that cannot be read)',
  TSP_ERR_INTERNAL: 'a broken invariant inside tsproxy (a bug: please report it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class TsproxyError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A position in a config file. Lines and columns are 1-based, as editors show them. */
export interface Loc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Length of the offending token in characters (for the caret line); 1 when unknown. */
  readonly length?: number;
}

export type Severity = 'emerg' | 'warn' | 'notice';

/** A config problem at a position. `severity: 'warn'` or `'notice'` never fails `-t` or a reload. */
export class ConfigError extends TsproxyError {
  readonly loc: Loc;
  readonly severity: Severity;
  constructor(code: ErrorCode, message: string, loc: Loc, severity: Severity = 'emerg') {
    super(code, message);
    this.loc = loc;
    this.severity = severity;
  }
  override toString(): string {
    return `${this.loc.file}:${this.loc.line}:${this.loc.column}: ${this.message}`;
  }
}

/**
 * A proxying failure that carries the status it maps to (like ws's err[kStatusCode]): what the
 * stream connect loop (tcp/proxy.ts) fails with, its code logged and its status the session's.
 */
export class ProxyError extends TsproxyError {
  readonly status: 502 | 503 | 504;
  /** True when nothing reached the upstream, so any request may be retried on another peer. */
  readonly beforeSend: boolean;
  constructor(code: ErrorCode, message: string, status: 502 | 503 | 504, beforeSend: boolean, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
    this.beforeSend = beforeSend;
  }
}

/** Order errors by file, then position, so `-t` prints them as they appear in the config. */
export function compareConfigErrors(a: ConfigError, b: ConfigError): number {
  if (a.loc.file !== b.loc.file) return a.loc.file < b.loc.file ? -1 : 1;
  return a.loc.line - b.loc.line || a.loc.column - b.loc.column;
}

/** strerror(3) texts of the errors a proxy meets, for nginx-style messages ("111: Connection refused"). */
const STRERROR: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EPIPE: 'Broken pipe',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ECONNABORTED: 'Software caused connection abort',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ETIMEDOUT: 'Connection timed out',
};

/**
 * An operating-system error as nginx prints it inside parentheses: `111: Connection refused`
 * (errno and strerror). Node gives the errno negated and no strerror text, hence the table;
 * an unknown code is shown as itself.
 */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null;
  const code = e?.code ?? '';
  const text = STRERROR[code] ?? (code !== '' ? code : (e?.message ?? String(err)));
  const errno = typeof e?.errno === 'number' ? Math.abs(e.errno) : 0;
  return errno > 0 ? `${errno}: ${text}` : text;
}
