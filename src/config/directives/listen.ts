/**
 * `listen` (http and stream servers): the address, the protocol flags, and nginx's socket
 * parameters. nginx's -t wording for bad values (checked with ask-nginx, nginx 1.22):
 * `invalid backlog "backlog=x"`, `invalid rcvbuf "rcvbuf=x"`, `invalid so_keepalive value: "x"`,
 * `the invalid "deferred" parameter` (stream), `invalid parameter "x"` (http),
 * `"listen" directive "ssl" parameter is incompatible with "udp"` (stream `udp`: also backlog,
 * so_keepalive, proxy_protocol, fastopen).
 */
import type { Directive } from '../ast.js';
import type { ListenConfig, ListenKeepalive, ListenSocketOptions } from '../types.js';
import { addressKey, parseDuration, parseListenAddress, parseNumber, parseSize } from '../units.js';
import { err, invalidParameter, type Reporter } from './scope.js';

const HTTP_FLAGS = ['default_server', 'default', 'reuseport', 'proxy_protocol', 'ssl', 'http2', 'deferred', 'bind', 'ipv6only=on', 'ipv6only=off'];
const STREAM_FLAGS = ['default_server', 'default', 'reuseport', 'proxy_protocol', 'ssl', 'bind', 'ipv6only=on', 'ipv6only=off', 'udp'];
/** What nginx refuses beside `udp` (a listen parameter's name before any `=`). */
const NOT_WITH_UDP = new Set(['backlog', 'ssl', 'so_keepalive', 'proxy_protocol', 'fastopen']);

/** `so_keepalive=on|off|[keepidle]:[keepintvl]:[keepcnt]`; null when nginx refuses it. */
function parseKeepalive(v: string): ListenKeepalive | null {
  if (v === 'on') return { enabled: true, idleMs: null, intervalMs: null, count: null };
  if (v === 'off') return { enabled: false, idleMs: null, intervalMs: null, count: null };
  // keepidle up to the first ':', keepintvl up to the next, keepcnt the rest (nginx: "30m", ":10", "::3")
  const c1 = v.indexOf(':');
  const c2 = c1 < 0 ? -1 : v.indexOf(':', c1 + 1);
  const idle = c1 < 0 ? v : v.slice(0, c1);
  const interval = c1 < 0 ? '' : v.slice(c1 + 1, c2 < 0 ? v.length : c2);
  const count = c2 < 0 ? '' : v.slice(c2 + 1);
  const idleMs = idle === '' ? null : parseDuration(idle, 's');
  const intervalMs = interval === '' ? null : parseDuration(interval, 's');
  const n = count === '' ? null : parseNumber(count);
  if ((idle !== '' && idleMs === null) || (interval !== '' && intervalMs === null) || (count !== '' && n === null)) return null;
  // nginx: at least one of the three must be non-zero
  if (!idleMs && !intervalMs && !n) return null;
  return { enabled: true, idleMs, intervalMs, count: n };
}

/**
 * The last listen address parsed and its key: a big config repeats one `listen` thousands of
 * times, and each parse made five objects and three strings that the tree then kept (10,000
 * listens: ~2 MB). One entry, so it holds nothing of a config that is gone. The address object
 * is shared by the listens that wrote the same text; nothing writes a config's objects.
 */
let lastAddress: { readonly text: string; readonly parsed: ReturnType<typeof parseListenAddress>; key: string | null } | null = null;

function parseHttpListen(d: Directive, r: Reporter, stream: boolean): ListenConfig | undefined {
  const a0 = d.args[0]!;
  if (lastAddress === null || lastAddress.text !== a0.value) lastAddress = { text: a0.value, parsed: parseListenAddress(a0.value), key: null };
  const memo = lastAddress;
  const addr = memo.parsed;
  if (!addr.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', addr.message, a0.loc);
  const allowed = stream ? STREAM_FLAGS : HTTP_FLAGS;
  let defaultServer = false, reuseport = false, proxyProtocol = false, ssl = false, http2 = false;
  const udp = stream && d.args.some((a, i) => i > 0 && a.value === 'udp');
  let backlog: number | null = null;
  const socket: { -readonly [K in keyof ListenSocketOptions]: ListenSocketOptions[K] } = {
    rcvbufBytes: null, sndbufBytes: null, keepalive: null, fastopen: null, deferred: false, bind: false, ipv6only: null,
  };
  let socketSet = false;
  let bad = false;
  for (let i = 1; i < d.args.length; i++) {
    const a = d.args[i]!;
    const v = a.value;
    const eq = v.indexOf('=');
    const name = eq < 0 ? v : v.slice(0, eq);
    const value = eq < 0 ? '' : v.slice(eq + 1);
    if (udp && NOT_WITH_UDP.has(name)) {
      err(r, 'TSP_ERR_CONFIG_VALUE', `"listen" directive "${name}" parameter is incompatible with "udp"`, a.loc);
      bad = true;
      continue;
    }
    if (eq > 0 && (name === 'backlog' || name === 'fastopen')) {
      const n = parseNumber(value);
      if (n === null || (name === 'backlog' && n === 0)) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid ${name} "${v}"`, a.loc); bad = true; continue; }
      if (name === 'backlog') backlog = n;
      else { socket.fastopen = n; socketSet = true; }
      continue;
    }
    if (eq > 0 && (name === 'rcvbuf' || name === 'sndbuf')) {
      const n = parseSize(value);
      if (n === null) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid ${name} "${v}"`, a.loc); bad = true; continue; }
      if (name === 'rcvbuf') socket.rcvbufBytes = n;
      else socket.sndbufBytes = n;
      socketSet = true;
      continue;
    }
    if (eq > 0 && name === 'so_keepalive') {
      const k = parseKeepalive(value);
      if (k === null) { err(r, 'TSP_ERR_CONFIG_VALUE', `invalid so_keepalive value: "${value}"`, a.loc); bad = true; continue; }
      socket.keepalive = k;
      socketSet = true;
      continue;
    }
    if (!allowed.includes(v)) {
      if (stream) err(r, 'TSP_ERR_CONFIG_VALUE', `the invalid "${v}" parameter`, a.loc);
      else invalidParameter(r, a);
      bad = true;
      continue;
    }
    if (v === 'default_server' || v === 'default') defaultServer = true;
    else if (v === 'reuseport') reuseport = true;
    else if (v === 'proxy_protocol') proxyProtocol = true;
    else if (v === 'ssl') ssl = true;
    else if (v === 'http2') http2 = true;
    else if (v === 'deferred') { socket.deferred = true; socketSet = true; }
    else if (v === 'bind') { socket.bind = true; socketSet = true; }
    else if (v.startsWith('ipv6only=')) { socket.ipv6only = v === 'ipv6only=on'; socketSet = true; }
  }
  if (udp && addr.value.kind === 'unix') {
    // Node's dgram has no unix datagram sockets.
    return err(r, 'TSP_ERR_CONFIG_UNSUPPORTED', 'a "udp" listen on a unix socket is not supported by tsproxy', a0.loc);
  }
  if (bad) return undefined;
  return {
    address: addr.value, key: udp ? listenKey(addr.value, true) : (memo.key ??= listenKey(addr.value, false)), defaultServer, reuseport, backlog, proxyProtocol, ssl, http2,
    ...(socketSet ? { socket } : {}), ...(udp ? { udp: true as const } : {}), loc: a0.loc,
  };
}

export const parseListen = (d: Directive, r: Reporter): ListenConfig | undefined => parseHttpListen(d, r, false);
export const parseStreamListen = (d: Directive, r: Reporter): ListenConfig | undefined => parseHttpListen(d, r, true);

/** A listen's key: its address, and ` udp` for a datagram listen (a TCP and a UDP socket may share an address). */
export function listenKey(address: ListenConfig['address'], udp: boolean): string {
  return udp ? `${addressKey(address)} udp` : addressKey(address);
}

/** nginx's `opt.set`: a listen that carries socket options (only one listen of an address may). */
export function hasSocketOptions(l: Pick<ListenConfig, 'socket' | 'backlog' | 'reuseport'>): boolean {
  return l.socket !== undefined || l.backlog !== null || l.reuseport;
}
