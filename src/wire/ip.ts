/**
 * IP addresses between their text and their bytes (PROXY protocol v2 address blocks, CIDR
 * matching), and the IPv4-mapped IPv6 form dual-stack sockets report.
 */
import { isIP, isIPv4 } from 'node:net';

/** "::ffff:1.2.3.4" → "1.2.3.4" (the form dual-stack sockets report); anything else unchanged. */
export function unmap(address: string): string {
  return address.length > 7 && /^::ffff:/i.test(address) && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** IPv4 or IPv6 text → its bytes (4 or 16), or null. Zone ids (`%eth0`) are not accepted. */
export function ipBytes(text: string): number[] | null {
  const v = text.includes('%') ? 0 : isIP(text);
  if (v === 4) return text.split('.').map(Number);
  if (v !== 6) return null;
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // "::ffff:1.2.3.4": the last 32 bits written as IPv4
    tail.push(...s.slice(lastColon + 1).split('.').map(Number));
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const groups = (x: string): number[] => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = rest === undefined ? [] : groups(rest);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * A socket's address (a zone id is dropped) → 4 or 16 bytes for a PROXY v2 address block; text
 * that is no address (a socket never reports one) gives the unspecified IPv6 address.
 */
export function ipToBytes(ip: string): Buffer {
  const zone = ip.indexOf('%');
  return Buffer.from(ipBytes(zone === -1 ? ip : ip.slice(0, zone)) ?? new Array<number>(16).fill(0));
}

/** 4 or 16 bytes → the address's canonical text (RFC 5952 for IPv6). */
export function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Let the URL parser compress the longest zero run the canonical (RFC 5952) way.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
