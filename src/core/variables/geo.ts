/**
 * `geo` (http and stream): the value of the longest CIDR network holding an address, or with
 * `ranges` of the IPv4 piece holding it; else the default. nginx's rules (checked with
 * ask-nginx; test/core/geo.test.ts): an IPv4-mapped IPv6 address is looked up as IPv4, and text
 * that is no address as 255.255.255.255 (INADDR_NONE). With `proxy` (http), a client among the
 * proxies is replaced by the last X-Forwarded-For address (`proxy_recursive`: the last one that
 * is not a proxy either).
 */
import type { GeoConfig } from '../../config/variable-types.js';
import { parseAddressSource } from '../../config/units.js';
import { compileTrustedPeers, scanAddress, SCANNED, type AddressCheck } from '../address-match.js';
import type { Getter } from './template.js';

const NONE = 0xffffffff;

/** Longest-prefix tables: per prefix length present (longest first), masked address → value. */
interface CidrTables {
  readonly v4Lengths: readonly number[];
  readonly v4: Map<number, string>;
  readonly v6Lengths: readonly number[];
  readonly v6: Map<string, string>;
}

const mask32 = (bits: number): number => (bits <= 0 ? 0 : (0xffffffff << (32 - Math.min(32, bits))) >>> 0);
/** A v4 key: the masked address and its length in one safe integer. */
const v4Key = (masked: number, bits: number): number => bits * 0x100000000 + masked;

function v6Key(w: Readonly<Uint32Array> | readonly number[], bits: number): string {
  let key = `${bits}`;
  for (let i = 0; i < 4; i++) key += `:${(w[i]! & mask32(bits - 32 * i)) >>> 0}`;
  return key;
}

function buildCidr(networks: GeoConfig['networks']): CidrTables {
  const v4 = new Map<number, string>();
  const v6 = new Map<string, string>();
  const l4 = new Set<number>();
  const l6 = new Set<number>();
  for (const n of networks) {
    const s = parseAddressSource(n.network);
    if (s === null || s.kind !== 'cidr') continue;
    const b = s.bytes;
    const words = [0, 1, 2, 3].slice(0, b.length / 4).map((i) => ((b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!) >>> 0);
    if (b.length === 4) {
      v4.set(v4Key((words[0]! & mask32(s.bits)) >>> 0, s.bits), n.value);
      l4.add(s.bits);
    } else {
      v6.set(v6Key(words, s.bits), n.value);
      l6.add(s.bits);
    }
  }
  const desc = (set: Set<number>): number[] => [...set].sort((a, b) => b - a);
  return { v4Lengths: desc(l4), v4, v6Lengths: desc(l6), v6 };
}

function cidrLookup(t: CidrTables, address: string, dflt: string): string {
  const kind = scanAddress(address);
  if (kind === 6) {
    for (const bits of t.v6Lengths) {
      const v = t.v6.get(v6Key(SCANNED, bits));
      if (v !== undefined) return v;
    }
    return dflt;
  }
  const a = kind === 4 ? SCANNED[0]! : NONE;
  for (const bits of t.v4Lengths) {
    const v = t.v4.get(v4Key((a & mask32(bits)) >>> 0, bits));
    if (v !== undefined) return v;
  }
  return dflt;
}

function rangeLookup(pieces: GeoConfig['pieces'], address: string, dflt: string): string {
  const a = scanAddress(address) === 4 ? SCANNED[0]! : NONE;
  let lo = 0;
  let hi = pieces.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = pieces[mid]!;
    if (a < p.from) hi = mid - 1;
    else if (a > p.to) lo = mid + 1;
    else return p.value;
  }
  return dflt;
}

/**
 * The client address X-Forwarded-For gives when the peer is a trusted proxy: its last address,
 * or with `recursive` the last one that is not trusted itself (the first one when all are). An
 * entry that is no address ends the walk with what was found before it (nginx, checked with
 * ask-nginx: "junk, 10.0.0.2" gives 10.0.0.2; "10.0.0.2, junk" the peer).
 */
export function forwardedAddress(peer: string, xff: string, trusted: AddressCheck, recursive: boolean): string {
  if (!trusted(peer) || xff === '') return peer;
  let end = xff.length;
  let found = peer;
  while (end > 0) {
    const comma = xff.lastIndexOf(',', end - 1);
    const addr = xff.slice(comma + 1, end).trim();
    end = comma < 0 ? 0 : comma;
    if (addr === '') continue;
    if (scanAddress(addr) === 0) return found;
    found = addr;
    if (!recursive || !trusted(addr)) return addr;
  }
  return found;
}

export interface GeoInputs<C> {
  /** The looked-up address: `$address`, or the client's. */
  readonly address: Getter<C>;
  /** X-Forwarded-For (http, with `proxy`), else null. */
  readonly forwardedFor: Getter<C> | null;
}

export function compileGeo<C>(g: GeoConfig, inputs: GeoInputs<C>): Getter<C> {
  const { address, forwardedFor } = inputs;
  const trusted = g.proxies.length > 0 && forwardedFor !== null ? compileTrustedPeers(g.proxies) : null;
  const dflt = g.defaultValue;
  let lookup: (a: string) => string;
  if (g.ranges) {
    const pieces = g.pieces;
    lookup = (a) => rangeLookup(pieces, a, dflt);
  } else {
    const t = buildCidr(g.networks);
    lookup = (a) => cidrLookup(t, a, dflt);
  }
  if (trusted === null) return (c) => lookup(address(c));
  const recursive = g.proxyRecursive;
  return (c) => lookup(forwardedAddress(address(c), forwardedFor!(c), trusted, recursive));
}
