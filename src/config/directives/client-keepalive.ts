/**
 * keepalive_time for client connections (nginx 1.19.10, ngx_http_core_module): how long one
 * connection may go on serving requests, counted from its accept. An HTTP/1.1 connection answers
 * the request that finds it older with `Connection: close`; an HTTP/2 session sends GOAWAY on the
 * stream that finds it older (that stream is still served). The `upstream` form (kept-alive
 * upstream connections) lives in upstream.ts.
 */
import { seconds, setting, type DirectiveSpec } from './scope.js';

export const CLIENT_KEEPALIVE_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    name: 'keepalive_time', contexts: ['http', 'server'], kind: 'http', field: 'clientKeepaliveTimeMs', parse: seconds, initial: null,
    syntax: 'keepalive_time time;', summary: 'How long a client connection may serve requests, counted from its accept (1h by default).',
    note: 'http and server levels (nginx also takes it in a location); the default server of the address decides.',
  }),
];
