/**
 * TLS session resumption and refusal, http and stream servers alike: `ssl_session_cache`,
 * `ssl_session_ticket_key`, `ssl_reject_handshake`. Values only; src/tls/sessions.ts applies them.
 */
import { parseNumber, parseSize } from '../units.js';
import type { SslSessionCache } from '../types.js';
import { err, flag, listSetting, pathArg, setting, type Context, type DirectiveSpec, type ValueParser } from './scope.js';

const HTTP_SSL: readonly Context[] = ['http', 'server'];
const STREAM_SSL: readonly Context[] = ['stream', 'stream_server'];

/** OpenSSL's default size of a builtin cache (SSL_SESSION_CACHE_MAX_SIZE_DEFAULT), as nginx's `builtin`. */
const BUILTIN_DEFAULT_SESSIONS = 20480;
/** nginx refuses a shared zone smaller than 8 pages. */
const MIN_SHARED_BYTES = 8 * 4096;

/**
 * nginx's ngx_http_ssl_session_cache: every argument is `off`, `none`, `builtin[:n]` or
 * `shared:name:size` (the last `shared` wins); `shared` alone means no builtin cache.
 */
const sessionCache: ValueParser<SslSessionCache> = (args, d, r) => {
  let builtin: SslSessionCache['builtin'] | undefined;
  let shared: SslSessionCache['shared'] = null;
  for (const a of args) {
    const v = a.value;
    const invalid = () => err(r, 'TSP_ERR_CONFIG_VALUE', `invalid session cache "${v}"`, a.loc);
    if (v === 'off' || v === 'none') builtin = v;
    else if (v === 'builtin') builtin = BUILTIN_DEFAULT_SESSIONS;
    else if (v.startsWith('builtin:')) {
      const n = parseNumber(v.slice('builtin:'.length));
      if (n === null) return invalid();
      builtin = n;
    } else if (v.startsWith('shared:')) {
      const colon = v.indexOf(':', 'shared:'.length);
      const name = colon < 0 ? '' : v.slice('shared:'.length, colon);
      const sizeBytes = colon < 0 ? null : parseSize(v.slice(colon + 1));
      if (name === '' || sizeBytes === null) return invalid();
      if (sizeBytes < MIN_SHARED_BYTES) return err(r, 'TSP_ERR_CONFIG_VALUE', `session cache "${v}" is too small`, a.loc);
      shared = { name, sizeBytes };
    } else {
      return invalid();
    }
  }
  return { builtin: builtin ?? (shared !== null ? null : 'none'), shared };
};


function sessionDirectives(contexts: readonly Context[], kind: 'http' | 'stream'): DirectiveSpec[] {
  return [
    setting({
      name: 'ssl_session_cache', contexts, kind, field: 'sslSessionCache', parse: sessionCache, args: [1, 2], default: 'none',
      syntax: 'ssl_session_cache off | none | [builtin[:size]] [shared:name:size];',
      summary: 'Server-side TLS session cache: resumption by session id (TLS 1.2) or stateful ticket (TLS 1.3, with `ssl_session_tickets off`).',
      note: '`shared` is shared by every worker process (held by the primary) and kept across reloads; `off` acts as `none` (Node cannot tell clients not to resume). Its size counts the bytes of the stored sessions.',
    }),
    listSetting({
      name: 'ssl_session_ticket_key', contexts, kind, field: 'sslSessionTicketKeys', parse: pathArg, args: [1, 1],
      syntax: 'ssl_session_ticket_key file;',
      summary: 'A 48- or 80-byte file of session ticket keys: the first encrypts tickets, every one decrypts them.',
      note: 'Without it the keys are made at start and shared by the worker processes. Tickets are AES-128 (Node): an 80-byte key is used through its first 16 bytes of AES and HMAC key, so its tickets do not resume on nginx.',
    }),
    setting({
      name: 'ssl_reject_handshake', contexts, kind, field: 'sslRejectHandshake', parse: flag, default: 'off',
      syntax: 'ssl_reject_handshake on | off;',
      summary: 'Refuse TLS handshakes the server is chosen for (a default server needs no certificate then).',
    }),
  ];
}

export const SSL_SESSION_DIRECTIVES: readonly DirectiveSpec[] = [
  ...sessionDirectives(HTTP_SSL, 'http'),
  ...sessionDirectives(STREAM_SSL, 'stream'),
];
