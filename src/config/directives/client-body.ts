/**
 * http directives about what is kept of a request body, for $request_body and $request_body_file
 * (nginx's core module): client_body_buffer_size, client_body_in_file_only,
 * client_body_in_single_buffer, client_body_temp_path, and proxy_request_buffering.
 */
import { parseNumber } from '../units.js';
import { err, flag, oneOf, setting, size, type Context, type DirectiveSpec, type ValueParser } from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];

/** `path [level1 [level2 [level3]]]`: each level 1+ digits of the file name, 10 in all (nginx). */
const tempPath: ValueParser<{ readonly path: string; readonly levels: readonly number[] }> = (args, d, r) => {
  const levels: number[] = [];
  for (const a of args.slice(1)) {
    const n = parseNumber(a.value);
    if (n === null || n === 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, a.loc);
    levels.push(n);
  }
  if (levels.reduce((sum, n) => sum + n, 0) > 10) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[1]!.loc);
  return { path: args[0]!.value, levels };
};

export const CLIENT_BODY_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    kind: 'http', contexts: LOC3, name: 'client_body_buffer_size', field: 'clientBodyBufferSizeBytes', parse: size, default: '16k',
    syntax: 'client_body_buffer_size size;', summary: 'Largest request body read before the upstream is asked (proxy_request_buffering) and kept in memory for $request_body; a larger one goes to a file.',
    note: 'nginx: 8k|16k, the buffer the body is read into.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'client_body_in_file_only', field: 'clientBodyInFileOnly', parse: oneOf(['off', 'on', 'clean'] as const), default: 'off',
    syntax: 'client_body_in_file_only on | clean | off;', summary: 'Write every proxied request body to a file ($request_body_file): `on` keeps it, `clean` removes it after the request.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'client_body_in_single_buffer', field: 'clientBodyInSingleBuffer', parse: flag, default: 'off',
    syntax: 'client_body_in_single_buffer on | off;', summary: 'Keep the request body in one buffer.',
    note: 'No visible effect: $request_body is always the whole body when it fits client_body_buffer_size (nginx 1.22 also joins its buffers).',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'client_body_temp_path', field: 'clientBodyTempPath', parse: tempPath, args: [1, 4], default: 'client_body_temp',
    syntax: 'client_body_temp_path path [level1 [level2 [level3]]];', summary: 'Directory of request body files (a buffered body past client_body_buffer_size, client_body_in_file_only, $request_body_file).',
    note: 'Resolved against the prefix; created when the first file is written.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'proxy_request_buffering', field: 'proxyRequestBuffering', parse: flag, default: 'on',
    syntax: 'proxy_request_buffering on | off;', summary: 'on: the request body is read before the upstream is asked (100 Continue from the proxy), past client_body_buffer_size into a temp file; off: it streams at once, and no copy is kept ($request_body, $request_body_file stay empty).',
  }),
];
