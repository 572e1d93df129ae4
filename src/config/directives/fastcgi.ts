/**
 * The FastCGI module (nginx's ngx_http_fastcgi_module): fastcgi_pass and the settings of its
 * requests. Messages are nginx 1.22's (checked with nginx -t). The settings are grouped into
 * LocationSettings.fastcgi (mergeFastcgi), present only where some level sets one of them.
 */
import type { Arg } from '../ast.js';
import type { FastcgiSettings } from '../fastcgi-types.js';
import type { NextUpstreamCondition } from '../types.js';
import { contentHandlerTaken, nextUpstream } from './http.js';
import {
  checkRegex, count, err, flag, invalidParameter, listSetting, seconds, setting,
  type Context, type DirectiveSpec, type SettingOptions, type TargetDraft, type ValueField, type ValueParser,
} from './scope.js';
import type { OwnOf } from './settings.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];

const fcgi = <F extends ValueField<'http'>>(o: Omit<SettingOptions<'http', F>, 'kind' | 'contexts'> & { contexts?: readonly Context[] }): DirectiveSpec =>
  setting({ contexts: LOC3, kind: 'http', ...o });

/** `fastcgi_param name value [if_not_empty]`: the value is a template. */
const fastcgiParam: ValueParser<{ name: string; value: string; ifNotEmpty: boolean }> = (args, _d, r) => {
  const ifNotEmpty = args[2] !== undefined;
  if (ifNotEmpty && args[2]!.value !== 'if_not_empty') return invalidParameter(r, args[2]!);
  return { name: args[0]!.value, value: args[1]!.value, ifNotEmpty };
};

/** fastcgi_next_upstream: proxy_next_upstream's conditions less http_502 / http_504, which nginx's FastCGI module has not. */
const fastcgiNextUpstream: ValueParser<NextUpstreamCondition[]> = (args, d, r) => {
  const bad = args.find((a) => a.value === 'http_502' || a.value === 'http_504');
  if (bad !== undefined) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${bad.value}"`, bad.loc);
  return nextUpstream(args, d, r);
};

/** fastcgi_split_path_info: a regex with exactly two captures (nginx -t's check and words). */
const splitPathInfo: ValueParser<string> = (args, _d, r) => {
  const a = args[0]!;
  const re = checkRegex(r, a.value, 0, false, a.loc);
  if (re === undefined) return undefined;
  if (re.groups !== 2) return err(r, 'TSP_ERR_CONFIG_VALUE', `pattern "${a.value}" must have 2 captures`, a.loc);
  return a.value;
};

/** `fastcgi_pass address`: host:port, unix:path, or an upstream's name (no scheme, no default port). */
function fastcgiTarget(a: Arg): TargetDraft {
  const unix = a.value.startsWith('unix:');
  return {
    scheme: 'http', upstream: a.value, uri: null, dynamic: false, raw: a.value, loc: a.loc,
    hasPort: unix || (a.value.startsWith('[') ? /\]:\d+$/.test(a.value) : /:\d+$/.test(a.value)), area: 'http', noDefaultPort: true,
  };
}

export const FASTCGI_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'fastcgi_pass', contexts: ['location', 'if'], args: [1, 1], syntax: 'fastcgi_pass address;',
    summary: 'Pass requests to a FastCGI server (PHP-FPM): `host:port`, `unix:path` or an upstream group.',
    note: 'Balancing, passive health and fastcgi_next_upstream work as for proxy_pass. Variables in the address are not supported.',
    apply(scope, d) {
      const loc = scope.location!;
      const r = scope.state.report;
      if (contentHandlerTaken(loc)) { err(r, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      const a = d.args[0]!;
      if (a.value.includes('$')) { err(r, 'TSP_ERR_CONFIG_UNSUPPORTED', '"fastcgi_pass" with variables is not supported by tsproxy', a.loc); return; }
      if (a.value === 'unix:') { err(r, 'TSP_ERR_CONFIG_VALUE', 'no path in the unix domain socket in upstream "unix:"', a.loc); return; }
      const t = fastcgiTarget(a);
      scope.state.targets.push(t);
      loc.fastcgi = t;
    },
  },
  listSetting({
    name: 'fastcgi_param', contexts: LOC3, kind: 'http', field: 'fastcgiParams', parse: fastcgiParam, args: [2, 3], templates: 1,
    syntax: 'fastcgi_param parameter value [if_not_empty];', summary: 'A parameter passed to the FastCGI server (inherited as proxy_set_header).',
    note: 'With `if_not_empty` an empty value is not sent. A parameter named `HTTP_*` replaces the request header of that name.',
  }),
  fcgi({ name: 'fastcgi_index', field: 'fastcgiIndex', parse: (a) => a[0]!.value, initial: '', syntax: 'fastcgi_index name;', summary: 'File name appended to $fastcgi_script_name when the URI ends in /.' }),
  fcgi({
    name: 'fastcgi_split_path_info', field: 'fastcgiSplitPathInfo', parse: splitPathInfo, initial: '',
    syntax: 'fastcgi_split_path_info regex;', summary: 'Regex with two captures splitting $uri into $fastcgi_script_name and $fastcgi_path_info.',
  }),
  fcgi({ name: 'fastcgi_keep_conn', field: 'fastcgiKeepConn', parse: flag, default: 'off', syntax: 'fastcgi_keep_conn on | off;', summary: 'Ask the FastCGI server to keep the connection open (FCGI_KEEP_CONN) and pool it.', note: 'Connections are kept up to the upstream\'s `keepalive` (implicit groups: tsproxy\'s default).' }),
  fcgi({ name: 'fastcgi_connect_timeout', field: 'fastcgiConnectTimeoutMs', parse: seconds, default: '60s', syntax: 'fastcgi_connect_timeout time;', summary: 'Timeout for connecting to a FastCGI server.' }),
  fcgi({ name: 'fastcgi_read_timeout', field: 'fastcgiReadTimeoutMs', parse: seconds, default: '60s', syntax: 'fastcgi_read_timeout time;', summary: 'Timeout between two reads from a FastCGI server.' }),
  fcgi({ name: 'fastcgi_send_timeout', field: 'fastcgiSendTimeoutMs', parse: seconds, default: '60s', syntax: 'fastcgi_send_timeout time;', summary: 'Timeout between two writes to a FastCGI server.' }),
  fcgi({ name: 'fastcgi_intercept_errors', field: 'fastcgiInterceptErrors', parse: flag, default: 'off', syntax: 'fastcgi_intercept_errors on | off;', summary: 'Answer FastCGI responses >= 300 with error_page.' }),
  fcgi({ name: 'fastcgi_pass_request_headers', field: 'fastcgiPassRequestHeaders', parse: flag, default: 'on', syntax: 'fastcgi_pass_request_headers on | off;', summary: 'Pass the request headers as HTTP_* parameters.' }),
  fcgi({ name: 'fastcgi_pass_request_body', field: 'fastcgiPassRequestBody', parse: flag, default: 'on', syntax: 'fastcgi_pass_request_body on | off;', summary: 'Pass the request body (STDIN).' }),
  fcgi({ name: 'fastcgi_next_upstream', field: 'fastcgiNextUpstream', parse: fastcgiNextUpstream, args: [1, Infinity], default: 'error timeout', syntax: 'fastcgi_next_upstream error | timeout | invalid_header | http_500 | http_503 | http_403 | http_404 | http_429 | non_idempotent | off ...;', summary: 'When to try the next FastCGI server.' }),
  fcgi({ name: 'fastcgi_next_upstream_tries', field: 'fastcgiNextUpstreamTries', parse: count, default: '0', syntax: 'fastcgi_next_upstream_tries number;', summary: 'Maximum tries (0: no limit).' }),
  fcgi({ name: 'fastcgi_next_upstream_timeout', field: 'fastcgiNextUpstreamTimeoutMs', parse: seconds, default: '0', syntax: 'fastcgi_next_upstream_timeout time;', summary: 'Time limit for trying FastCGI servers (0: no limit).' }),
  listSetting({ name: 'fastcgi_hide_header', contexts: LOC3, kind: 'http', field: 'fastcgiHideHeaders', parse: (a) => a[0]!.value.toLowerCase(), args: [1, 1], syntax: 'fastcgi_hide_header field;', summary: 'Do not pass this FastCGI response header to the client.' }),
  listSetting({ name: 'fastcgi_pass_header', contexts: LOC3, kind: 'http', field: 'fastcgiPassHeaders', parse: (a) => a[0]!.value.toLowerCase(), args: [1, 1], syntax: 'fastcgi_pass_header field;', summary: 'Pass a FastCGI response header that is hidden by default.' }),
];

/** Fields of the http draft that make up FastcgiSettings. */
type FastcgiOwn = Pick<OwnOf<'http'>,
  'fastcgiParams' | 'fastcgiIndex' | 'fastcgiSplitPathInfo' | 'fastcgiKeepConn' | 'fastcgiConnectTimeoutMs' | 'fastcgiReadTimeoutMs'
  | 'fastcgiSendTimeoutMs' | 'fastcgiInterceptErrors' | 'fastcgiHideHeaders' | 'fastcgiPassHeaders' | 'fastcgiPassRequestHeaders'
  | 'fastcgiPassRequestBody' | 'fastcgiNextUpstream' | 'fastcgiNextUpstreamTries' | 'fastcgiNextUpstreamTimeoutMs'>;

const MS_60S = 60_000;

/** nginx's defaults (what a fastcgi_pass location without any fastcgi_* setting uses). */
export const DEFAULT_FASTCGI: FastcgiSettings = {
  params: [], index: '', splitPathInfo: null, keepConn: false, connectTimeoutMs: MS_60S, readTimeoutMs: MS_60S, sendTimeoutMs: MS_60S,
  interceptErrors: false, hideHeaders: [], passHeaders: [], passRequestHeaders: true, passRequestBody: true,
  nextUpstream: ['error', 'timeout'], nextUpstreamTries: 0, nextUpstreamTimeoutMs: 0,
};

/** A level's FastcgiSettings: the parent's with this level's own values over them (the parent's object when none). */
export function mergeFastcgi(base: FastcgiSettings | undefined, own: FastcgiOwn): FastcgiSettings | undefined {
  if (own.fastcgiParams === undefined && own.fastcgiIndex === undefined && own.fastcgiSplitPathInfo === undefined && own.fastcgiKeepConn === undefined
    && own.fastcgiConnectTimeoutMs === undefined && own.fastcgiReadTimeoutMs === undefined && own.fastcgiSendTimeoutMs === undefined
    && own.fastcgiInterceptErrors === undefined && own.fastcgiHideHeaders === undefined && own.fastcgiPassHeaders === undefined
    && own.fastcgiPassRequestHeaders === undefined && own.fastcgiPassRequestBody === undefined && own.fastcgiNextUpstream === undefined
    && own.fastcgiNextUpstreamTries === undefined && own.fastcgiNextUpstreamTimeoutMs === undefined) return base;
  const b = base ?? DEFAULT_FASTCGI;
  return {
    params: own.fastcgiParams ?? b.params,
    index: own.fastcgiIndex ?? b.index,
    splitPathInfo: own.fastcgiSplitPathInfo === undefined ? b.splitPathInfo : own.fastcgiSplitPathInfo === '' ? null : own.fastcgiSplitPathInfo,
    keepConn: own.fastcgiKeepConn ?? b.keepConn,
    connectTimeoutMs: own.fastcgiConnectTimeoutMs ?? b.connectTimeoutMs,
    readTimeoutMs: own.fastcgiReadTimeoutMs ?? b.readTimeoutMs,
    sendTimeoutMs: own.fastcgiSendTimeoutMs ?? b.sendTimeoutMs,
    interceptErrors: own.fastcgiInterceptErrors ?? b.interceptErrors,
    hideHeaders: own.fastcgiHideHeaders ?? b.hideHeaders,
    passHeaders: own.fastcgiPassHeaders ?? b.passHeaders,
    passRequestHeaders: own.fastcgiPassRequestHeaders ?? b.passRequestHeaders,
    passRequestBody: own.fastcgiPassRequestBody ?? b.passRequestBody,
    nextUpstream: own.fastcgiNextUpstream ?? b.nextUpstream,
    nextUpstreamTries: own.fastcgiNextUpstreamTries ?? b.nextUpstreamTries,
    nextUpstreamTimeoutMs: own.fastcgiNextUpstreamTimeoutMs ?? b.nextUpstreamTimeoutMs,
  };
}
