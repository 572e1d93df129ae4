/**
 * PROXY protocol v1 (text) and v2 (binary), as specified by HAProxy's proxy-protocol.txt.
 * The decoder is incremental (it says "incomplete" until a whole header is buffered) so both the
 * stream listener and the HTTP engine can feed it the bytes they have read so far.
 */
import { isIP } from 'node:net';
import { formatIp, ipToBytes, unmap } from './ip.js';

/** The 12-byte v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The longest legal v1 line, CRLF included ("PROXY UNKNOWN ffff:...:ffff ... 65535 65535\r\n"). */
export const PROXY_V1_MAX_BYTES = 107;
/** TLV types (section 2.2 of the spec). */
export const PP2_TYPE_ALPN = 0x01;
export const PP2_TYPE_AUTHORITY = 0x02;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Refuse absurd v2 lengths early: the address block plus TLVs never needs more than this. */
const V2_MAX_BODY = 4096;

export interface ProxyTlv {
  readonly type: number;
  readonly value: Buffer;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** 'local': a health check from the proxy itself; the connection's own addresses apply. */
  readonly command: 'proxy' | 'local';
  /** 'unknown' for v1 UNKNOWN and v2 AF_UNSPEC (addresses are then empty). */
  readonly family: 'tcp4' | 'tcp6' | 'unix' | 'unknown';
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
  readonly tlvs: readonly ProxyTlv[];
  /** PP2_TYPE_AUTHORITY (the client's SNI) when present. */
  readonly authority: string | null;
}

export type ProxyDecodeResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `length` bytes of the input were the header; the rest is payload. */
  | { readonly kind: 'ok'; readonly header: ProxyHeader; readonly length: number };

const INCOMPLETE: ProxyDecodeResult = Object.freeze({ kind: 'incomplete' });

function invalid(reason: string): ProxyDecodeResult {
  return { kind: 'invalid', reason };
}

/** Decode a PROXY header (v1 or v2) at the start of `buf`. */
export function decodeProxyHeader(buf: Buffer): ProxyDecodeResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === 0x0d) return decodeV2(buf);
  if (buf[0] === 0x50) return decodeV1(buf);
  return invalid('no PROXY protocol header');
}

function isPrefixOf(buf: Buffer, expected: Buffer): boolean {
  const n = Math.min(buf.length, expected.length);
  return buf.subarray(0, n).equals(expected.subarray(0, n));
}

const V1_PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function decodeV1(buf: Buffer): ProxyDecodeResult {
  if (!isPrefixOf(buf, V1_PREFIX)) return invalid('broken PROXY v1 header');
  const limit = Math.min(buf.length, PROXY_V1_MAX_BYTES);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (buf[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end === -1) return buf.length >= PROXY_V1_MAX_BYTES ? invalid('PROXY v1 header too long') : INCOMPLETE;
  if (buf[end - 1] !== 0x0d) return invalid('PROXY v1 header not terminated by CRLF');
  const line = buf.toString('latin1', 0, end - 1);
  const parts = line.split(' ');
  const length = end + 1;
  if (parts[1] === 'UNKNOWN') {
    // The receiver must ignore anything after UNKNOWN.
    return { kind: 'ok', length, header: unknownHeader(1) };
  }
  if (parts.length !== 6) return invalid('PROXY v1 header has the wrong number of fields');
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const want = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  if (want === 0) return invalid(`unknown PROXY v1 protocol "${proto}"`);
  if (isIP(src) !== want || isIP(dst) !== want) return invalid('bad address in PROXY v1 header');
  if (!V1_PORT.test(sport) || !V1_PORT.test(dport)) return invalid('bad port in PROXY v1 header');
  const sourcePort = Number(sport);
  const destinationPort = Number(dport);
  if (sourcePort > 65535 || destinationPort > 65535) return invalid('bad port in PROXY v1 header');
  return {
    kind: 'ok',
    length,
    header: {
      version: 1,
      command: 'proxy',
      family: want === 4 ? 'tcp4' : 'tcp6',
      sourceAddress: src,
      sourcePort,
      destinationAddress: dst,
      destinationPort,
      tlvs: [],
      authority: null,
    },
  };
}

function unknownHeader(version: 1 | 2, command: 'proxy' | 'local' = 'proxy', tlvs: ProxyTlv[] = []): ProxyHeader {
  return {
    version,
    command,
    family: 'unknown',
    sourceAddress: '',
    sourcePort: 0,
    destinationAddress: '',
    destinationPort: 0,
    tlvs,
    authority: authorityOf(tlvs),
  };
}

function authorityOf(tlvs: readonly ProxyTlv[]): string | null {
  const t = tlvs.find((x) => x.type === PP2_TYPE_AUTHORITY);
  return t === undefined ? null : t.value.toString('utf8');
}

function decodeV2(buf: Buffer): ProxyDecodeResult {
  if (!isPrefixOf(buf, PROXY_V2_SIGNATURE)) return invalid('broken PROXY v2 signature');
  if (buf.length < 16) return INCOMPLETE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid('unsupported PROXY protocol version');
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return invalid('unknown PROXY v2 command');
  const famProto = buf[13]!;
  const bodyLength = buf.readUInt16BE(14);
  if (bodyLength > V2_MAX_BODY) return invalid('PROXY v2 header too long');
  const length = 16 + bodyLength;
  if (buf.length < length) return INCOMPLETE;
  const body = buf.subarray(16, length);
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (family > 3 || transport > 2) return invalid('unknown PROXY v2 address family');
  const addrLen = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (body.length < addrLen) return invalid('PROXY v2 address block too short');
  const tlvs = decodeTlvs(body.subarray(addrLen));
  if (tlvs === null) return invalid('malformed PROXY v2 TLV');
  const command = cmd === 0 ? 'local' : 'proxy';
  // LOCAL, AF_UNSPEC and non-stream transports carry no usable address: keep the real one.
  if (cmd === 0 || family === 0 || transport !== 1) return { kind: 'ok', length, header: unknownHeader(2, command, tlvs) };
  let header: ProxyHeader;
  if (family === 3) {
    header = {
      version: 2,
      command,
      family: 'unix',
      sourceAddress: cString(body.subarray(0, 108)),
      sourcePort: 0,
      destinationAddress: cString(body.subarray(108, 216)),
      destinationPort: 0,
      tlvs,
      authority: authorityOf(tlvs),
    };
  } else {
    const n = family === 1 ? 4 : 16;
    header = {
      version: 2,
      command,
      family: family === 1 ? 'tcp4' : 'tcp6',
      sourceAddress: formatIp(body.subarray(0, n)),
      destinationAddress: formatIp(body.subarray(n, 2 * n)),
      sourcePort: body.readUInt16BE(2 * n),
      destinationPort: body.readUInt16BE(2 * n + 2),
      tlvs,
      authority: authorityOf(tlvs),
    };
  }
  return { kind: 'ok', length, header };
}

function decodeTlvs(buf: Buffer): ProxyTlv[] | null {
  const out: ProxyTlv[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 3 > buf.length) return null;
    const type = buf[i]!;
    const len = buf.readUInt16BE(i + 1);
    if (i + 3 + len > buf.length) return null;
    out.push({ type, value: Buffer.from(buf.subarray(i + 3, i + 3 + len)) });
    i += 3 + len;
  }
  return out;
}

function cString(buf: Buffer): string {
  const nul = buf.indexOf(0);
  return buf.toString('utf8', 0, nul === -1 ? buf.length : nul);
}


// ---------------------------------------------------------------------------------------------
// encoding

export interface ProxyEndpoints {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
}

/**
 * Decide the family a header can describe: both ends IPv4 (IPv4-mapped IPv6 counts as IPv4,
 * as a dual-stack listener reports them) → TCP4; both IP but mixed → TCP6 with v4 mapped;
 * anything else (unix sockets) → UNKNOWN.
 */
function normalise(e: ProxyEndpoints): { family: 4 | 6 | 0; src: string; dst: string } {
  const src = unmap(e.sourceAddress);
  const dst = unmap(e.destinationAddress);
  const fs = isIP(src);
  const fd = isIP(dst);
  if (fs === 0 || fd === 0) return { family: 0, src, dst };
  if (fs === 4 && fd === 4) return { family: 4, src, dst };
  return { family: 6, src: fs === 4 ? `::ffff:${src}` : src, dst: fd === 4 ? `::ffff:${dst}` : dst };
}

export function encodeProxyV1(e: ProxyEndpoints): Buffer {
  const n = normalise(e);
  if (n.family === 0) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP${n.family} ${n.src} ${n.dst} ${e.sourcePort} ${e.destinationPort}\r\n`, 'latin1');
}

/** `datagram`: the transport byte says DGRAM (a UDP session) instead of STREAM. */
export function encodeProxyV2(e: ProxyEndpoints, tlvs: readonly ProxyTlv[] = [], datagram = false): Buffer {
  const n = normalise(e);
  let tlvLength = 0;
  for (const t of tlvs) tlvLength += 3 + t.value.length;
  const addrLen = n.family === 4 ? 12 : n.family === 6 ? 36 : 0;
  const out = Buffer.alloc(16 + addrLen + tlvLength);
  PROXY_V2_SIGNATURE.copy(out, 0);
  // Without IP endpoints there is nothing to relay: LOCAL + AF_UNSPEC tells the backend so.
  out[12] = n.family === 0 ? 0x20 : 0x21;
  out[13] = n.family === 0 ? 0x00 : (n.family === 4 ? 0x10 : 0x20) | (datagram ? 0x02 : 0x01);
  out.writeUInt16BE(addrLen + tlvLength, 14);
  let i = 16;
  if (n.family !== 0) {
    i = writeIp(out, i, n.src);
    i = writeIp(out, i, n.dst);
    out.writeUInt16BE(e.sourcePort, i);
    out.writeUInt16BE(e.destinationPort, i + 2);
    i += 4;
  }
  for (const t of tlvs) {
    out[i] = t.type;
    out.writeUInt16BE(t.value.length, i + 1);
    t.value.copy(out, i + 3);
    i += 3 + t.value.length;
  }
  return out;
}

function writeIp(out: Buffer, at: number, ip: string): number {
  const bytes = ipToBytes(ip);
  bytes.copy(out, at);
  return at + bytes.length;
}
