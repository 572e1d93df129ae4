/**
 * IP addresses between their text and their bytes (PROXY protocol v2 address blocks, CIDR
 * matching), and the IPv4-mapped IPv6 form dual-stack sockets report.
 */
import { isIPv4 } from 'node:net';

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** "::ffff:1.2.3.4" → "1.2.3.4"; anything else unchanged. */
export function unmap(address: string): string {
  const m = MAPPED_V4.exec(address);
  return m === null ? address : m[1]!;
}

/** 4 bytes for IPv4, 16 for IPv6 (IPv4-mapped and embedded dotted quads included). */
export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const out = Buffer.alloc(16);
  let text = ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // A trailing dotted quad fills the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const hs = head === '' ? [] : head.split(':');
  const ts = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  for (let g = 0; g < 8; g++) out.writeUInt16BE(parseInt(groups[g] ?? '0', 16), g * 2);
  return out;
}

/** 4 or 16 bytes → the address's canonical text (RFC 5952 for IPv6). */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Let the URL parser compress the longest zero run the canonical (RFC 5952) way.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
