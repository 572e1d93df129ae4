/**
 * Message body framing as bytes arrive: how many bytes of a chunk belong to the body and whether
 * it is complete. Content-Length bodies are counted, chunked ones scanned (validated, never
 * re-encoded: the bytes pass unchanged).
 */
import { ChunkedScanner } from '../wire/chunked.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { ResponseHead } from '../wire/http1-response.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_STREAM, type BodyFraming } from './request.js';

/** take(): the chunked framing is broken (400 for a request, an aborted response upstream). */
export const BODY_INVALID = -1;
/** take(): the body exceeds client_max_body_size (413). */
export const BODY_TOO_LARGE = -2;

export class RequestBodyFraming {
  done: boolean;
  #remaining: number;
  readonly #scanner: ChunkedScanner | null;
  /** A body that ends with its HTTP/2 stream: its bytes so far (client_max_body_size), else -1. */
  #streamed: number;

  constructor(head: RequestHead, framing: BodyFraming) {
    this.#scanner = framing === BODY_CHUNKED ? new ChunkedScanner() : null;
    this.#streamed = framing === BODY_STREAM ? 0 : -1;
    this.#remaining = framing === BODY_LENGTH ? head.contentLength : 0;
    this.done = framing === BODY_NONE;
  }

  /** Bytes of `chunk` that belong to the body, or BODY_INVALID / BODY_TOO_LARGE (maxBytes 0: no limit). */
  take(chunk: Buffer, maxBytes: number): number {
    const scanner = this.#scanner;
    if (this.#streamed >= 0) {
      this.#streamed += chunk.length;
      return maxBytes > 0 && this.#streamed > maxBytes ? BODY_TOO_LARGE : chunk.length;
    }
    if (scanner === null) {
      const n = Math.min(this.#remaining, chunk.length);
      this.#remaining -= n;
      if (this.#remaining === 0) this.done = true;
      return n;
    }
    const n = scanner.scan(chunk);
    if (n < 0) return BODY_INVALID;
    if (maxBytes > 0 && scanner.dataBytes > maxBytes) return BODY_TOO_LARGE;
    if (scanner.done) this.done = true;
    return n;
  }

  /** A body that ends with its stream has ended. */
  end(): void {
    this.done = true;
  }
}

/** Request bodies up to this size are kept so a retry can send them again (nginx buffers them). */
const REPLAY_BODY_BYTES = 64 * 1024;

/** Every request body byte received so far, for a retry, until it outgrows REPLAY_BODY_BYTES. */
export class BodyReplay {
  /** False once the body outgrew the limit (the parts are dropped then). */
  complete = true;
  parts: Buffer[] = [];
  #bytes = 0;

  add(part: Buffer): void {
    if (!this.complete) return;
    this.#bytes += part.length;
    if (this.#bytes <= REPLAY_BODY_BYTES) {
      this.parts.push(part);
    } else {
      this.complete = false;
      this.parts = [];
    }
  }
}

/** One per exchange, restarted for each upstream response head (a retry reads another). */
export class ResponseBodyFraming {
  done = false;
  /** Why the chunked framing broke, for the log. */
  error: string | null = null;
  #kind: ResponseHead['body'] = 'none';
  #remaining = 0;
  #scanner: ChunkedScanner | null = null;

  start(res: ResponseHead): void {
    this.#kind = res.body;
    this.#remaining = res.body === 'length' ? res.contentLength : 0;
    this.#scanner = res.body === 'chunked' ? new ChunkedScanner() : null;
    this.error = null;
    this.done = res.body === 'none' || (res.body === 'length' && res.contentLength === 0);
  }

  /** Bytes of `chunk` that belong to the body ('close': all of them), or BODY_INVALID. */
  take(chunk: Buffer): number {
    switch (this.#kind) {
      case 'length': {
        const n = Math.min(this.#remaining, chunk.length);
        this.#remaining -= n;
        this.done = this.#remaining === 0;
        return n;
      }
      case 'chunked': {
        const scanner = this.#scanner!;
        const n = scanner.scan(chunk);
        if (n < 0) {
          this.error = scanner.error;
          return BODY_INVALID;
        }
        this.done = scanner.done;
        return n;
      }
      case 'none':
        this.done = true;
        return 0;
      default:
        return chunk.length;
    }
  }
}
