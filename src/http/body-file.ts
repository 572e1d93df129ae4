/**
 * One request body file under client_body_temp_path (nginx's ngx_temp_file: a 10-digit number,
 * `levels` subdirectories taken from its end, made on demand): opened on creation, written in
 * order, readable back while open (a buffered proxied body is sent from it, again for a retry),
 * closed and removed (unless kept) at release, once no read is in flight.
 *
 * Used by KeptBody ($request_body_file, client_body_in_file_only) and by ProxyRequestBody (a
 * body larger than client_body_buffer_size with proxy_request_buffering on).
 */
import { close, mkdir, open, read, unlink, writev } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { TsproxyError } from '../errors.js';
import type { HttpRequest } from './request.js';
import { requestLogContext } from './upstream-log.js';
import { BODY_LENGTH, type BodyFraming } from './request.js';

export interface BodyFilePlan {
  readonly tempPath: string;
  readonly tempLevels: readonly number[];
  /** The file outlives the request (client_body_in_file_only on). */
  readonly keepFile: boolean;
}

/** Bytes queued for the disk past which a writer should pause its source (write() says so). */
const QUEUE_BYTES = 64 * 1024;

/**
 * nginx sizes its body buffer to a Content-Length shorter than client_body_buffer_size + 1/4, so
 * such a body stays in memory whole; any other body goes to a file once the buffer is full.
 */
export function lengthFitsBuffer(framing: BodyFraming, contentLength: number, bufferBytes: number): boolean {
  return framing === BODY_LENGTH && contentLength < bufferBytes + (bufferBytes >> 2);
}

/** Told when the queued writes are all on disk, and when the file cannot be written. */
export interface BodyFileOwner {
  bodyFileFlushed(): void;
  bodyFileFailed(): void;
}

/** A request body that goes on into a temp file past client_body_buffer_size (proxied or FastCGI). */
export function openBodyFile(r: HttpRequest, plan: BodyFilePlan, owner: BodyFileOwner): BodyFile {
  const file = new BodyFile(plan, r.site.logger, owner);
  // nginx's warning (1.22), word for word: operators size client_body_buffer_size by it.
  r.site.logger.warn(requestLogContext(r), `a client request body is buffered to a temporary file ${file.name}`);
  return file;
}

/** The next body file number (nginx: ngx_temp_number, 10 digits, moved on by a random step after a collision). */
let nextNumber = 1;

export class BodyFile {
  #name: string;
  readonly #plan: BodyFilePlan;
  readonly #logger: Logger;
  readonly #owner: BodyFileOwner | null;
  #fd = -1;
  #failed = false;
  #writing = false;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  /** Bytes on disk. */
  #size = 0;
  #reads = 0;
  #released = false;

  constructor(plan: BodyFilePlan, logger: Logger, owner: BodyFileOwner | null = null) {
    this.#plan = plan;
    this.#logger = logger;
    this.#owner = owner;
    this.#name = this.#nextName();
    this.#open(true);
  }

  /** The file's path ('' once it could not be written). */
  get name(): string {
    return this.#failed ? '' : this.#name;
  }

  /** Bytes written to disk so far. */
  get size(): number {
    return this.#size;
  }

  /** Everything written so far is on disk. */
  get flushed(): boolean {
    return this.#fd >= 0 && !this.#writing && this.#queuedBytes === 0;
  }

  get failed(): boolean {
    return this.#failed;
  }

  /** Queue `data` for the disk; false when enough is queued that the source should pause until bodyFileFlushed. */
  write(data: Buffer): boolean {
    if (this.#failed || data.length === 0) return true;
    this.#queue.push(data);
    this.#queuedBytes += data.length;
    this.#flush();
    return this.#queuedBytes < QUEUE_BYTES;
  }

  /** Up to `length` bytes from `position` (fewer only at the end of the file). */
  read(position: number, length: number, done: (err: Error | null, data: Buffer | null) => void): void {
    if (this.#fd < 0 || this.#failed) return done(new TsproxyError('TSP_ERR_BODY_FILE', 'body file not open'), null);
    const buf = Buffer.allocUnsafe(length);
    this.#reads++;
    read(this.#fd, buf, 0, length, position, (err, n) => {
      this.#reads--;
      if (this.#released) this.#flush();
      done(err, err === null ? buf.subarray(0, n) : null);
    });
  }

  /** The request is over: the file is closed (after writes and reads in flight), and removed unless kept. */
  release(): void {
    this.#released = true;
    this.#flush();
  }

  #nextName(): string {
    const n = String(nextNumber++ % 1e10).padStart(10, '0');
    let dir = this.#plan.tempPath;
    let end = n.length;
    for (const level of this.#plan.tempLevels) {
      dir = path.join(dir, n.slice(end - level, end));
      end -= level;
    }
    return path.join(dir, n);
  }

  #open(mayCreateDirs: boolean): void {
    open(this.#name, 'wx+', 0o600, (err, fd) => {
      if (err === null) {
        this.#fd = fd;
        this.#flush();
        return;
      }
      if (err.code === 'EEXIST') {
        nextNumber += Math.floor(Math.random() * 1e6) + 1;
        this.#name = this.#nextName();
        return this.#open(mayCreateDirs);
      }
      if (err.code === 'ENOENT' && mayCreateDirs) {
        mkdir(path.dirname(this.#name), { recursive: true, mode: 0o700 }, (e) => (e === null ? this.#open(false) : this.#fail(e)));
        return;
      }
      this.#fail(err);
    });
  }

  #fail(err: Error): void {
    this.#failed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#logger.error({ code: 'TSP_ERR_BODY_FILE', err, file: this.#name }, 'could not write the request body file');
    this.#owner?.bodyFileFailed();
  }

  #flush(): void {
    if (this.#fd < 0 || this.#writing) return;
    if (this.#queue.length > 0 && !this.#failed) {
      const parts = this.#queue;
      const bytes = this.#queuedBytes;
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#writing = true;
      writev(this.#fd, parts, (err) => {
        this.#writing = false;
        if (err !== null) return this.#fail(err);
        this.#size += bytes;
        this.#flush();
        if (this.#queue.length === 0 && !this.#writing) this.#owner?.bodyFileFlushed();
      });
      return;
    }
    if (!this.#released || this.#reads > 0) return;
    const fd = this.#fd;
    this.#fd = -2;
    close(fd, () => {
      if (!this.#plan.keepFile || this.#failed) unlink(this.#name, () => {});
    });
  }
}
