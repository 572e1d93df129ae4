/**
 * Address matching (nginx ngx_cidr_match) for everything that compares a client or peer address
 * with configured addresses and CIDRs: stream allow/deny, http and stream realip's trusted peers
 * (`set_real_ip_from`). Sources are parsed by the config's parser (config/units.ts, the one -t
 * checks them with) when a config is built, into masked words; a check parses the address into a
 * scratch array and compares integers: no allocation per request.
 *
 * nginx's rules: an IPv4-mapped IPv6 address is compared as the IPv4 address (a dual-stack
 * listener does not bypass `deny 10.0.0.0/8`), and an IPv4 source never matches an IPv6 address
 * (nor the reverse); `unix:` matches unix-domain peers ('' or 'unix:' as the address); `all`
 * matches everything.
 */
import { parseAddressSource } from '../config/units.js';
import { ipBytes, unmap } from '../wire/ip.js';

/** `(address) → whether the rules let it through`. */
export type AddressCheck = (address: string) => boolean;

const IPV4 = 4;
const IPV6 = 6;
const UNIX = 1;
const ALL = 2;

interface CompiledRule {
  readonly allow: boolean;
  readonly kind: typeof IPV4 | typeof IPV6 | typeof UNIX | typeof ALL;
  /** The masked address and the mask, one word for IPv4, four for IPv6. */
  readonly net: Uint32Array;
  readonly mask: Uint32Array;
}

/** The address of the check in progress (checks are synchronous, so one per process). */
const words = new Uint32Array(4);
const groups = new Uint16Array(8);

/** Parse a dotted quad in s[from, to) into a uint32, -1 when it is none (no leading zeros, as net.isIP). */
function parseIPv4(s: string, from: number, to: number): number {
  let value = 0;
  let parts = 0;
  let i = from;
  while (parts < 4) {
    const start = i;
    let part = 0;
    while (i < to && i - start < 3) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      part = part * 10 + (c - 0x30);
      i++;
    }
    if (i === start || part > 255 || (i - start > 1 && s.charCodeAt(start) === 0x30)) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= to || s.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
  }
  return i === to ? value : -1;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

/** Parse IPv6 text (an embedded dotted quad allowed) in s[0, end) into `words`; false when it is none. */
function parseIPv6(s: string, end: number): boolean {
  let n = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let value = 0;
    while (i < end && i - start < 4) {
      const h = hexValue(s.charCodeAt(i));
      if (h < 0) break;
      value = value * 16 + h;
      i++;
    }
    if (i < end && s.charCodeAt(i) === 0x2e) {
      // a trailing dotted quad fills the last two groups
      const v4 = parseIPv4(s, start, end);
      if (v4 < 0 || n > 6) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (i === start || n === 8) return false;
    groups[n++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (s.charCodeAt(i) === 0x3a) {
      if (gap !== -1) return false;
      gap = n;
      i++;
    } else if (i === end) return false;
  }
  if (gap === -1 ? n !== 8 : n > 7) return false;
  const zeros = 8 - n;
  for (let g = 0, k = 0; g < 8; g++) {
    const v = gap !== -1 && g >= gap && g < gap + zeros ? 0 : groups[k++]!;
    if ((g & 1) === 0) words[g >> 1] = v << 16;
    else words[g >> 1] = (words[g >> 1]! | v) >>> 0;
  }
  return true;
}

/** The kind of `address` (IPV4 / IPV6 / UNIX, 0 for anything else), its value left in `words`. */
function load(address: string): number {
  if (address === '' || address === 'unix:') return UNIX;
  if (address.indexOf(':') === -1) {
    const v4 = parseIPv4(address, 0, address.length);
    if (v4 < 0) return 0;
    words[0] = v4;
    return IPV4;
  }
  // a zone id (fe80::1%eth0) names the interface, not the address
  const zone = address.indexOf('%');
  if (!parseIPv6(address, zone === -1 ? address.length : zone)) return 0;
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    words[0] = words[3]!;
    return IPV4;
  }
  return IPV6;
}

function compileSource(allow: boolean, text: string): CompiledRule | null {
  if (text === 'all') return { allow, kind: ALL, net: new Uint32Array(0), mask: new Uint32Array(0) };
  const source = parseAddressSource(text);
  // the config check refused what does not parse; at run time such a rule must not throw
  if (source === null) return null;
  if (source.kind === 'unix') return { allow, kind: UNIX, net: new Uint32Array(0), mask: new Uint32Array(0) };
  const count = source.bytes.length / 4;
  const net = new Uint32Array(count);
  const mask = new Uint32Array(count);
  for (let w = 0; w < count; w++) {
    const take = Math.max(0, Math.min(32, source.bits - w * 32));
    mask[w] = take === 0 ? 0 : (0xffffffff << (32 - take)) >>> 0;
    const b = source.bytes;
    const word = ((b[4 * w]! << 24) | (b[4 * w + 1]! << 16) | (b[4 * w + 2]! << 8) | b[4 * w + 3]!) >>> 0;
    // nginx warns that host bits are meaningless and ignores them; so do we
    net[w] = (word & mask[w]!) >>> 0;
  }
  return { allow, kind: count === 1 ? IPV4 : IPV6, net, mask };
}

function matches(rule: CompiledRule, kind: number): boolean {
  if (rule.kind === ALL) return true;
  if (rule.kind !== kind) return false;
  const { net, mask } = rule;
  for (let w = 0; w < net.length; w++) {
    if (((words[w]! & mask[w]!) >>> 0) !== net[w]) return false;
  }
  return true;
}

/**
 * Ordered rules, the first whose source matches decides; `otherwise` when none does. A source
 * that does not parse never matches. Nothing after `all` can be reached.
 */
function compileAddressRules(rules: readonly { readonly allow: boolean; readonly source: string }[], otherwise: boolean): AddressCheck {
  const compiled: CompiledRule[] = [];
  for (const r of rules) {
    const rule = compileSource(r.allow, r.source);
    if (rule === null) continue;
    compiled.push(rule);
    if (rule.kind === ALL) break;
  }
  if (compiled.length === 0) return () => otherwise;
  return (address) => {
    const kind = load(address);
    for (let i = 0; i < compiled.length; i++) {
      const rule = compiled[i]!;
      if (matches(rule, kind)) return rule.allow;
    }
    return otherwise;
  };
}

/**
 * allow/deny (nginx ngx_stream_access_module / ngx_http_access_module): first match decides,
 * allowed when none matches. A `unix:` rule is accepted by the config and matches nothing (as
 * before the rules moved here; nginx would apply it to unix-domain clients).
 */
export function compileAccessRules(rules: readonly { readonly action: 'allow' | 'deny'; readonly source: string }[]): AddressCheck {
  return compileAddressRules(rules.filter((r) => r.source !== 'unix:').map((r) => ({ allow: r.action === 'allow', source: r.source })), true);
}

/** `set_real_ip_from` sources → whether a peer is trusted; null when there are none (realip off). */
export function compileTrustedPeers(sources: readonly string[]): AddressCheck | null {
  if (sources.length === 0) return null;
  return compileAddressRules(sources.map((source) => ({ allow: true, source })), false);
}

/**
 * $binary_remote_addr: the address as 4 or 16 bytes in a latin1 string (hash keys); an
 * IPv4-mapped IPv6 address gives 4, as nginx sees IPv4. Anything else is returned as it is.
 */
export function binaryAddress(address: string): string {
  const zone = address.indexOf('%');
  const bytes = ipBytes(unmap(zone === -1 ? address : address.slice(0, zone)));
  return bytes === null ? address : String.fromCharCode(...bytes);
}

/**
 * Parse `address` into the scratch words (one word for IPv4, an IPv4-mapped IPv6 address
 * included; four for IPv6): 4, 6, or 0 when it is no IP address. The words stay valid until the
 * next parse (geo lookups read them at once; nothing is allocated).
 */
export function scanAddress(address: string): 4 | 6 | 0 {
  const kind = address === '' || address === 'unix:' ? 0 : load(address);
  return kind === IPV4 ? 4 : kind === IPV6 ? 6 : 0;
}

/** The words scanAddress left. */
export const SCANNED: Readonly<Uint32Array> = words;
