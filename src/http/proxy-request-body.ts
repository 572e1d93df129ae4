/**
 * The request body of a proxied request on its way upstream: its framing as it arrives
 * (framing.ts: counted, or chunked and scanned, never re-encoded), the bytes going to the current
 * try's upstream connection once its head went out and held until then (proxy_next_upstream keeps
 * them for a retry too: next-upstream.ts). An HTTP/2 body without content-length arrives as bare
 * DATA bytes and goes upstream chunked: each DATA frame becomes one chunk (size line, data, CRLF
 * in one writev, the data not copied), and the end of the stream the last chunk.
 *
 * proxy_request_buffering on (nginx's default): the upstream is asked once the whole body is
 * here. Up to client_body_buffer_size it waits in memory; past that, the body goes on into a temp
 * file under client_body_temp_path (as nginx's ngx_http_read_client_request_body), the client
 * paused while writes are behind, and the upstream is asked once the file holds all of it. The
 * request then goes out as its head, then the file, read in blocks with the upstream's
 * backpressure; a retry sends the file again. The file goes at the log phase.
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
import { lengthFitsBuffer, openBodyFile, type BodyFile, type BodyFileOwner } from './body-file.js';
import { BodyFileSender, type BodyFileSendOwner } from './body-file-sender.js';
import { BODY_NONE, BODY_STREAM, type HttpRequest } from './request.js';
import type { ClientTransport } from './transport.js';


/** The exchange, told when a buffered body is all on disk, and when it cannot be (nginx: 500). */
export interface BodyWaiter {
  bodyReady(): void;
  bodyFailed(): void;
}

export class ProxyRequestBody extends RequestBodyFraming implements BodyFileOwner, BodyFileSendOwner {
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
  /**
   * Held bytes past which the body goes to a temp file. nginx sizes its buffer to a Content-Length
   * shorter than client_body_buffer_size + 1/4, so such a body stays in memory whole.
   */
  readonly #fileAfterBytes: number;
  /** Body bytes held before any try's head went out. */
  #heldBytes = 0;
  readonly #proxy: ProxyPlan;
  readonly #waiter: BodyWaiter;
  /** A buffered body larger than client_body_buffer_size: the temp file that holds it. */
  #file: BodyFile | null = null;
  /** The client was paused for the file's writes. */
  #pausedForFile = false;
  /** The file on its way to each try's connection. */
  #sender: BodyFileSender | null = null;

  constructor(r: HttpRequest, plan: LocationPlan, proxy: ProxyPlan, next: NextUpstream, waiter: BodyWaiter) {
    super(r.head, r.body);
    this.#t = r.transport;
    this.#r = r;
    this.#next = next;
    this.#proxy = proxy;
    this.#waiter = waiter;
    this.#maxBytes = plan.settings.clientMaxBodySizeBytes;
    this.#pass = proxy.passBody;
    this.#streamed = r.body === BODY_STREAM;
    const buffer = (this.#bufferBytes = proxy.passBody ? proxy.requestBufferBytes : -1);
    this.#fileAfterBytes = lengthFitsBuffer(r.body, r.head.contentLength, buffer) ? Number.POSITIVE_INFINITY : buffer;
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

  /** The upstream may be asked now: buffering is off, or the body is complete (and on disk when it went there). */
  get ready(): boolean {
    return this.#bufferBytes < 0 || (this.done && (this.#file === null || this.#file.flushed));
  }

  /** The body is in a temp file: it goes upstream with sendFile after each try's head. */
  get inFile(): boolean {
    return this.#file !== null;
  }

  /** The file is still being written to the connection (it must not be reused before the end). */
  get sending(): boolean {
    return this.#sender?.sending ?? false;
  }

  /** A try's head went out on `up`: the file follows, from its start, as fast as `up` drains. */
  sendFile(up: UpstreamConn, attempt: UpstreamAttempt): void {
    this.#sender!.start(up, attempt);
  }

  /** The try on the connection the file goes to is over (a retry, the response complete). */
  stopSending(): void {
    this.#sender?.stop();
  }

  /** The upstream connection drained: more of the file may go. */
  upstreamDrained(up: UpstreamConn): void {
    this.#sender?.drained(up);
  }

  /** The request is over (logged): the temp file goes. */
  release(): void {
    this.stopSending();
    this.#file?.release();
    this.#file = null;
  }

  bodyFileFlushed(): void {
    if (this.#pausedForFile) {
      this.#pausedForFile = false;
      this.#t.resume();
    }
    if (this.done) this.#waiter.bodyReady();
  }

  bodyFileFailed(): void {
    this.#waiter.bodyFailed();
  }

  bodyFileSent(): void {
    // The body is complete before the upstream is asked: nothing follows it.
  }

  /** More of the body came than client_body_buffer_size: it goes on into a temp file, the held bytes first. */
  #spill(): void {
    const r = this.#r;
    const file = (this.#file = openBodyFile(r, this.#proxy.requestBodyFile, this));
    this.#sender = new BodyFileSender(file, r, this);
    r.requestBodyFile = this;
    const held = this.#next.bodyInFile();
    if (held !== null) for (const part of held) file.write(part);
    this.#heldBytes = 0;
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
    const file = this.#file;
    if (file !== null) {
      if (!file.write(part) && !this.#pausedForFile) {
        this.#pausedForFile = true;
        this.#t.pause();
      }
      return;
    }
    const next = this.#next;
    next.keep(part);
    if (next.headSent && up !== null) {
      attempt!.bytesSent += part.length;
      if (!up.socket.write(part)) this.#t.pause();
    } else {
      next.hold(part);
      // Buffering (proxy_request_buffering): read on until the body is complete; past the buffer, into a file.
      this.#heldBytes += part.length;
      if (this.#bufferBytes < 0) this.#t.pause();
      else if (this.#heldBytes > this.#fileAfterBytes && !this.done) this.#spill();
    }
  }
}
