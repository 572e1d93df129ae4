/**
 * allow/deny rules (nginx ngx_stream_access_module / ngx_http_access_module): checked in order,
 * the first rule matching the client address decides; when none matches, access is allowed.
 * Rules are compiled once per config into byte masks so a check is a few integer compares.
 */
import net from 'node:net';
import type { AccessRule } from '../config/types.js';
import { ipToBytes, unmap } from '../wire/ip.js';

export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Buffer;
  readonly mask: Buffer;
}

interface CompiledRule {
  readonly allow: boolean;
  /** null matches every address (`all`). */
  readonly cidr: Cidr | null;
}

/** Parse "all"-less sources: "10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32". null when invalid. */
export function parseCidr(source: string): Cidr | null {
  const slash = source.indexOf('/');
  const ip = slash === -1 ? source : source.slice(0, slash);
  const family = net.isIP(ip);
  if (family === 0 || ip.includes('%')) return null;
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const text = source.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(text)) return null;
    prefix = Number(text);
    if (prefix > bits) return null;
  }
  const bytes = ipToBytes(ip);
  const mask = Buffer.alloc(bytes.length);
  for (let i = 0; i < mask.length; i++) {
    const take = Math.max(0, Math.min(8, prefix - i * 8));
    mask[i] = take === 0 ? 0 : (0xff << (8 - take)) & 0xff;
    // nginx warns that low address bits are meaningless and ignores them; so do we.
    bytes[i] = bytes[i]! & mask[i]!;
  }
  return { family: family as 4 | 6, bytes, mask };
}

export function cidrContains(cidr: Cidr, address: Buffer): boolean {
  if (address.length !== cidr.bytes.length) return false;
  for (let i = 0; i < address.length; i++) {
    if ((address[i]! & cidr.mask[i]!) !== cidr.bytes[i]) return false;
  }
  return true;
}

export type AccessCheck = (clientAddress: string) => boolean;

const ALLOW_ALL: AccessCheck = () => true;

/**
 * Compile rules into a check. A source that does not parse never matches (the config layer
 * reports it; at run time it must not throw). IPv4-mapped IPv6 clients are checked against the
 * IPv4 rules, as nginx does, so a dual-stack listener does not bypass `deny 10.0.0.0/8`.
 */
export function compileAccessRules(rules: readonly AccessRule[]): AccessCheck {
  if (rules.length === 0) return ALLOW_ALL;
  const compiled: CompiledRule[] = [];
  for (const r of rules) {
    const allow = r.action === 'allow';
    if (r.source === 'all') {
      compiled.push({ allow, cidr: null });
      // Nothing after `all` can be reached.
      break;
    }
    const cidr = parseCidr(r.source);
    if (cidr !== null) compiled.push({ allow, cidr });
  }
  return (clientAddress: string): boolean => {
    const ip = unmap(clientAddress);
    const family = net.isIP(ip);
    const bytes = family === 0 ? null : ipToBytes(ip);
    for (const rule of compiled) {
      if (rule.cidr === null) return rule.allow;
      if (bytes !== null && cidrContains(rule.cidr, bytes)) return rule.allow;
    }
    return true;
  };
}
