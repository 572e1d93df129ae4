/**
 * A file's bytes streamed to the client with backpressure, as static files (static.ts) and cache
 * HITs (cache/hit.ts) send them: a piece the client's buffer cannot take pauses the reading, and
 * the exchange's clientDrain resumes it (unless limit_rate holds bytes back: the pacer resumes
 * then).
 *
 * Static files read through a node ReadStream of a FileHandle (pipeFileBody). Cache HITs use
 * FileBodySender: synchronous reads of FILE_BODY_READ_BYTES straight from the open fd (as nginx,
 * which reads files with blocking pread unless aio is on; the entry is in the page cache when it
 * is hot), each written at once, into one read buffer per process that is used again whenever the
 * socket took the previous piece whole. Memory per response: at most one read in the socket's
 * queue (a client that does not read stops the reads: the next one waits for its drain).
 */
import { closeSync, readSync, type ReadStream } from 'node:fs';
import { TsproxyError } from '../errors.js';
import type { HttpRequest } from './request.js';

/** The bytes one read of a file takes (static files). */
export const FILE_READ_BYTES = 64 * 1024;

/**
 * The bytes one read of a cache entry's body takes: a 1 MiB body is four reads and four socket
 * writes (64 KiB reads cost a third more CPU per MiB in syscalls and event turns).
 */
export const FILE_BODY_READ_BYTES = 256 * 1024;

/**
 * The most one turn of the event loop sends of a body to a client that takes everything (a fast
 * local one): then the rest waits for the next turn, so other connections are served in between
 * (nginx's sendfile_max_chunk, 2m by default, for the same reason).
 */
const TURN_BYTES = 2 * 1024 * 1024;

/**
 * Feed `stream` to `send` (false: the client is full, pause); `end` when the range was read,
 * `fail` on a read error (the head is out by then: the exchange must not let a short body look
 * complete).
 */
export function pipeFileBody(stream: ReadStream, send: (piece: Buffer) => boolean, end: () => void, fail: (err: Error) => void): void {
  stream.on('data', (chunk: Buffer | string) => {
    if (!send(chunk as Buffer)) stream.pause();
  });
  stream.on('end', end);
  stream.on('error', fail);
}

/** An exchange's clientDrain: the paused file stream goes on. */
export function resumeFileBody(r: HttpRequest, stream: ReadStream | null): void {
  if (r.pacer?.holding) return;
  if (stream !== null && stream.isPaused()) stream.resume();
}

/** Who a FileBodySender works for. */
export interface FileBodyOwner {
  /** Body bytes for the client; false when its buffer is full (then `resume()` on its drain). */
  piece(bytes: Buffer): boolean;
  /** The whole range was read and handed over (the fd is closed). */
  done(): void;
  /** A read failed or found the file shorter than its range (the fd is closed). */
  failed(err: Error): void;
}

/**
 * The read buffer FileBodySenders of this process share: taken for a read, put back when the
 * socket's write took the piece whole (nothing left queued: `writableLength` 0), else left to that
 * write and a fresh one is made for the next read.
 */
let spare: Buffer | null = null;

export class FileBodySender {
  readonly #fd: number;
  readonly #owner: FileBodyOwner;
  /** Where the socket's queue shows whether it kept a piece. */
  readonly #output: { readonly writableLength: number };
  /**
   * Pieces go straight to the socket (no body filter, no limit_rate pacer holding them): the
   * shared buffer may be used. Otherwise each read gets its own buffer (a filter or the pacer may
   * keep the piece after `piece()` returned).
   */
  readonly #direct: boolean;
  #pos: number;
  readonly #end: number;
  #over = false;
  /** The pump of the next turn (made the first time a body is longer than TURN_BYTES). */
  #nextTurn: (() => void) | null = null;

  constructor(fd: number, start: number, length: number, owner: FileBodyOwner, output: { readonly writableLength: number }, direct: boolean) {
    this.#fd = fd;
    this.#pos = start;
    this.#end = start + length;
    this.#owner = owner;
    this.#output = output;
    this.#direct = direct;
  }

  /** Reads and hands over pieces until the client's buffer is full (wait for its drain, then call again) or the range is out. */
  pump(): void {
    const owner = this.#owner;
    const turnEnd = this.#pos + TURN_BYTES;
    while (!this.#over && this.#pos < this.#end) {
      if (this.#pos >= turnEnd) {
        this.#nextTurn ??= () => this.pump();
        setImmediate(this.#nextTurn);
        return;
      }
      const want = Math.min(FILE_BODY_READ_BYTES, this.#end - this.#pos);
      let buf: Buffer;
      if (this.#direct) {
        buf = spare ?? Buffer.allocUnsafeSlow(FILE_BODY_READ_BYTES);
        spare = null;
      } else buf = Buffer.allocUnsafeSlow(want);
      let n: number;
      try {
        n = readSync(this.#fd, buf, 0, want, this.#pos);
      } catch (err) {
        if (this.#direct) spare = buf;
        return this.#fail(err as Error);
      }
      if (n === 0) {
        if (this.#direct) spare = buf;
        return this.#fail(new TsproxyError('TSP_ERR_CACHE_FILE', 'cache file shorter than its entry says'));
      }
      this.#pos += n;
      const more = owner.piece(n === buf.length ? buf : buf.subarray(0, n));
      if (this.#direct && this.#output.writableLength === 0) spare = buf;
      if (!more) return;
    }
    if (this.#over) return;
    this.#over = true;
    closeSync(this.#fd);
    owner.done();
  }

  /** The client went away: no more reads; the fd is closed. */
  stop(): void {
    if (this.#over) return;
    this.#over = true;
    closeSync(this.#fd);
  }

  #fail(err: Error): void {
    this.stop();
    this.#owner.failed(err);
  }
}
