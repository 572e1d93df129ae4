/**
 * Pure value parsers for directive arguments (nginx's ngx_parse_time / ngx_parse_size /
 * ngx_parse_url, in TypeScript). They never throw: invalid input gives null or an error Result
 * whose message is already in nginx's wording, so build.ts only adds the position.
 */
import { ipBytes } from '../wire/ip.js';
import type { ListenAddress } from './types.js';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(message: string): Result<T> => ({ ok: false, message });

// Largest unit first: nginx requires units in descending order ("1h30m", not "30m1h").
const TIME_UNITS: readonly (readonly [string, number])[] = [
  ['y', 365 * 86_400_000],
  ['M', 30 * 86_400_000],
  ['w', 7 * 86_400_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];
const TIME_PART = /(\d+)(ms|[yMwdhms])?/y;

/**
 * `5s`, `500ms`, `1h30m`, `2d`; integer ms, or null when invalid. A bare number (also a bare
 * trailing number as in `1m30`) counts in `bareUnit`: seconds for nginx time directives,
 * milliseconds inside `check` (nginx_upstream_check_module).
 */
export function parseDuration(text: string, bareUnit: 'ms' | 's'): number | null {
  if (text === '') return null;
  let total = 0;
  let lastRank = -1;
  TIME_PART.lastIndex = 0;
  while (TIME_PART.lastIndex < text.length) {
    const start = TIME_PART.lastIndex;
    const m = TIME_PART.exec(text);
    if (m === null || m.index !== start) return null;
    const unit = m[2] ?? bareUnit;
    const rank = TIME_UNITS.findIndex(([u]) => u === unit);
    // A bare number may only end the value; units must strictly descend.
    if (m[2] === undefined && TIME_PART.lastIndex !== text.length) return null;
    if (rank <= lastRank) return null;
    lastRank = rank;
    total += Number(m[1]) * TIME_UNITS[rank]![1];
    if (!Number.isSafeInteger(total)) return null;
  }
  return total;
}

/** True when `text` is a plain number with no unit (used for the ambiguous-time warning). */
export function isBareNumber(text: string): boolean {
  return /^\d+$/.test(text);
}

/** `1024`, `8k`, `1m`, `1G` (case-insensitive); bytes, or null when invalid. */
export function parseSize(text: string): number | null {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (m === null) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) ? n : null;
}

/** `on` / `off` (exactly, as nginx). */
export function parseFlag(text: string): boolean | null {
  if (text === 'on') return true;
  if (text === 'off') return false;
  return null;
}

/** A non-negative decimal integer, or null. */
export function parseNumber(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function parsePort(text: string): number | null {
  const n = parseNumber(text);
  return n !== null && n <= 65535 ? n : null;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

/** Canonical listener key: "127.0.0.1:8080", "[::1]:80", "unix:/run/x.sock". */
export function addressKey(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

interface HostPort {
  readonly host: string;
  readonly port: string | null;
}

/** Split "host:port", "[v6]:port", "host", "[v6]", "port-only" is left to callers. */
function splitHostPort(text: string): HostPort | null {
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return null;
    const host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest === '') return { host, port: null };
    if (!rest.startsWith(':')) return null;
    return { host, port: rest.slice(1) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { host: text, port: null };
  // A bare IPv6 address without brackets cannot carry a port.
  if (text.indexOf(':') !== colon) return null;
  return { host: text.slice(0, colon), port: text.slice(colon + 1) };
}

function isIPv6(host: string): boolean {
  return /^[0-9a-f:.]+$/i.test(host) && host.includes(':');
}

/**
 * `listen` addresses: `80`, `*:80`, `127.0.0.1:8080`, `127.0.0.1` (port 80), `[::1]:80`,
 * `unix:/path`, `localhost:80`. `*` and a bare port mean 0.0.0.0. Port 0 is allowed (ephemeral).
 */
export function parseListenAddress(text: string): Result<ListenAddress> {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    return path === '' ? fail(`invalid host in "${text}" of the "listen" directive`) : ok({ kind: 'unix', path });
  }
  if (/^\d+$/.test(text)) {
    const port = parsePort(text);
    return port === null ? fail(`invalid port in "${text}" of the "listen" directive`) : ok({ kind: 'tcp', host: '0.0.0.0', port });
  }
  const hp = splitHostPort(text);
  if (hp === null) return fail(`invalid host in "${text}" of the "listen" directive`);
  let port = 80;
  if (hp.port !== null) {
    const p = parsePort(hp.port);
    if (p === null) return fail(`invalid port in "${text}" of the "listen" directive`);
    port = p;
  }
  const host = hp.host === '*' ? '0.0.0.0' : hp.host.toLowerCase();
  if (text.startsWith('[') ? !isIPv6(host) : !HOSTNAME.test(host)) {
    return fail(`host not found in "${text}" of the "listen" directive`);
  }
  return ok({ kind: 'tcp', host, port });
}

/**
 * Upstream `server` addresses: `host:port`, `[v6]:port`, `unix:/path`, or `host` alone when a
 * default port is given (80 for http; stream upstreams pass null: a port is required there).
 */
export function parseUpstreamAddress(text: string, defaultPort: number | null): Result<ListenAddress> {
  if (text.startsWith('unix:')) {
    const path = text.slice(5);
    return path === '' ? fail(`invalid host in upstream "${text}"`) : ok({ kind: 'unix', path });
  }
  const hp = splitHostPort(text);
  if (hp === null || hp.host === '') return fail(`invalid host in upstream "${text}"`);
  const host = hp.host.toLowerCase();
  if (text.startsWith('[') ? !isIPv6(host) : !HOSTNAME.test(host)) return fail(`invalid host in upstream "${text}"`);
  if (hp.port === null) {
    return defaultPort === null ? fail(`no port in upstream "${text}"`) : ok({ kind: 'tcp', host, port: defaultPort });
  }
  const port = parsePort(hp.port);
  if (port === null || port === 0) return fail(`invalid port in upstream "${text}"`);
  return ok({ kind: 'tcp', host, port });
}

export interface ProxyPassUrl {
  readonly scheme: 'http' | 'https';
  /** The host part as written ("backend", "127.0.0.1:9001", "[::1]:80", "unix:/run/a.sock"). */
  readonly host: string;
  /** True when the host part names a port explicitly. */
  readonly hasPort: boolean;
  /** The URI part including its leading "/", or null when the URL has none. */
  readonly uri: string | null;
  /** True when the URL contains `$variables` (resolved per request). */
  readonly dynamic: boolean;
}

/**
 * `http://name`, `http://name/uri`, `https://127.0.0.1:9001/x/`, `http://unix:/path:/uri`,
 * `http://$backend`. nginx: anything else is `invalid URL prefix`.
 */
export function parseProxyPassUrl(text: string): Result<ProxyPassUrl> {
  const m = /^(https?):\/\//i.exec(text);
  if (m === null) return fail('invalid URL prefix');
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const rest = text.slice(m[0].length);
  const dynamic = rest.includes('$');
  let host: string;
  let uri: string | null;
  if (rest.startsWith('unix:')) {
    // nginx: "http://unix:/path/to.sock:/uri" - the socket path ends at the next ':'.
    const colon = rest.indexOf(':', 5);
    host = colon < 0 ? rest : rest.slice(0, colon);
    uri = colon < 0 ? null : rest.slice(colon + 1) || null;
  } else {
    const slash = rest.indexOf('/');
    host = slash < 0 ? rest : rest.slice(0, slash);
    uri = slash < 0 ? null : rest.slice(slash);
  }
  if (host === '' || host === 'unix:') return fail('no host in upstream ""');
  if (!dynamic && !host.startsWith('unix:')) {
    const hp = splitHostPort(host);
    if (hp === null || hp.host === '') return fail(`invalid host in upstream "${host}"`);
    if (hp.port !== null) {
      const port = parsePort(hp.port);
      if (port === null || port === 0) return fail(`invalid port in upstream "${host}"`);
    }
  }
  const hasPort = !host.startsWith('unix:') && (host.startsWith('[') ? /\]:\d+$/.test(host) : /:\d+$/.test(host));
  return ok({ scheme, host, hasPort, uri, dynamic });
}

/** An address source as set_real_ip_from and allow/deny write it, parsed (core/address-match.ts compiles a list). */
export type AddressSource =
  | { readonly kind: 'unix' }
  /** An address is a CIDR of full length; `bytes` as written (host bits not cleared). */
  | { readonly kind: 'cidr'; readonly bytes: readonly number[]; readonly bits: number };

/** `10.0.0.0/8`, `::1`, `unix:` → its parsed form; null when it is none of them (`all` included). */
export function parseAddressSource(text: string): AddressSource | null {
  if (text === 'unix:') return { kind: 'unix' };
  const slash = text.indexOf('/');
  const bytes = ipBytes(slash < 0 ? text : text.slice(0, slash));
  if (bytes === null) return null;
  if (slash < 0) return { kind: 'cidr', bytes, bits: bytes.length * 8 };
  const bitsText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > bytes.length * 8) return null;
  return { kind: 'cidr', bytes, bits: Number(bitsText) };
}

/**
 * `set_real_ip_from` / allow-style sources: an address, a CIDR or `unix:`. Host names are not
 * resolved (no DNS while building a config), so they fail as nginx words an unresolvable one.
 * A CIDR with host bits set is valid but draws nginx's warning (the bits are ignored).
 */
export function parseTrustedSource(text: string, directive: string): Result<{ readonly warning: string | null }> {
  const source = parseAddressSource(text);
  if (source === null) return fail(`host not found in ${directive} "${text}"`);
  if (source.kind === 'unix') return ok({ warning: null });
  const { bytes, bits } = source;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    if ((bytes[i]! & (0xff >> keep)) !== 0) return ok({ warning: `low address bits of ${text} are meaningless` });
  }
  return ok({ warning: null });
}
