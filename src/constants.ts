/**
 * Protocol constants (no directive defaults: those live in src/config/directives.ts).
 */

/**
 * RFC 9110 §7.6.1 hop-by-hop fields, lowercased; a proxy never forwards them as received.
 * `Trailer` is kept (chunked bodies pass through with their trailers); Proxy-Authorization
 * passes as nginx passes it.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
]);

/** Statuses add_header applies to without `always` (nginx ngx_http_headers_filter). */
export const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/** Methods whose request may be replayed on another peer after it was sent (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** Largest chunk size we accept: beyond 2^53 a JS number loses integer precision. */
export const MAX_CHUNK_SIZE = Number.MAX_SAFE_INTEGER;
/** Bound on one chunk-size line's extensions and on the whole trailer section. */
export const MAX_CHUNK_EXT_BYTES = 4096;
export const MAX_TRAILER_BYTES = 16 * 1024;
/** Bound on an upstream response head (nginx proxy_buffer_size is 4k/8k; be generous). */
export const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;

export const SERVER_NAME = 'tsproxy';

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Time-out',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  421: 'Misdirected Request',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  494: 'Request Header Or Cookie Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
  504: 'Gateway Time-out',
  505: 'HTTP Version Not Supported',
  507: 'Insufficient Storage',
};
