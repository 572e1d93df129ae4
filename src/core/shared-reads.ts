/**
 * Reads of accepted sockets into one buffer shared by all of them (issue 18). Node reads an
 * accepted socket through its Readable path: a 64 KiB allocation per read (malloc, then shrunk to
 * the bytes read), an ArrayBuffer and a Buffer, then Readable.push. net's `onread` option reads
 * into a buffer of ours instead, but Node offers it only on sockets we open (pool.ts uses it);
 * `readIntoShared` switches an accepted socket to it. A small proxied request was one such read
 * per request, all of it a request head the connection copies or parses at once.
 *
 * One buffer serves every socket because libuv reads one socket at a time and hands the bytes to
 * the callback before the next read: the bytes are valid until the callback returns. So whatever
 * is kept past it must be a copy, and the owner decides per read (connection.ts: a request head
 * is parsed in place, other bytes are copied). Bytes that will likely be kept (a request body)
 * may be read into a buffer of their own instead: `readNextIntoOwn` before the callback returns
 * makes the socket's next read land in a fresh buffer, handed over with its bytes, never reused.
 *
 * It reaches into Node's net internals (the socket's `kBuffer`/`kBufferCb`/`kBufferGen` symbols
 * and `_handle.useUserBuffer`, what `net.connect({ onread })` sets up): where they are not as
 * expected (another Node version, a TLS socket, bytes already buffered), the socket is left
 * to Node's own reads and `readIntoShared` returns false.
 */
import type net from 'node:net';

/** The size of the shared buffer, the size of Node's own reads of a socket. */
export const SHARED_READ_BYTES = 64 * 1024;
/** A request body's own read buffer (readNextIntoOwn). */
const OWN_READ_BYTES = 16 * 1024;

const SHARED = Buffer.allocUnsafeSlow(SHARED_READ_BYTES);

/** The buffer the socket whose read callback just ran reads into next (its callback chose). */
let nextRead: Buffer = SHARED;

/** kBufferGen: called by Node right after each read's callback, for that socket. */
function nextBuffer(): Buffer {
  const next = nextRead;
  nextRead = SHARED;
  return next;
}

interface ReadSymbols {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

/** Node's own symbols, found by their names on the first socket (null: not this Node). */
let symbols: ReadSymbols | null | undefined;

function symbolsOf(socket: net.Socket): ReadSymbols | null {
  if (symbols !== undefined) return symbols;
  const byName = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  symbols = buffer !== undefined && callback !== undefined && generator !== undefined ? { buffer, callback, generator } : null;
  return symbols;
}

type Internals = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } | null; encrypted?: boolean };

/**
 * From now on the socket's reads land in the shared buffer and `callback` (`this` is the socket)
 * gets them instead of 'data' events; false when the socket stays on Node's reads. Call it
 * before anything is read or buffered (an accepted socket's first synchronous step).
 */
export function readIntoShared(socket: net.Socket, callback: (this: net.Socket, n: number, buf: Buffer) => void): boolean {
  const s = socket as unknown as Internals;
  const handle = s._handle;
  if (handle == null || typeof handle.useUserBuffer !== 'function' || s.encrypted === true) return false;
  if (socket.readableLength > 0 || socket.destroyed) return false;
  const sym = symbolsOf(socket);
  if (sym === null || s[sym.buffer] !== null || s[sym.callback] !== null || s[sym.generator] !== null) return false;
  s[sym.buffer] = SHARED;
  s[sym.callback] = callback;
  s[sym.generator] = nextBuffer;
  handle.useUserBuffer(SHARED);
  return true;
}

/** The bytes are a view of the shared buffer: valid only until the read callback returns. */
export function isSharedRead(buf: Buffer): boolean {
  return buf.buffer === SHARED.buffer;
}

/**
 * Inside a read callback of `n` bytes into `buf`: the socket's next read lands in a fresh buffer
 * of its own, 16 KiB (nginx's client_body_buffer_size: what a slow sender holds between reads),
 * or 64 KiB after a read that filled its buffer (Node's read size for a fast one).
 */
export function readNextIntoOwn(n: number, buf: Buffer): void {
  nextRead = Buffer.allocUnsafeSlow(n === buf.length ? SHARED_READ_BYTES : OWN_READ_BYTES);
}

/**
 * A socket read in flowing mode gains nothing from Readable's "read more" pass, yet every read
 * schedules it: a process.nextTick, a read(0) and, on Node 20, a tick queue run that allocates a
 * Map (~0.8 KB and a tick per request). Node's own http and http2 streams turn it off the same
 * way. Reading still restarts as before: libuv keeps reading while the socket is flowing or below
 * its high-water mark, and resume() reads again through read(). (For the sockets left on Node's
 * reads; a shared-buffer socket's bytes never enter its Readable.)
 */
export function suppressReadMore(socket: net.Socket): void {
  const state = (socket as { _readableState?: { readingMore: boolean } | null })._readableState;
  if (state != null) state.readingMore = true;
}
