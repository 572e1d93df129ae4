/**
 * h2c with prior knowledge (RFC 9113 §3.3): on a plain listen where a server offers http2, the
 * first bytes decide. The 24-byte client preface means HTTP/2; anything that stops matching it
 * is HTTP/1.1 (the bytes read so far are put back for the HTTP/1.1 engine).
 */
import type net from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function noop(): void {}

/**
 * Reads until the preface matches or fails, then pauses the socket, puts the bytes back and calls
 * `decide` (the HTTP/1.1 side must resume the socket). A client that has not decided within
 * `timeoutMs` (silent or dribbling) is closed.
 */
export function sniffH2cPreface(socket: net.Socket, timeoutMs: number, decide: (isH2: boolean) => void): void {
  socket.on('error', noop);
  let got: Buffer | null = null;
  const onData = (chunk: Buffer): void => {
    got = got === null ? chunk : Buffer.concat([got, chunk]);
    const n = Math.min(got.length, PREFACE.length);
    if (got.compare(PREFACE, 0, n, 0, n) !== 0) done(false);
    else if (got.length >= PREFACE.length) done(true);
  };
  const done = (isH2: boolean): void => {
    socket.removeListener('data', onData);
    if (timer !== null) clearTimeout(timer);
    socket.pause();
    socket.unshift(got!);
    decide(isH2);
  };
  socket.on('data', onData);
  // A deadline, not an idle timer: a preface dribbled a byte at a time is cut at timeoutMs too.
  const timer = timeoutMs > 0 ? setTimeout(() => socket.destroy(), timeoutMs) : null;
  timer?.unref();
}
