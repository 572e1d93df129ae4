/**
 * The client preface, read before a socket is handed to node's http2.
 *
 * h2c with prior knowledge (RFC 9113 §3.3): on a plain listen where a server offers http2, the
 * first bytes decide. The 24-byte client preface means HTTP/2; anything that stops matching it
 * is HTTP/1.1 (the bytes read so far are put back for the HTTP/1.1 engine).
 *
 * The first frame: nginx serves a client whose first frame after the preface is not SETTINGS as
 * if an empty SETTINGS had arrived; nghttp2 answers it with a connection error. So the header of
 * the first frame is read too (briefly: a client may wait for our SETTINGS before it writes
 * again), and when it is not a SETTINGS frame an empty SETTINGS is put back in front of it.
 */
import type net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;
const FRAME_TYPE_SETTINGS = 0x4;
const FLAG_ACK = 0x1;
/** An empty SETTINGS frame (length 0, type 4, no flags, stream 0). */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, FRAME_TYPE_SETTINGS, 0, 0, 0, 0, 0]);
/**
 * How long to wait for the first frame's header once the preface is in. Clients write the preface
 * and their SETTINGS together; this bounds the wait for one that does not.
 */
const FIRST_FRAME_WAIT_MS = 50;

function noop(): void {}

/**
 * Reads until the preface and the first frame header are in (or the preface fails), then pauses
 * the socket, puts the bytes back (with an empty SETTINGS in front of a first frame that is not
 * SETTINGS) and calls `decide` (the HTTP/1.1 side must resume the socket). A client that has not
 * decided within `timeoutMs` (silent or dribbling) is closed. With `h2Only` (ALPN chose h2) a
 * wrong preface is still HTTP/2: node's http2 answers it (GOAWAY).
 */
export function sniffH2cPreface(socket: net.Socket, timeoutMs: number, decide: (isH2: boolean) => void, h2Only = false): void {
  socket.on('error', noop);
  let got: Buffer | null = null;
  let wait: NodeJS.Timeout | null = null;
  const onData = (chunk: Buffer): void => {
    got = got === null ? chunk : Buffer.concat([got, chunk]);
    const n = Math.min(got.length, PREFACE.length);
    if (got.compare(PREFACE, 0, n, 0, n) !== 0) done(h2Only);
    else if (got.length >= PREFACE.length + FRAME_HEADER_BYTES) done(true);
    else if (got.length >= PREFACE.length && wait === null) wait = setTimeout(done, FIRST_FRAME_WAIT_MS, true);
  };
  const stop = (): void => {
    socket.removeListener('data', onData);
    socket.removeListener('close', stop);
    if (timer !== null) clearTimeout(timer);
    if (wait !== null) clearTimeout(wait);
  };
  const done = (isH2: boolean): void => {
    stop();
    // Closed while waiting (the deadline, or the client left): nothing to hand on.
    if (socket.destroyed) return;
    socket.pause();
    if (got !== null) socket.unshift(isH2 ? withFirstSettings(got) : got);
    decide(isH2);
  };
  socket.on('data', onData);
  // A client that leaves before deciding takes the timers with it.
  socket.once('close', stop);
  // After a read-ahead (a PROXY header) the socket is paused; a new one starts flowing anyway.
  socket.resume();
  // A deadline, not an idle timer: a preface dribbled a byte at a time is cut at timeoutMs too.
  const timer = timeoutMs > 0 ? setTimeout(() => socket.destroy(), timeoutMs) : null;
  timer?.unref();
}

/** `bytes` (starting with the preface) with an empty SETTINGS before a first frame that is not SETTINGS. */
function withFirstSettings(bytes: Buffer): Buffer {
  if (bytes.length < PREFACE.length + FRAME_HEADER_BYTES || bytes.compare(PREFACE, 0, PREFACE.length, 0, PREFACE.length) !== 0) return bytes;
  const type = bytes[PREFACE.length + 3];
  const flags = bytes[PREFACE.length + 4]!;
  if (type === FRAME_TYPE_SETTINGS && (flags & FLAG_ACK) === 0) return bytes;
  return Buffer.concat([bytes.subarray(0, PREFACE.length), EMPTY_SETTINGS, bytes.subarray(PREFACE.length)]);
}
