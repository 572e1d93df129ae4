/**
 * WebSocket (RFC 6455) as far as a proxy speaks it itself: the opening handshake of a health
 * check (key, Sec-WebSocket-Accept, the upgrade request) and close frames (a reload closing a
 * tunnel whose route vanished, a check leaving politely). Relayed frames are never parsed.
 */
import { createHash, randomBytes } from 'node:crypto';

/** RFC 6455 §1.3: appended to the key before hashing it into Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Close status codes (RFC 6455 §7.4.1) we send. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;

const OPCODE_CLOSE = 0x8;
const FIN = 0x80;
const MASKED = 0x80;

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64. */
export function websocketKey(): string {
  return randomBytes(16).toString('base64');
}

/** The Sec-WebSocket-Accept a server must answer `key` with. */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** A client's opening handshake for `path` on `host` (RFC 6455 §4.1). */
export function upgradeRequest(path: string, host: string, key: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/**
 * A close frame carrying `code` and no reason: FIN + opcode 8, payload length 2. A server sends
 * it unmasked; a client must mask it (RFC 6455 §5.3), with a fresh random mask each time.
 */
export function closeFrame(code: number, masked: boolean): Buffer {
  const hi = (code >> 8) & 0xff;
  const lo = code & 0xff;
  if (!masked) return Buffer.from([FIN | OPCODE_CLOSE, 2, hi, lo]);
  const mask = randomBytes(4);
  return Buffer.from([FIN | OPCODE_CLOSE, MASKED | 2, mask[0]!, mask[1]!, mask[2]!, mask[3]!, hi ^ mask[0]!, lo ^ mask[1]!]);
}
