/**
 * A request body in a temp file (body-file.ts) on its way to an upstream connection: read in
 * blocks from the file's start, each written as soon as the connection drained the one before
 * (the upstream's backpressure, so memory stays one block). Each try starts again from 0: a retry
 * sends the whole body again. Used by proxy_pass (ProxyRequestBody: the blocks are the body as
 * framed for the upstream) and fastcgi_pass (each block wrapped in STDIN records, then the
 * empty STDIN record).
 */
import type { UpstreamAttempt } from '../upstream/attempts.js';
import type { BodyFile } from './body-file.js';
import type { UpstreamConn } from './pool.js';
import type { HttpRequest } from './request.js';

/** One read of the file on its way upstream. */
const READ_BYTES = 64 * 1024;

export interface BodyFileSendOwner {
  /** The file could not be read (logged): nginx answers 500. */
  bodyFileFailed(): void;
  /** The whole file (and the trailer) was written to the connection. */
  bodyFileSent(): void;
}

export class BodyFileSender {
  readonly #file: BodyFile;
  readonly #r: HttpRequest;
  readonly #owner: BodyFileSendOwner;
  /** How a block goes on the wire (FastCGI: STDIN records), null: as it is. */
  readonly #encode: ((block: Buffer) => Buffer[]) | null;
  /** Written after the last block (FastCGI: the empty STDIN record), null: nothing. */
  readonly #trailer: Buffer | null;
  /** The connection of the try the file goes to (null when not sending), the next position, the try. */
  #on: UpstreamConn | null = null;
  #position = 0;
  #attempt: UpstreamAttempt | null = null;
  #awaitingDrain = false;

  constructor(file: BodyFile, r: HttpRequest, owner: BodyFileSendOwner, encode: ((block: Buffer) => Buffer[]) | null = null, trailer: Buffer | null = null) {
    this.#file = file;
    this.#r = r;
    this.#owner = owner;
    this.#encode = encode;
    this.#trailer = trailer;
  }

  /** The file is still being written to the connection (it must not be reused before the end). */
  get sending(): boolean {
    return this.#on !== null;
  }

  /** A try's head went out on `up`: the file follows from its start. */
  start(up: UpstreamConn, attempt: UpstreamAttempt): void {
    this.#on = up;
    this.#attempt = attempt;
    this.#position = 0;
    this.#awaitingDrain = false;
    this.#pump();
  }

  /** The try is over (a retry, the response complete, the request done). */
  stop(): void {
    this.#on = null;
    this.#attempt = null;
  }

  /** The connection drained: more of the file may go. */
  drained(up: UpstreamConn): void {
    if (up !== this.#on || !this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    this.#pump();
  }

  #write(up: UpstreamConn, data: Buffer): boolean {
    this.#attempt!.bytesSent += data.length;
    return up.socket.write(data);
  }

  #pump(): void {
    const up = this.#on;
    if (up === null) return;
    const file = this.#file;
    const left = file.size - this.#position;
    if (left <= 0) {
      // The trailer is counted to the try: written before stop() lets go of it.
      if (this.#trailer !== null) this.#write(up, this.#trailer);
      this.stop();
      return this.#owner.bodyFileSent();
    }
    file.read(this.#position, Math.min(left, READ_BYTES), (err, data) => {
      if (up !== this.#on || up.socket.destroyed) return;
      if (err !== null || data === null || data.length === 0) {
        this.#r.site.logger.error({ code: 'TSP_ERR_BODY_FILE', err, file: file.name }, 'could not read the request body file');
        this.stop();
        return this.#owner.bodyFileFailed();
      }
      this.#position += data.length;
      let flushed = true;
      if (this.#encode === null) flushed = this.#write(up, data);
      else for (const part of this.#encode(data)) flushed = this.#write(up, part);
      if (flushed) this.#pump();
      else this.#awaitingDrain = true;
    });
  }
}
