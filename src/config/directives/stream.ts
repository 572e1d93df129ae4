/** stream {} / tcp {} servers, and `map` (http and stream). */
import type { Directive } from '../ast.js';
import type { MapConfig } from '../types.js';
import { accessLog, logFormat, parseServerNames } from './http.js';
import { parseStreamListen } from './listen.js';
import { append, NO_ITEMS } from './drafts.js';
import {
  addLogFormat, checkRegex, childScope, count, err, flag, isVariableName, listSetting, noEffect, noteTemplate, size, oneOf, seconds, setting, trustedSource,
  type Context, type DirectiveSpec, type Scope, type SettingOptions, type StreamServerDraft, type TargetDraft, type ValueField,
} from './scope.js';

const ST: readonly Context[] = ['stream', 'stream_server'];
const SRV: readonly Context[] = ['stream_server'];

function streamTarget(scope: Scope, d: Directive): TargetDraft {
  const a = d.args[d.args.length - 1]!;
  const t: TargetDraft = {
    scheme: 'tcp', upstream: a.value, uri: null, dynamic: a.value.includes('$'), raw: a.value, loc: a.loc,
    hasPort: a.value.startsWith('unix:') || /:\d+$/.test(a.value), area: 'stream',
  };
  scope.state.targets.push(t);
  return t;
}

function applyMap(scope: Scope, d: Directive): null {
  const r = scope.state.report;
  const [src, dst] = d.args;
  if (!isVariableName(dst!.value)) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${dst!.value}"`, dst!.loc); return null; }
  const map: { -readonly [K in keyof MapConfig]: MapConfig[K] } = {
    source: src!.value, variable: dst!.value.slice(1), hostnames: false, defaultValue: '', entries: [], loc: d.loc,
  };
  noteTemplate(scope, src!.value, src!.loc);
  const entries: MapConfig['entries'][number][] = [];
  const keys = new Set<string>();
  for (const e of d.block ?? []) {
    if (e.name === 'hostnames' && e.args.length === 0) { map.hostnames = true; continue; }
    if (e.name === 'volatile' && e.args.length === 0) { map.volatile = true; continue; }
    if (e.args.length !== 1 || e.block !== null) { err(r, 'TSP_ERR_CONFIG_ARGS', 'invalid number of the map parameters', e.loc); continue; }
    const value = e.args[0]!.value;
    noteTemplate(scope, value, e.args[0]!.loc);
    if (e.name === 'default') { map.defaultValue = value; continue; }
    if (keys.has(e.name)) { err(r, 'TSP_ERR_CONFIG_DUPLICATE', `conflicting parameter "${e.name}"`, e.loc); continue; }
    keys.add(e.name);
    const at = e.name.startsWith('~*') ? 2 : e.name.startsWith('~') ? 1 : 0;
    if (at === 0) entries.push({ kind: 'exact', key: e.name.startsWith('\\') ? e.name.slice(1) : e.name, value, loc: e.loc });
    else if (checkRegex(r, e.name, at, at === 2, e.loc) !== undefined) {
      entries.push({ kind: at === 2 ? 'regexCaseless' : 'regex', key: e.name.slice(at), value, loc: e.loc });
    }
  }
  map.entries = entries;
  (scope.context === 'http' ? scope.state.http! : scope.state.stream!).maps.push(map);
  return null;
}

const stream = <F extends ValueField<'stream'>>(o: Omit<SettingOptions<'stream', F>, 'kind' | 'contexts'> & { contexts?: readonly Context[] }): DirectiveSpec =>
  setting({ contexts: ST, kind: 'stream', ...o });

export const STREAM_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'map', contexts: ['http', 'stream'], args: [2, 2], block: 'map', rawBlock: true, multiple: true,
    syntax: 'map string $variable { [hostnames;] [volatile;] [default value;] key value; ... }',
    summary: 'A variable whose value depends on another (exact keys, `~regex`, `~*regex`).', apply: applyMap,
  },
  {
    name: 'server', contexts: ['stream'], args: [0, 0], block: 'stream_server', multiple: true, syntax: 'server { ... }',
    summary: 'A TCP virtual server (routed by SNI, or by Host for websocket_pass).',
    apply(scope, d) {
      const child = childScope(scope, 'stream_server');
      const streamServer: StreamServerDraft = { listens: NO_ITEMS, serverNames: NO_ITEMS, proxy: null, websockets: [], scope: child, loc: d.loc };
      scope.state.stream!.servers.push(streamServer);
      child.streamServer = streamServer;
      return child;
    },
  },
  {
    name: 'listen', contexts: SRV, args: [1, Infinity], multiple: true, syntax: 'listen address:port [ssl] [udp] [proxy_protocol] [backlog=n] [rcvbuf=size] [sndbuf=size] [reuseport] [so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]] [fastopen=n] [bind] [ipv6only=on|off];',
    summary: 'Address and port the server accepts TCP connections (or, with `udp`, datagrams) on.',
    apply(scope, d) {
      const l = parseStreamListen(d, scope.state.report);
      if (l !== undefined) scope.streamServer!.listens = append(scope.streamServer!.listens, l);
    },
  },
  {
    name: 'server_name', contexts: SRV, args: [1, Infinity], multiple: true, syntax: 'server_name name ...;',
    summary: 'Names matched against the TLS SNI (or the Host of each request to a websocket_pass server).',
    apply(scope, d) {
      const server = scope.streamServer!;
      for (const name of parseServerNames(d, scope.state.report)) server.serverNames = append(server.serverNames, name);
    },
  },
  {
    name: 'proxy_pass', contexts: SRV, args: [1, 1], templates: 0, syntax: 'proxy_pass upstream | host:port | unix:path;',
    summary: 'Proxy the connection to an upstream group or address.',
    apply(scope, d) {
      const s = scope.streamServer!;
      if (s.websockets.length > 0) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      s.proxy = streamTarget(scope, d);
      s.ret = null;
    },
  },
  {
    name: 'return', contexts: SRV, args: [1, 1], templates: 0, syntax: 'return value;',
    summary: 'Send the value (text and variables) to the client and close the connection (nginx stream return module).',
    apply(scope, d) {
      const s = scope.streamServer!;
      if (s.ret !== undefined && s.ret !== null) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      if (s.websockets.length > 0) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      s.ret = d.args[0]!.value;
      s.proxy = null;
    },
  },
  {
    name: 'websocket_pass', contexts: SRV, args: [1, 2], multiple: true, templates: 'last', syntax: 'websocket_pass [path] upstream;',
    summary: 'Route requests and WebSocket upgrades by first path segment (tcp_proxy_module).',
    note: 'Every request of a keep-alive connection is routed on its own, with its own X-Forwarded-For / X-Real-IP (tcp_proxy_module reads only the first).',
    apply(scope, d) {
      const s = scope.streamServer!;
      if (s.proxy !== null) { err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `"${d.name}" directive is duplicate`, d.loc); return; }
      s.websockets.push({ path: d.args.length === 2 ? d.args[0]!.value : null, target: streamTarget(scope, d) });
    },
  },
  noEffect('proxy_buffer_size', ST, [1, 1], 'Buffer for reading from the client and the upstream (tsproxy sizes its buffers itself).', 'proxy_buffer_size size;', size),
  stream({ name: 'proxy_connect_timeout', field: 'proxyConnectTimeoutMs', parse: seconds, default: '60s', syntax: 'proxy_connect_timeout time;', summary: 'Timeout for connecting to an upstream.' }),
  stream({ name: 'proxy_timeout', field: 'proxyTimeoutMs', parse: seconds, default: '10m', syntax: 'proxy_timeout time;', summary: 'Idle timeout between two successive reads or writes.' }),
  stream({ name: 'proxy_read_timeout', field: 'proxyTimeoutMs', parse: seconds, initial: 600_000, syntax: 'proxy_read_timeout time;', summary: 'tcp_proxy_module name for `proxy_timeout`.', note: 'Sets the same idle timeout as `proxy_timeout`.' }),
  stream({ name: 'proxy_send_timeout', field: 'proxyTimeoutMs', parse: seconds, initial: 600_000, syntax: 'proxy_send_timeout time;', summary: 'tcp_proxy_module name for `proxy_timeout`.', note: 'Sets the same idle timeout as `proxy_timeout`.' }),
  stream({
    name: 'proxy_half_close', field: 'proxyHalfClose', parse: flag, default: 'off', syntax: 'proxy_half_close on | off;',
    summary: 'Pass one side\'s FIN on and keep the other direction open until it closes too.',
    note: 'Off (nginx\'s default): when either side closes, the session ends once what it sent is delivered.',
  }),
  stream({
    name: 'proxy_responses', field: 'proxyResponses', parse: count, initial: null, syntax: 'proxy_responses number;',
    summary: 'UDP: datagrams expected back from the upstream per client datagram; the session ends once they came (0: none expected).',
    note: 'Unset (nginx\'s default): any number, the session ends at `proxy_timeout`.',
  }),
  stream({
    name: 'proxy_requests', field: 'proxyRequests', parse: count, default: '0', syntax: 'proxy_requests number;',
    summary: 'UDP: after this many client datagrams the next one from the same address starts a new session (0: no limit).',
  }),
  stream({ name: 'proxy_next_upstream', field: 'proxyNextUpstream', parse: flag, default: 'on', syntax: 'proxy_next_upstream on | off;', summary: 'Try the next peer when a connection cannot be made.' }),
  stream({ name: 'proxy_next_upstream_tries', field: 'proxyNextUpstreamTries', parse: count, default: '0', syntax: 'proxy_next_upstream_tries number;', summary: 'Maximum tries (0: no limit).' }),
  stream({ name: 'proxy_next_upstream_timeout', field: 'proxyNextUpstreamTimeoutMs', parse: seconds, default: '0', syntax: 'proxy_next_upstream_timeout time;', summary: 'Time limit for trying peers (0: no limit).' }),
  stream({ name: 'proxy_protocol', field: 'proxyProtocol', parse: flag, default: 'off', syntax: 'proxy_protocol on | off;', summary: 'Send a PROXY protocol header to the upstream.' }),
  stream({ name: 'proxy_protocol_version', field: 'proxyProtocolVersionNumber', parse: (a, d, r) => { const v = oneOf(['1', '2'] as const)(a, d, r); return v === undefined ? undefined : v === '1' ? 1 : 2; }, default: '1', syntax: 'proxy_protocol_version 1 | 2;', summary: 'PROXY protocol version sent when `proxy_protocol on`.', note: 'tsproxy only.' }),
  stream({ name: 'tcp_nodelay', field: 'tcpNodelay', parse: flag, default: 'on', syntax: 'tcp_nodelay on | off;', summary: 'TCP_NODELAY on both sides.' }),
  stream({ name: 'so_keepalive', field: 'soKeepalive', parse: flag, default: 'off', syntax: 'so_keepalive on | off;', summary: 'SO_KEEPALIVE on upstream connections.' }),
  stream({
    name: 'proxy_socket_keepalive', field: 'proxySocketKeepalive', parse: flag, default: 'off', syntax: 'proxy_socket_keepalive on | off;',
    summary: 'Turn on TCP keepalive (SO_KEEPALIVE, with the system\'s timers) on connections to upstreams.',
  }),
  stream({
    name: 'proxy_upload_rate', field: 'proxyUploadRateBytes', parse: size, default: '0', syntax: 'proxy_upload_rate rate;',
    summary: 'Limit the rate of reading from the client, in bytes per second, per connection (0: no limit).',
  }),
  stream({
    name: 'proxy_download_rate', field: 'proxyDownloadRateBytes', parse: size, default: '0', syntax: 'proxy_download_rate rate;',
    summary: 'Limit the rate of reading from the upstream, in bytes per second, per connection (0: no limit).',
  }),
  stream({ name: 'ssl_preread', field: 'sslPreread', parse: flag, default: 'off', syntax: 'ssl_preread on | off;', summary: 'Read the TLS ClientHello (SNI) before choosing a server.' }),
  stream({ name: 'preread_buffer_size', field: 'prereadBufferBytes', parse: size, default: '16k', syntax: 'preread_buffer_size size;', summary: 'Most bytes read ahead (the TLS ClientHello for ssl_preread); a larger hello ends the session.' }),
  stream({ name: 'preread_timeout', field: 'prereadTimeoutMs', parse: seconds, default: '30s', syntax: 'preread_timeout time;', summary: 'Timeout for the preread phase.' }),
  listSetting({
    name: 'access_log', contexts: ST, kind: 'stream', field: 'accessLogs', parse: accessLog('basic'), args: [1, Infinity], templates: 0,
    syntax: 'access_log path [format [buffer=size] [gzip[=level]] [flush=time] [if=condition]] | off;', summary: 'Where connections are logged.',
    note: 'The format defaults to `basic` (predefined by tsproxy). Buffering as in http; `if=` is accepted and not applied.',
  }),
  listSetting({
    name: 'set_real_ip_from', contexts: ST, kind: 'stream', field: 'setRealIpFrom', parse: trustedSource, args: [1, 1],
    syntax: 'set_real_ip_from address | CIDR | unix:;', summary: 'A trusted peer whose PROXY protocol header gives the client address.',
    note: 'The client address comes from the PROXY protocol header (the listen needs `proxy_protocol`). Host names are not resolved.',
  }),
  {
    name: 'log_format', contexts: ['stream'], args: [2, Infinity], multiple: true, templates: 'rest', syntax: 'log_format name [escape=default|json|none] string ...;',
    summary: 'A named stream log format.', apply(scope, d) { const v = logFormat(d.args, d, scope.state.report); if (v) addLogFormat(scope, scope.state.stream!, null, d, v); },
  },
];
