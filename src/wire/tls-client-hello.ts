/**
 * The TLS ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2). parseClientHello reads the server
 * name (SNI) and ALPN list out of one without terminating TLS (nginx ssl_preread, and our own TLS
 * accept path choosing a server before the handshake): it is given everything read so far and
 * answers "incomplete" until the whole ClientHello is there; the hello may span several TCP
 * segments and several TLS records. encodeClientHello makes the one health checks send.
 */
import { randomBytes } from 'node:crypto';

/** A ClientHello larger than this is refused (nginx reads at most one 16 KiB record too). */
export const CLIENT_HELLO_MAX_BYTES = 16 * 1024;

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
const EXT_SUPPORTED_GROUPS = 0x000a;
const EXT_SESSION_TICKET = 0x0023;
const EXT_PRE_SHARED_KEY = 0x0029;
const NO_BYTES: Buffer = Buffer.alloc(0);
const EXT_SUPPORTED_VERSIONS = 0x002b;
const TLS13 = 0x0304;

export interface ClientHelloInfo {
  /** Lower-cased host name from the server_name extension, or null when the client sent none. */
  readonly serverName: string | null;
  readonly alpn: readonly string[];
  /** The legacy record version ("TLSv1.2"-style text is derived by callers if needed). */
  readonly recordVersion: number;
  /** legacy_session_id (TLS 1.2: the session to resume; TLS 1.3: random). Views into the input. */
  readonly sessionId: Buffer;
  /** The cipher_suites list, 2 bytes per suite ($ssl_ciphers). */
  readonly cipherSuites: Buffer;
  /** The supported_groups list, 2 bytes per group, empty without one ($ssl_curves). */
  readonly groups: Buffer;
  /** A TLS 1.2 session ticket (non-empty session_ticket extension), else null. */
  readonly ticket: Buffer | null;
  /** The first identity of a TLS 1.3 pre_shared_key extension (a ticket), else null. */
  readonly pskIdentity: Buffer | null;
  /**
   * The highest version the client offers, as nginx's $ssl_preread_protocol reads it: the
   * hello's client_version, or TLS 1.3 (0x0304) when supported_versions lists it.
   */
  readonly version: number;
}

export type ClientHelloResult =
  | { readonly kind: 'incomplete' }
  /** The first byte is not a TLS handshake record: not TLS at all. */
  | { readonly kind: 'notTls' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** The hello does not fit in `maxBytes` (nginx stream: "preread buffer full"). */
  | { readonly kind: 'tooLarge' }
  | { readonly kind: 'ok'; readonly hello: ClientHelloInfo };

const INCOMPLETE: ClientHelloResult = Object.freeze({ kind: 'incomplete' });
const TOO_LARGE: ClientHelloResult = Object.freeze({ kind: 'tooLarge' });
const NOT_TLS: ClientHelloResult = Object.freeze({ kind: 'notTls' });

function invalid(reason: string): ClientHelloResult {
  return { kind: 'invalid', reason };
}

export function parseClientHello(buf: Buffer, maxBytes = CLIENT_HELLO_MAX_BYTES): ClientHelloResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] !== RECORD_HANDSHAKE) return NOT_TLS;
  // Gather handshake bytes from consecutive handshake records until the hello is complete.
  const fragments: Buffer[] = [];
  let have = 0;
  let need = -1;
  let offset = 0;
  let recordVersion = 0;
  for (;;) {
    if (offset + 5 > buf.length) return buf.length >= maxBytes ? TOO_LARGE : INCOMPLETE;
    if (buf[offset] !== RECORD_HANDSHAKE) return invalid('ClientHello interleaved with another record type');
    if (buf[offset + 1] !== 0x03) return invalid('unknown TLS record version');
    if (offset === 0) recordVersion = buf.readUInt16BE(1);
    const recordLength = buf.readUInt16BE(offset + 3);
    if (recordLength === 0) return invalid('empty TLS handshake record');
    const end = offset + 5 + recordLength;
    if (end > maxBytes) return TOO_LARGE;
    if (end > buf.length) return INCOMPLETE;
    fragments.push(buf.subarray(offset + 5, end));
    have += recordLength;
    offset = end;
    if (need === -1 && have >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
      need = 4 + head.readUIntBE(1, 3);
      if (need > maxBytes) return TOO_LARGE;
    }
    if (need !== -1 && have >= need) break;
  }
  const hs = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
  return parseHelloBody(hs.subarray(4, need), recordVersion);
}

function parseHelloBody(b: Buffer, recordVersion: number): ClientHelloResult {
  // client_version(2) random(32)
  if (b.length < 2) return invalid('truncated ClientHello');
  let version = b.readUInt16BE(0);
  let i = 34;
  if (i + 1 > b.length) return invalid('truncated ClientHello');
  const sessionId = b.subarray(i + 1, i + 1 + b[i]!);
  i += 1 + b[i]!; // session_id
  if (i + 2 > b.length) return invalid('truncated ClientHello');
  const cipherSuites = b.subarray(i + 2, i + 2 + b.readUInt16BE(i));
  i += 2 + b.readUInt16BE(i); // cipher_suites
  if (i + 1 > b.length) return invalid('truncated ClientHello');
  i += 1 + b[i]!; // compression_methods
  if (i > b.length) return invalid('truncated ClientHello');
  let serverName: string | null = null;
  let alpn: string[] = [];
  let groups = NO_BYTES;
  let ticket: Buffer | null = null;
  let pskIdentity: Buffer | null = null;
  const hello = () => ({ serverName, alpn, recordVersion, version, sessionId, cipherSuites, groups, ticket, pskIdentity });
  if (i === b.length) return { kind: 'ok', hello: hello() }; // no extensions (SSLv3-era)
  if (i + 2 > b.length) return invalid('truncated ClientHello');
  const extEnd = i + 2 + b.readUInt16BE(i);
  if (extEnd > b.length) return invalid('truncated ClientHello extensions');
  i += 2;
  while (i < extEnd) {
    if (i + 4 > extEnd) return invalid('truncated ClientHello extension');
    const type = b.readUInt16BE(i);
    const len = b.readUInt16BE(i + 2);
    const data = b.subarray(i + 4, i + 4 + len);
    if (i + 4 + len > extEnd) return invalid('truncated ClientHello extension');
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(data);
      if (name === undefined) return invalid('malformed server_name extension');
      serverName = name;
    } else if (type === EXT_ALPN) {
      const list = parseAlpn(data);
      if (list === null) return invalid('malformed ALPN extension');
      alpn = list;
    } else if (type === EXT_SUPPORTED_GROUPS && len >= 2) {
      groups = data.subarray(2, Math.min(len, 2 + data.readUInt16BE(0)));
    } else if (type === EXT_SESSION_TICKET && len > 0) {
      ticket = data;
    } else if (type === EXT_PRE_SHARED_KEY && len >= 4) {
      // identities<7..2^16-1>: identity<1..2^16-1> obfuscated_ticket_age(4) ...
      const idLen = data.readUInt16BE(2);
      if (4 + idLen <= len) pskIdentity = data.subarray(4, 4 + idLen);
    } else if (type === EXT_SUPPORTED_VERSIONS && offersTls13(data)) {
      version = TLS13;
    }
    i += 4 + len;
  }
  return { kind: 'ok', hello: hello() };
}

/** supported_versions (RFC 8446 §4.2.1): a length byte, then 2-byte versions. */
function offersTls13(d: Buffer): boolean {
  const end = Math.min(d.length, 1 + (d[0] ?? 0));
  for (let i = 1; i + 1 < end; i += 2) if (d.readUInt16BE(i) === TLS13) return true;
  return false;
}

/** undefined: malformed; null: no host_name entry. */
function parseServerName(d: Buffer): string | null | undefined {
  if (d.length < 2) return undefined;
  const listEnd = 2 + d.readUInt16BE(0);
  if (listEnd > d.length) return undefined;
  let i = 2;
  while (i + 3 <= listEnd) {
    const nameType = d[i]!;
    const len = d.readUInt16BE(i + 1);
    if (i + 3 + len > listEnd) return undefined;
    if (nameType === 0) {
      const name = d.toString('latin1', i + 3, i + 3 + len);
      // A host name is LDH ASCII (RFC 6066); anything else could smuggle bytes into logs or routing.
      if (len === 0 || !/^[A-Za-z0-9._-]+$/.test(name)) return undefined;
      return name.toLowerCase();
    }
    i += 3 + len;
  }
  return i === listEnd ? null : undefined;
}

function parseAlpn(d: Buffer): string[] | null {
  if (d.length < 2) return null;
  const end = 2 + d.readUInt16BE(0);
  if (end > d.length) return null;
  const out: string[] = [];
  let i = 2;
  while (i < end) {
    const len = d[i]!;
    if (len === 0 || i + 1 + len > end) return null;
    out.push(d.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return out;
}

/**
 * A minimal TLS 1.2 ClientHello (also acceptable to TLS 1.3 servers): modern suites and the
 * extensions OpenSSL needs before it answers with a ServerHello rather than an alert
 * (`check type=ssl_hello`).
 */
export function encodeClientHello(): Buffer {
  const suites = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009c, 0x009d, 0x002f, 0x0035];
  const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
  const ext = (type: number, body: number[]): number[] => [...u16(type), ...u16(body.length), ...body];
  const list16 = (items: number[]): number[] => [...u16(items.length * 2), ...items.flatMap(u16)];
  const extensions = [
    ...ext(0x000a, list16([0x001d, 0x0017, 0x0018])), // supported_groups: x25519, secp256r1, secp384r1
    ...ext(0x000b, [1, 0]), // ec_point_formats: uncompressed
    ...ext(0x000d, list16([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601])), // signature_algorithms
  ];
  const body = [
    0x03, 0x03, // client_version TLS 1.2
    ...randomBytes(32),
    0, // session id
    ...list16(suites),
    1, 0, // compression: null
    ...u16(extensions.length),
    ...extensions,
  ];
  const handshake = [HANDSHAKE_CLIENT_HELLO, (body.length >> 16) & 0xff, ...u16(body.length), ...body];
  return Buffer.from([RECORD_HANDSHAKE, 0x03, 0x01, ...u16(handshake.length), ...handshake]);
}
