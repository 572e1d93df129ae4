/**
 * ngx.fetch's settings (ngx_http_js_module's js_fetch_* directives). tsproxy reads them in http {}
 * only: ngx.fetch is a global, and a script's promise continuations do not know their request.
 */
import type { Directive } from '../ast.js';
import type { JsFetchConfig } from '../js-types.js';
import { parseDuration, parseFlag, parseSize } from '../units.js';
import { err, resolvePath, type DirectiveSpec, type Scope } from './scope.js';
import { jsDraft } from './js.js';

function setFetch(scope: Scope, d: Directive, value: Partial<JsFetchConfig> | null): void {
  if (value === null) {
    err(scope.state.report, 'TSP_ERR_CONFIG_VALUE', `invalid value "${d.args[0]!.value}" in "${d.name}" directive`, d.args[0]!.loc);
    return;
  }
  const js = jsDraft(scope);
  if (js !== null) js.fetch = { ...js.fetch, ...value };
}

const NOTE = 'In http {} only (njs: server and location too).';

export const JS_FETCH_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'js_fetch_timeout', contexts: ['http'], args: [1, 1], syntax: 'js_fetch_timeout time;',
    summary: 'How long ngx.fetch waits between two reads or writes (default 60s): past it the Promise rejects with "read timed out".', note: NOTE,
    apply(scope, d) {
      const ms = parseDuration(d.args[0]!.value, 's');
      setFetch(scope, d, ms === null ? null : { timeoutMs: ms });
    },
  },
  {
    name: 'js_fetch_buffer_size', contexts: ['http'], args: [1, 1], syntax: 'js_fetch_buffer_size size;',
    summary: 'The longest response head ngx.fetch reads (default 16k).', note: NOTE,
    apply(scope, d) {
      const n = parseSize(d.args[0]!.value);
      setFetch(scope, d, n === null ? null : { bufferBytes: n });
    },
  },
  {
    name: 'js_fetch_max_response_buffer_size', contexts: ['http'], args: [1, 1], syntax: 'js_fetch_max_response_buffer_size size;',
    summary: 'The largest response body ngx.fetch keeps (default 1m); a larger one rejects (njs: "prematurely closed connection").', note: NOTE,
    apply(scope, d) {
      const n = parseSize(d.args[0]!.value);
      setFetch(scope, d, n === null ? null : { maxResponseBytes: n });
    },
  },
  {
    name: 'js_fetch_verify', contexts: ['http'], args: [1, 1], syntax: 'js_fetch_verify on | off;',
    summary: 'Whether ngx.fetch checks an HTTPS server\'s certificate and name (default on).', note: NOTE,
    apply(scope, d) {
      const on = parseFlag(d.args[0]!.value);
      setFetch(scope, d, on === null ? null : { verify: on });
    },
  },
  {
    name: 'js_fetch_trusted_certificate', contexts: ['http'], args: [1, 1], syntax: 'js_fetch_trusted_certificate file;',
    summary: 'The CA certificates (PEM) ngx.fetch checks HTTPS servers against (default: the system\'s).', note: `${NOTE} Relative paths resolve against the prefix.`,
    apply(scope, d) {
      setFetch(scope, d, { trustedCertificatePath: resolvePath(scope.state.prefix, d.args[0]!.value) });
    },
  },
];
