/**
 * js_content reads the request body before the handler runs (njs: ngx_http_read_client_request_body
 * first), so r.requestText / r.requestBuffer hold it. Kept in memory (de-chunked), bounded by
 * client_max_body_size: 413 past it, 400 for broken chunked framing, as the other handlers.
 */
import { ChunkedDecoder } from '../../wire/chunked.js';
import { BODY_TOO_LARGE, RequestBodyFraming } from '../framing.js';
import { respond } from '../phases.js';
import { BODY_CHUNKED, type HttpRequest } from '../request.js';
import { errorResponse } from '../respond.js';
import type { Exchange } from '../transport.js';

export class JsBodyReader implements Exchange {
  bodyDone = false;
  readonly #r: HttpRequest;
  readonly #framing: RequestBodyFraming;
  readonly #decoder: ChunkedDecoder | null;
  readonly #parts: Buffer[] = [];
  readonly #keep = (data: Buffer): void => {
    // Copied: the connection may reuse its read buffer.
    if (data.length > 0) this.#parts.push(Buffer.from(data));
  };
  readonly #then: (body: Buffer) => void;
  #over = false;

  constructor(r: HttpRequest, then: (body: Buffer) => void) {
    this.#r = r;
    this.#framing = new RequestBodyFraming(r.head, r.body);
    this.#decoder = r.body === BODY_CHUNKED ? new ChunkedDecoder() : null;
    this.#then = then;
  }

  clientData(chunk: Buffer): number {
    if (this.#over || this.#framing.done) return this.bodyDone ? 0 : chunk.length;
    const n = this.#framing.take(chunk, this.#r.plan!.settings.clientMaxBodySizeBytes);
    if (n < 0) {
      this.#over = true;
      respond(this.#r, errorResponse(n === BODY_TOO_LARGE ? 413 : 400), false);
      return chunk.length;
    }
    this.#r.requestLength += n;
    const part = n === chunk.length ? chunk : chunk.subarray(0, n);
    if (this.#decoder !== null) this.#decoder.decode(part, this.#keep);
    else this.#keep(part);
    if (this.#framing.done) this.#done();
    return n;
  }

  clientBodyEnd(): void {
    if (this.#over || this.#framing.done) return;
    this.#framing.end();
    this.#done();
  }

  clientDrain(): void {}

  clientClosed(): void {
    this.#over = true;
  }

  #done(): void {
    this.bodyDone = true;
    this.#over = true;
    const r = this.#r;
    if (r.transport.closed) return;
    this.#then(this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts));
  }
}
