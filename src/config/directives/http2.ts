/**
 * nginx's http2_* tuning directives (ngx_http_v2_module). The ones that map to something node's
 * http2 lets us set are applied (http2_max_concurrent_streams → SETTINGS_MAX_CONCURRENT_STREAMS,
 * http2_body_preread_size → the stream's initial window); the others are accepted so nginx
 * configs load, with nginx's checks and, for the ones nginx 1.19.7 made obsolete, nginx's warning
 * naming the directive that replaced them (checked with nginx 1.22 `-t`).
 */
import {
  count, err, flag, noEffect, positive, seconds, setting, size,
  type Context, type DirectiveSpec, type ValueParser,
} from './scope.js';

const HTTP_SERVER: readonly Context[] = ['http', 'server'];
const LOC3: readonly Context[] = ['http', 'server', 'location'];

/** nginx refuses an http2_streams_index_size that is not a power of two. */
const powerOfTwo: ValueParser<number> = (args, d, r) => {
  const n = count(args, d, r);
  if (n === undefined) return undefined;
  if (n === 0 || (n & (n - 1)) !== 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive must be a power of two`, args[0]!.loc);
  return n;
};

/** nginx's lower bound for http2_recv_buffer_size: twice its 16-byte frame state buffer. */
const RECV_BUFFER_MIN_BYTES = 2 * 16;

const recvBufferSize: ValueParser<number> = (args, d, r) => {
  const n = size(args, d, r);
  if (n === undefined) return undefined;
  return n <= RECV_BUFFER_MIN_BYTES ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive value is too small`, args[0]!.loc) : n;
};

const chunkSize: ValueParser<number> = (args, d, r) => {
  const n = size(args, d, r);
  if (n === undefined) return undefined;
  return n === 0 ? err(r, 'TSP_ERR_CONFIG_VALUE', `the http2 chunk size cannot be zero`, args[0]!.loc) : n;
};

/** A directive nginx 1.19.7 made obsolete: accepted with nginx's warning, no effect. */
function obsolete(name: string, replacement: string, parse: ValueParser<unknown>, syntax: string): DirectiveSpec {
  return {
    name, contexts: HTTP_SERVER, args: [1, 1], syntax,
    summary: `Obsolete since nginx 1.19.7: \`${replacement}\` applies.`,
    note: `Accepted with nginx's warning; \`${replacement}\` is what limits HTTP/2 too.`,
    apply(scope, d) {
      if (parse(d.args, d, scope.state.report) === undefined) return;
      scope.state.report.warn('TSP_ERR_CONFIG_VALUE', `the "${name}" directive is obsolete, use the "${replacement}" directive instead`, d.loc);
    },
  };
}

export const HTTP2_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    name: 'http2_max_concurrent_streams', contexts: HTTP_SERVER, kind: 'http', field: 'http2MaxConcurrentStreams', parse: count, initial: null,
    syntax: 'http2_max_concurrent_streams number;', summary: 'Most concurrent streams in one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS; 128 by default).',
    note: 'Read from the default server of the address, as the session is set up before a request names a server.',
  }),
  setting({
    name: 'http2_body_preread_size', contexts: HTTP_SERVER, kind: 'http', field: 'http2BodyPrereadSizeBytes', parse: size, initial: null,
    syntax: 'http2_body_preread_size size;', summary: 'Request body a stream may send before it is read: the stream\'s initial flow-control window (256k by default; nginx 64k).',
    note: 'Read from the default server of the address.',
  }),
  { ...noEffect('http2_chunk_size', LOC3, [1, 1], 'Largest DATA frame of a response.', 'http2_chunk_size size;', chunkSize), note: 'Accepted with nginx\'s checks; no effect: node\'s http2 cuts DATA frames at the client\'s SETTINGS_MAX_FRAME_SIZE (16k by default).' },
  { ...noEffect('http2_recv_buffer_size', ['http'], [1, 1], 'Per-worker input buffer.', 'http2_recv_buffer_size size;', recvBufferSize), note: 'Accepted with nginx\'s checks; no effect: node\'s http2 reads into its own buffers.' },
  { ...noEffect('http2_streams_index_size', HTTP_SERVER, [1, 1], 'Size of the stream index table.', 'http2_streams_index_size number;', powerOfTwo), note: 'Accepted with nginx\'s checks (a power of two); no effect.' },
  { ...noEffect('http2_push', LOC3, [1, 1], 'Server push (removed in nginx 1.25.1).', 'http2_push uri | off;'), note: 'Accepted; no effect: tsproxy never pushes (current nginx ignores it too).' },
  { ...noEffect('http2_push_preload', LOC3, [1, 1], 'Push on Link: preload (removed in nginx 1.25.1).', 'http2_push_preload on | off;', flag), note: 'Accepted; no effect: tsproxy never pushes.' },
  { ...noEffect('http2_max_concurrent_pushes', HTTP_SERVER, [1, 1], 'Most concurrent pushes (removed in nginx 1.25.1).', 'http2_max_concurrent_pushes number;', count), note: 'Accepted; no effect: tsproxy never pushes.' },
  obsolete('http2_idle_timeout', 'keepalive_timeout', seconds, 'http2_idle_timeout time;'),
  obsolete('http2_recv_timeout', 'client_header_timeout', seconds, 'http2_recv_timeout time;'),
  obsolete('http2_max_requests', 'keepalive_requests', positive, 'http2_max_requests number;'),
  obsolete('http2_max_field_size', 'large_client_header_buffers', size, 'http2_max_field_size size;'),
  obsolete('http2_max_header_size', 'large_client_header_buffers', size, 'http2_max_header_size size;'),
];
