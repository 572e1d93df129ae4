/**
 * gzip, gzip_static and their settings (ngx_http_gzip_filter_module, ngx_http_gzip_static_module
 * and the gzip_* of the core module), and chunked_transfer_encoding. Values and nginx 1.22's -t
 * messages (checked with nginx); http/body-filters/ applies them. Grouped into GzipSettings at
 * assembly (config/filters-build.ts).
 */
import type { GzipDisableRegex, GzipProxied } from '../filter-types.js';
import { parseNumber } from '../units.js';
import {
  checkRegex, err, flag, invalidValue, noEffect, setting, size,
  type Context, type DirectiveSpec, type ValueParser,
} from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
const NOTE_PROXIED = 'Read as nginx reads it: only a request with a Via header is "proxied"; Expires and Cache-Control are the response\'s as it comes from the upstream (nginx: also after `expires`).';

const PROXIED: readonly GzipProxied[] = ['off', 'expired', 'no-cache', 'no-store', 'private', 'no_last_modified', 'no_etag', 'auth', 'any'];

const proxied: ValueParser<readonly GzipProxied[]> = (args, _d, r) => {
  const out: GzipProxied[] = [];
  for (const a of args) {
    const v = PROXIED.find((p) => p === a.value);
    if (v === undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}"`, a.loc);
    out.push(v);
  }
  return out;
};

/** gzip_types / sub_filter_types: MIME types, lowercase; text/html is always one (nginx). */
export const mimeTypes: ValueParser<readonly string[]> = (args, _d, r) => {
  const out = ['text/html'];
  for (const a of args) {
    if (a.value === '*') return ['*'];
    const t = a.value.toLowerCase();
    if (out.includes(t) && t !== 'text/html') r.warn('TSP_ERR_CONFIG_VALUE', `duplicate MIME type "${a.value}"`, a.loc);
    else if (!out.includes(t)) out.push(t);
  }
  return out;
};

const compLevel: ValueParser<number> = (args, _d, r) => {
  const n = parseNumber(args[0]!.value);
  return n === null || n < 1 || n > 9 ? err(r, 'TSP_ERR_CONFIG_VALUE', 'value must be between 1 and 9', args[0]!.loc) : n;
};

const httpVersion: ValueParser<'1.0' | '1.1'> = (args, _d, r) => {
  const v = args[0]!.value;
  return v === '1.0' || v === '1.1' ? v : err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${v}"`, args[0]!.loc);
};

/** `gzip_disable regex ... | msie6`: regexes match the User-Agent caselessly (nginx compiles them so). */
const disable: ValueParser<{ readonly regexes: readonly GzipDisableRegex[]; readonly msie6: boolean }> = (args, _d, r) => {
  const regexes: GzipDisableRegex[] = [];
  let msie6 = false;
  for (const a of args) {
    if (a.value === 'msie6') {
      msie6 = true;
      continue;
    }
    const re = checkRegex(r, a.value, 0, true, a.loc);
    if (re === undefined) return undefined;
    regexes.push({ source: re.source, flags: re.flags });
  }
  return { regexes, msie6 };
};

const staticMode: ValueParser<'off' | 'on' | 'always'> = (args, _d, r) => {
  const v = args[0]!.value;
  return v === 'off' || v === 'on' || v === 'always' ? v : err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${v}"`, args[0]!.loc);
};

const gzipBuffers: ValueParser<number> = (args, d, r) => {
  const n = parseNumber(args[0]!.value);
  if (n === null || n === 0) return invalidValue(r, args[0]!, d);
  return size([args[1]!], d, r);
};

export const GZIP_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    name: 'gzip', contexts: [...LOC3, 'if'], kind: 'http', field: 'gzip', parse: flag, default: 'off', syntax: 'gzip on | off;',
    summary: 'Compress responses (gzip) for clients that accept it: proxied, static files and local answers with status 200, 403 or 404.',
    note: 'Streams: each piece of a body is compressed as it comes and sent at once (nginx with proxy_buffering off), so a slow or SSE body is never held back. A response with `Cache-Control: no-transform` is left alone (nginx compresses it).',
  }),
  setting({
    name: 'gzip_static', contexts: LOC3, kind: 'http', field: 'gzipStatic', parse: staticMode, default: 'off', syntax: 'gzip_static on | off | always;',
    summary: 'Serve FILE.gz, when it exists, for a static FILE to a client that accepts gzip (`always`: to every client), with FILE\'s type and the .gz file\'s length, Last-Modified and ETag.',
  }),
  setting({
    name: 'gzip_comp_level', contexts: LOC3, kind: 'http', field: 'gzipCompLevel', parse: compLevel, default: '1', syntax: 'gzip_comp_level level;',
    summary: 'Compression level, 1 (fastest) to 9.',
  }),
  setting({
    name: 'gzip_min_length', contexts: LOC3, kind: 'http', field: 'gzipMinLengthBytes', parse: size, default: '20', syntax: 'gzip_min_length length;',
    summary: 'Responses whose Content-Length is known and shorter are not compressed.',
  }),
  setting({
    name: 'gzip_vary', contexts: LOC3, kind: 'http', field: 'gzipVary', parse: flag, default: 'off', syntax: 'gzip_vary on | off;',
    summary: 'Add `Vary: Accept-Encoding` to responses gzip or gzip_static could compress (also when this client gets them plain).',
  }),
  setting({
    name: 'gzip_proxied', contexts: LOC3, kind: 'http', field: 'gzipProxied', parse: proxied, args: [1, Infinity], default: 'off',
    syntax: 'gzip_proxied off | expired | no-cache | no-store | private | no_last_modified | no_etag | auth | any ...;',
    summary: 'Whether responses to requests with a Via header (from a proxy) are compressed, by the response\'s Expires, Cache-Control, Last-Modified, ETag and the request\'s Authorization.',
    note: NOTE_PROXIED,
  }),
  setting({
    name: 'gzip_types', contexts: LOC3, kind: 'http', field: 'gzipTypes', parse: mimeTypes, args: [1, Infinity], default: 'text/html',
    syntax: 'gzip_types mime-type ...;', summary: 'Content types compressed besides text/html (`*`: every type).',
  }),
  setting({
    name: 'gzip_disable', contexts: LOC3, kind: 'http', field: 'gzipDisable', parse: disable, args: [1, Infinity], initial: { regexes: [], msie6: false },
    syntax: 'gzip_disable regex ...;', summary: 'No compression for clients whose User-Agent matches a regex (caseless); `msie6` names MSIE 4-6.',
  }),
  setting({
    name: 'gzip_http_version', contexts: LOC3, kind: 'http', field: 'gzipHttpVersion', parse: httpVersion, default: '1.1', syntax: 'gzip_http_version 1.0 | 1.1;',
    summary: 'The lowest HTTP version of a request whose response is compressed.',
  }),
  noEffect('gzip_buffers', LOC3, [2, 2], 'Buffers for compressing a response (tsproxy compresses each piece as it comes).', 'gzip_buffers number size;', gzipBuffers),
  setting({
    name: 'chunked_transfer_encoding', contexts: LOC3, kind: 'http', field: 'chunkedTransferEncoding', parse: flag, default: 'on',
    syntax: 'chunked_transfer_encoding on | off;',
    summary: 'Chunked framing for HTTP/1.1 responses of unknown length; off: such a body ends with the connection (Connection: close).',
  }),
];
