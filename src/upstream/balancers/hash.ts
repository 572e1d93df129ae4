/**
 * ip_hash, `hash key` and `hash key consistent`, with nginx's arithmetic so that a client or key
 * lands on the same peer as it would behind nginx with the same server list.
 */
import { crc32 } from 'node:zlib';
import { ipBytes } from '../../wire/ip.js';
import type { PeerEntry } from '../entry.js';
import type { Balancer, IsEligible, PickContext } from './balancer.js';
import { smoothPick } from './round-robin.js';

/** nginx gives up hashing after this many unusable peers and falls back to round robin. */
const MAX_HASH_TRIES = 20;

/** The entry owning slot `w` of the weight line (entry i owns `weight_i` consecutive slots). */
function entryAtWeight(entries: readonly PeerEntry[], w: number): PeerEntry {
  let i = 0;
  while (w >= entries[i]!.params.weight) {
    w -= entries[i]!.params.weight;
    i++;
  }
  return entries[i]!;
}

function totalWeight(entries: readonly PeerEntry[]): number {
  let total = 0;
  for (const e of entries) total += e.params.weight;
  return total;
}

/** Bytes of an IP address for ip_hash: the /24 of IPv4 (v4-mapped IPv6 included), all of IPv6. */
export function ipHashBytes(address: string): number[] {
  let a = address;
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped !== null) a = mapped[1]!;
  const bytes = ipBytes(a);
  // unix-socket clients: nginx hashes a fixed pseudo address
  if (bytes === null) return [0, 0, 0];
  return bytes.length === 4 ? bytes.slice(0, 3) : bytes;
}

export class IpHashBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];
  readonly #total: number;

  constructor(entries: readonly PeerEntry[]) {
    this.#entries = entries;
    this.#total = totalWeight(entries);
  }

  pick(ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    if (this.#entries.length < 2) return smoothPick(this.#entries, isEligible);
    const bytes = ipHashBytes(ctx.clientAddress);
    let hash = 89;
    for (let tries = 0; tries < MAX_HASH_TRIES; tries++) {
      for (const b of bytes) hash = (hash * 113 + b) % 6271;
      const entry = entryAtWeight(this.#entries, hash % this.#total);
      if (isEligible(entry)) return entry;
    }
    return smoothPick(this.#entries, isEligible);
  }
}

/** `hash key`: Cache::Memcached compatible, ((crc32([rehash] key) >> 16) & 0x7fff) summed over tries. */
export class HashBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];
  readonly #total: number;

  constructor(entries: readonly PeerEntry[]) {
    this.#entries = entries;
    this.#total = totalWeight(entries);
  }

  pick(ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    const key = ctx.hashKey;
    if (key === null || key === '' || this.#entries.length < 2) return smoothPick(this.#entries, isEligible);
    let hash = 0;
    for (let rehash = 0; rehash < MAX_HASH_TRIES; rehash++) {
      const crc = crc32(rehash > 0 ? `${rehash}${key}` : key);
      hash += (crc >>> 16) & 0x7fff;
      const entry = entryAtWeight(this.#entries, hash % this.#total);
      if (isEligible(entry)) return entry;
    }
    return smoothPick(this.#entries, isEligible);
  }
}

/** Points on the ketama ring per unit of weight (nginx). */
const POINTS_PER_WEIGHT = 160;

interface RingPoint {
  readonly hash: number;
  /** Index of the peer in the balancer's list. */
  readonly peer: number;
}

/**
 * The ring point hashes of one peer, as ngx_http_upstream_init_chash: crc32(host "\0" port prev),
 * where prev is the previous point's hash as 4 little-endian bytes (0 for the first).
 */
export function ringHashes({ peer, params }: PeerEntry): number[] {
  let host: string;
  let port: string;
  if (peer.path !== null) {
    host = peer.path;
    port = '';
  } else {
    host = peer.host!.includes(':') ? `[${peer.host}]` : peer.host!;
    port = String(peer.port);
  }
  const base = crc32(Buffer.from(`${host}\0${port}`, 'latin1'));
  const prev = Buffer.alloc(4);
  const out: number[] = [];
  for (let j = 0; j < params.weight * POINTS_PER_WEIGHT; j++) {
    const hash = crc32(prev, base);
    out.push(hash);
    prev.writeUInt32LE(hash, 0);
  }
  return out;
}

export class ConsistentHashBalancer implements Balancer {
  readonly #entries: readonly PeerEntry[];
  readonly #ring: readonly RingPoint[];

  constructor(entries: readonly PeerEntry[]) {
    this.#entries = entries;
    const points: RingPoint[] = [];
    entries.forEach((entry, i) => {
      for (const hash of ringHashes(entry)) points.push({ hash, peer: i });
    });
    points.sort((a, b) => a.hash - b.hash || a.peer - b.peer);
    // equal hashes: the first one wins, as nginx dedups after sorting
    this.#ring = points.filter((p, i) => i === 0 || p.hash !== points[i - 1]!.hash);
  }

  pick(ctx: PickContext, isEligible: IsEligible): PeerEntry | null {
    const key = ctx.hashKey;
    const ring = this.#ring;
    if (key === null || key === '' || this.#entries.length < 2 || ring.length === 0) {
      return smoothPick(this.#entries, isEligible);
    }
    const at = this.#findPoint(crc32(key));
    // walk clockwise past points of unusable peers; each distinct peer is checked once
    const seen = new Set<number>();
    for (let step = 0; step < ring.length && seen.size < this.#entries.length; step++) {
      const index = ring[(at + step) % ring.length]!.peer;
      if (seen.has(index)) continue;
      seen.add(index);
      const entry = this.#entries[index]!;
      if (isEligible(entry)) return entry;
    }
    return null;
  }

  /** Index of the first point with hash >= h (ring.length wraps to 0 through the modulo). */
  #findPoint(h: number): number {
    let lo = 0;
    let hi = this.#ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ring[mid]!.hash < h) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
