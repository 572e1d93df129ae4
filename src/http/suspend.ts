/**
 * A request waiting between phases (try_files, index or an `if` file test on the file system; an
 * access check: the htpasswd file, an auth_request subrequest): no handler owns it yet. A request
 * body arriving meanwhile is kept here (and reading paused), then handed to the handler the
 * request ends up with, through the transport (so its framing and any pipelined bytes after it
 * are read as usual). A file wait without a body makes nothing; an access wait always installs
 * one, to hear of a client that leaves.
 */
import { BODY_NONE, type HttpRequest } from './request.js';
import type { ClientTransport, Exchange } from './transport.js';

export class BodyHold implements Exchange {
  readonly bodyDone = false;
  /** The client went away during the wait. */
  gone = false;
  /** What else stops when the client leaves (an auth_request subrequest). */
  onGone: (() => void) | null = null;
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
    this.gone = true;
    this.onGone?.();
  }

  /** Give what was held to the handler now in place (if any), and read on. */
  handOver(t: ClientTransport): void {
    const chunks = this.#chunks;
    this.#chunks = [];
    if (t.closed) return;
    t.resume();
    const ex = t.exchange;
    if (ex === null || ex === this) return;
    for (const c of chunks) t.replay(c);
    if (this.#bodyEnded) t.exchange?.clientBodyEnd?.();
  }
}

/** Before an asynchronous step: keep a body that may arrive meanwhile. */
export function holdBody(r: HttpRequest): void {
  const t = r.transport;
  if (r.body !== BODY_NONE && t.exchange === null && t.readingBody) t.exchange = new BodyHold(t);
}

/** Before an access check that may wait: always a hold (it hears of a client that leaves). */
export function accessHold(r: HttpRequest): BodyHold {
  const t = r.transport;
  if (t.exchange instanceof BodyHold) return t.exchange;
  const hold = new BodyHold(t);
  t.exchange = hold;
  return hold;
}

/** After it: take the hold back (null when there was none) so the next handler can be installed. */
export function takeHold(r: HttpRequest): BodyHold | null {
  const t = r.transport;
  const ex = t.exchange;
  if (!(ex instanceof BodyHold)) return null;
  t.exchange = null;
  return ex;
}
