/**
 * A request waiting for the file system between phases (try_files, index, an `if` file test): no
 * handler owns it yet. A request body arriving meanwhile is kept here (and reading paused), then
 * handed to the handler the request ends up with; without a body nothing is made.
 */
import { BODY_NONE, type HttpRequest } from './request.js';
import type { ClientTransport, Exchange } from './transport.js';

export class BodyHold implements Exchange {
  readonly bodyDone = false;
  #chunks: Buffer[] = [];
  #bodyEnded = false;
  readonly #t: ClientTransport;

  constructor(t: ClientTransport) {
    this.#t = t;
  }

  clientData(chunk: Buffer): number {
    // Copied: the connection may reuse its read buffer.
    this.#chunks.push(Buffer.from(chunk));
    this.#t.pause();
    return chunk.length;
  }

  clientBodyEnd(): void {
    this.#bodyEnded = true;
  }

  clientDrain(): void {}

  clientClosed(): void {
    this.#chunks = [];
  }

  /** Give what was held to the handler now in place (if any), and read on. */
  handOver(t: ClientTransport): void {
    const ex = t.exchange;
    if (ex !== null && ex !== this && !t.closed) {
      for (const c of this.#chunks) ex.clientData(c);
      if (this.#bodyEnded) ex.clientBodyEnd?.();
      if (ex.bodyDone && t.readingBody) t.bodyComplete();
    }
    this.#chunks = [];
    if (!t.closed) t.resume();
  }
}

/** Before an asynchronous step: keep a body that may arrive meanwhile. */
export function holdBody(r: HttpRequest): void {
  const t = r.transport;
  if (r.body !== BODY_NONE && t.exchange === null && t.readingBody) t.exchange = new BodyHold(t);
}

/** After it: take the hold back (null when there was none) so the next handler can be installed. */
export function takeHold(r: HttpRequest): BodyHold | null {
  const t = r.transport;
  const ex = t.exchange;
  if (!(ex instanceof BodyHold)) return null;
  t.exchange = null;
  return ex;
}
