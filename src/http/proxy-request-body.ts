/**
 * The request body of a proxied request on its way upstream: its framing as it arrives
 * (framing.ts: counted, or chunked and scanned, never re-encoded), the bytes going to the current
 * try's upstream connection once its head went out and held until then (proxy_next_upstream keeps
 * them for a retry too: next-upstream.ts). An HTTP/2 body without content-length arrives as bare
 * DATA bytes and goes upstream chunked: each DATA frame becomes one chunk (size line, data, CRLF
 * in one writev, the data not copied), and the end of the stream the last chunk.
 *
 * One per ProxyExchange: it is the body's framing object too, so the split costs no allocation.
 */
import type { UpstreamAttempt } from '../upstream/attempts.js';
import { chunkParts, LAST_CHUNK } from '../wire/chunked.js';
import { RequestBodyFraming } from './framing.js';
import type { NextUpstream } from './next-upstream.js';
import type { LocationPlan, ProxyPlan } from './plan.js';
import type { UpstreamConn } from './pool.js';
import { KeptBody } from './kept-body.js';
import { BODY_NONE, BODY_STREAM, type HttpRequest } from './request.js';
import type { ClientTransport } from './transport.js';


export class ProxyRequestBody extends RequestBodyFraming {
  readonly #t: ClientTransport;
  readonly #r: HttpRequest;
  readonly #next: NextUpstream;
  readonly #maxBytes: number;
  /** proxy_pass_request_body: off reads the body and drops it. */
  readonly #pass: boolean;
  /** An HTTP/2 body without content-length: chunk framing is made here. */
  readonly #streamed: boolean;
  /** The copy for $request_body / $request_body_file, only where the location's plan asks for one. */
  readonly #kept: KeptBody | null;
  /** proxy_request_buffering: how much of the body may be read before the upstream is asked (-1: off). */
  readonly #bufferBytes: number;
  /** Body bytes held before any try's head went out. */
  #heldBytes = 0;

  constructor(r: HttpRequest, plan: LocationPlan, proxy: ProxyPlan, next: NextUpstream) {
    super(r.head, r.body);
    this.#t = r.transport;
    this.#r = r;
    this.#next = next;
    this.#maxBytes = plan.settings.clientMaxBodySizeBytes;
    this.#pass = proxy.passBody;
    this.#streamed = r.body === BODY_STREAM;
    this.#bufferBytes = proxy.passBody ? proxy.requestBufferBytes : -1;
    const keep = plan.keepBody;
    // An error_page proxied again keeps the copy the first exchange made (it is released once, at
    // the log). `Content-Length: 0` with client_body_in_file_only still makes an (empty) file, as nginx.
    this.#kept = keep === null || r.keptBody !== null || (r.body === BODY_NONE && !(keep.fileOnly && r.head.contentLength === 0))
      ? null
      : (r.keptBody = new KeptBody(keep, r.body, r.head.contentLength, r.site.logger));
  }

  /**
   * Client bytes: returns how many belong to the body (or BODY_INVALID / BODY_TOO_LARGE) and sends
   * them to `up`, the current try's connection (with `attempt`, its record), or holds them.
   */
  receive(chunk: Buffer, up: UpstreamConn | null, attempt: UpstreamAttempt | null): number {
    const n = this.take(chunk, this.#maxBytes);
    if (n <= 0) return n;
    this.#r.requestLength += n;
    const part = n === chunk.length ? chunk : chunk.subarray(0, n);
    const kept = this.#kept;
    if (kept !== null) {
      kept.add(part);
      if (this.done) kept.end();
    }
    if (!this.#pass) return n;
    if (!this.#streamed) {
      this.#forward(part, up, attempt);
      return n;
    }
    const socket = up?.socket;
    socket?.cork();
    for (const bytes of chunkParts(part)) this.#forward(bytes, up, attempt);
    socket?.uncork();
    return n;
  }

  /**
   * The upstream may be asked now: the body is complete, buffering is off, or more of it came
   * than client_body_buffer_size (nginx would go on into a temp file; tsproxy streams the rest).
   */
  get ready(): boolean {
    return this.done || this.#bufferBytes < 0 || this.#heldBytes > this.#bufferBytes;
  }

  /**
   * proxy_request_buffering: whether asking the upstream waits for more of the body. A client
   * that waits for 100 Continue gets it from us then, as from nginx (Expect is not passed on).
   */
  deferStart(): boolean {
    if (this.ready) return false;
    const head = this.#r.head;
    if (head.expectContinue && head.versionMinor === 1) this.#t.sendContinue();
    return true;
  }

  /** The end of a body that ends with its HTTP/2 stream: the last chunk goes upstream. */
  finish(up: UpstreamConn | null, attempt: UpstreamAttempt | null): void {
    this.end();
    this.#kept?.end();
    if (this.#pass) this.#forward(LAST_CHUNK, up, attempt);
  }

  /** Sent now, or held until the try's head goes out (the client is paused meanwhile). */
  #forward(part: Buffer, up: UpstreamConn | null, attempt: UpstreamAttempt | null): void {
    const next = this.#next;
    next.keep(part);
    if (next.headSent && up !== null) {
      attempt!.bytesSent += part.length;
      if (!up.socket.write(part)) this.#t.pause();
    } else {
      next.hold(part);
      // Buffering (proxy_request_buffering): read on until the body is complete or the buffer full.
      this.#heldBytes += part.length;
      if (this.#bufferBytes < 0 || this.#heldBytes > this.#bufferBytes) this.#t.pause();
    }
  }
}
