/**
 * http directives about the client connection that real nginx configs carry: request header
 * name rules (underscores_in_headers, ignore_invalid_headers, max_headers), lingering close and
 * reset_timedout_connection,
 * and output_buffers (accepted, no effect: responses are streamed, not buffered).
 */
import { count, flag, noEffect, oneOf, seconds, setting, type Context, type DirectiveSpec, type ValueParser } from './scope.js';
import { parseNumber, parseSize } from '../units.js';
import { err } from './scope.js';

const SRV2: readonly Context[] = ['http', 'server'];
const LOC3: readonly Context[] = ['http', 'server', 'location'];

/** A number above 0, refused with ngx_conf_set_num_slot's words ("invalid number"). */
const positiveNumber: ValueParser<number> = (args, d, r) => {
  const v = count(args, d, r);
  return v === 0 ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid number`, args[0]!.loc) : v;
};

const numberAndSize: ValueParser<true> = (args, d, r) => {
  if (parseNumber(args[0]!.value) === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${args[0]!.value}"`, args[0]!.loc);
  if (parseSize(args[1]!.value) === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${args[1]!.value}"`, args[1]!.loc);
  return true;
};

export const HTTP_CLIENT_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    kind: 'http', contexts: SRV2, name: 'underscores_in_headers', field: 'underscoresInHeaders', parse: flag, default: 'off',
    syntax: 'underscores_in_headers on | off;', summary: 'Allow "_" in request header names (off: such a header is invalid).',
  }),
  setting({
    kind: 'http', contexts: SRV2, name: 'ignore_invalid_headers', field: 'ignoreInvalidHeaders', parse: flag, default: 'on',
    syntax: 'ignore_invalid_headers on | off;',
    summary: 'Drop request headers whose names are not letters, digits and "-" (and "_" with underscores_in_headers).',
    note: 'off: any token name is passed on; a name that is not a token is a 400 either way (nginx).',
  }),
  setting({
    kind: 'http', contexts: SRV2, name: 'max_headers', field: 'maxHeaders', parse: positiveNumber, default: '1000',
    syntax: 'max_headers number;', summary: 'Most request header lines; more is a 400 (nginx 1.27.2+).',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'lingering_close', field: 'lingeringClose', parse: oneOf(['on', 'off', 'always'] as const), default: 'on',
    syntax: 'lingering_close on | off | always;',
    summary: 'Before closing a connection whose request body was not read, read and discard what the client still sends.',
    note: 'on: when a response ends before the request body was read; always: whenever the connection closes with data possibly coming; off: close at once.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'lingering_time', field: 'lingeringTimeMs', parse: seconds, default: '30s',
    syntax: 'lingering_time time;', summary: 'Longest lingering close.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'lingering_timeout', field: 'lingeringTimeoutMs', parse: seconds, default: '5s',
    syntax: 'lingering_timeout time;', summary: 'Longest wait for more client data during a lingering close.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'reset_timedout_connection', field: 'resetTimedoutConnection', parse: flag, default: 'off',
    syntax: 'reset_timedout_connection on | off;',
    summary: 'Close a connection whose request timed out (client_header_timeout, client_body_timeout, send_timeout), and one answered `return 444`, with a RST: its socket buffers are freed at once.',
    note: 'An idle keep-alive connection that times out is closed normally (nginx).',
  }),
  noEffect('output_buffers', LOC3, [2, 2], 'Buffers for reading a response from disk.', 'output_buffers number size;', numberAndSize),
];
