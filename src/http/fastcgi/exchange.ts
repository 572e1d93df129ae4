/**
 * One request to a FastCGI server (fastcgi_pass): the request body is read whole first (nginx's
 * fastcgi_request_buffering on: a chunked body gets its CONTENT_LENGTH), then a peer is picked
 * and BEGIN_REQUEST, PARAMS and STDIN go out in one writev. The CGI head on STDOUT becomes the
 * client's head (proxy-response.ts, as a proxied response's), the rest of STDOUT its body, framed
 * for the client (chunked when no Content-Length); STDERR goes to the error log in nginx's words;
 * END_REQUEST ends the response, and with fastcgi_keep_conn the connection goes back to the pool.
 *
 * The tries, the retry loop, the pool and passive health are the proxy's (upstream-exchange.ts,
 * next-upstream.ts over core/retry.ts, pool.ts): a failure before anything reached the client may
 * try the next peer by fastcgi_next_upstream; after that the client connection is aborted.
 */
import { UpstreamAttempts } from '../../upstream/attempts.js';
import type { Peer } from '../../upstream/peer.js';
import { ChunkedDecoder, chunkParts, LAST_CHUNK } from '../../wire/chunked.js';
import {
  encodeBeginRequest, encodeParams, FCGI_ENDED, FCGI_INVALID, FastcgiReader, stdinParts, STDIN_END, type FastcgiSink,
} from '../../wire/fastcgi.js';
import { CGI_HEAD_PENDING, CGI_HEAD_TOO_BIG, CGI_INVALID_STATUS, CgiHeadReader, parseCgiHead } from '../../wire/fastcgi-response.js';
import type { ResponseHead } from '../../wire/http1-response.js';
import { BODY_TOO_LARGE, RequestBodyFraming } from '../framing.js';
import { closeCode } from '../next-upstream.js';
import { finishRequest } from '../request-end.js';
import type { LocationPlan } from '../plan.js';
import type { UpstreamConn } from '../pool.js';
import { ProxyResponse } from '../proxy-response.js';
import { httpDate, SERVER_WITH_VERSION } from '../respond.js';
import { SERVER_NAME } from '../../constants.js';
import { BODY_CHUNKED, BODY_NONE, BODY_STREAM, type HttpRequest } from '../request.js';
import { closeMessage, timeoutMessage } from '../upstream-log.js';
import { UpstreamExchange } from '../upstream-exchange.js';
import { lengthFitsBuffer, openBodyFile, type BodyFile, type BodyFileOwner } from '../body-file.js';
import { BodyFileSender, type BodyFileSendOwner } from '../body-file-sender.js';
import { fastcgiParams, type FastcgiPlan } from './plan.js';

/** The largest CGI head accepted (nginx: fastcgi_buffer_size, 4k/8k; PHP heads with many cookies need more). */
const MAX_CGI_HEAD_BYTES = 64 * 1024;
/** How much of one STDERR record goes into one log line (nginx cuts its lines too). */
const MAX_STDERR_LOG_BYTES = 2048;


export class FastcgiExchange extends UpstreamExchange implements FastcgiSink, BodyFileOwner, BodyFileSendOwner {
  readonly #fcgi: FastcgiPlan;
  readonly #framing: RequestBodyFraming;
  /** The request body's data bytes (de-chunked), kept until the request is written (and for a retry). */
  #bodyParts: Buffer[] | null = null;
  #bodyBytes = 0;
  /**
   * Body data past which it goes on into a temp file (client_body_buffer_size; a Content-Length
   * body shorter than the buffer + 1/4 stays in memory, nginx's sizing), and the file and its sender.
   */
  readonly #fileAfterBytes: number;
  #file: BodyFile | null = null;
  #sender: BodyFileSender | null = null;
  #pausedForFile = false;
  #begun = false;
  #decoder: ChunkedDecoder | null = null;
  #onDecoded: ((data: Buffer) => void) | null = null;
  /** BEGIN_REQUEST, PARAMS, STDIN records: what every try writes. */
  #request: Buffer[] | null = null;
  readonly #reader = new FastcgiReader();
  readonly #head = new CgiHeadReader(MAX_CGI_HEAD_BYTES);
  /** The request is still being written (fastcgi_send_timeout applies). */
  #sending = false;

  constructor(r: HttpRequest, plan: LocationPlan, fcgi: FastcgiPlan, bodyDone = false) {
    super(r, plan, fcgi, r.body === BODY_NONE, new ProxyResponse(r, plan, fcgi), 'fastcgi');
    this.#fcgi = fcgi;
    this.#framing = new RequestBodyFraming(r.head, bodyDone ? BODY_NONE : r.body);
    this.bodyDone = this.#framing.done;
    const buffer = fcgi.bodyBufferBytes;
    this.#fileAfterBytes = lengthFitsBuffer(r.body, r.head.contentLength, buffer) ? Number.POSITIVE_INFINITY : buffer;
    if (r.body === BODY_CHUNKED && !bodyDone) {
      this.#decoder = new ChunkedDecoder();
      this.#onDecoded = (data) => this.#keep(data);
    }
  }

  start(): void {
    if (this.#fcgi.group === null) return this.fail(502);
    if (this.#framing.done) this.#begin();
  }

  // -------------------------------------------------------------------------------------------
  // the request body (read whole before the request goes out)

  clientData(chunk: Buffer): number {
    if (this.#framing.done || this.done) return this.bodyDone ? 0 : chunk.length;
    const n = this.#framing.take(chunk, this.plan.settings.clientMaxBodySizeBytes);
    if (n < 0) {
      this.fail(n === BODY_TOO_LARGE ? 413 : 400, false);
      return chunk.length;
    }
    this.r.requestLength += n;
    const part = n === chunk.length ? chunk : chunk.subarray(0, n);
    if (this.#decoder !== null) this.#decoder.decode(part, this.#onDecoded!);
    else if (n > 0) this.#keep(part);
    if (this.#framing.done) this.#bodyRead();
    return n;
  }

  clientBodyEnd(): void {
    if (this.#framing.done || this.done) return;
    this.#framing.end();
    this.#bodyRead();
  }

  #keep(data: Buffer): void {
    if (!this.#fcgi.passBody || data.length === 0) return;
    this.#bodyBytes += data.length;
    const file = this.#file;
    if (file === null) {
      (this.#bodyParts ??= []).push(data);
      if (this.#bodyBytes > this.#fileAfterBytes && !this.#framing.done) this.#spill();
      return;
    }
    if (!file.write(data) && !this.#pausedForFile) {
      this.#pausedForFile = true;
      this.t.pause();
    }
  }

  /** More of the body came than client_body_buffer_size: it goes on into a temp file. */
  #spill(): void {
    const r = this.r;
    const file = (this.#file = openBodyFile(r, this.#fcgi.bodyFile, this));
    this.#sender = new BodyFileSender(file, r, this, stdinParts, STDIN_END);
    r.requestBodyFile = this;
    for (const part of this.#bodyParts!) file.write(part);
    this.#bodyParts = null;
  }

  #bodyRead(): void {
    this.bodyDone = true;
    this.t.bodyComplete();
    if (this.#file === null || this.#file.flushed) this.#begin();
  }

  bodyFileFlushed(): void {
    if (this.#pausedForFile) {
      this.#pausedForFile = false;
      this.t.resume();
    }
    if (this.bodyDone && !this.#begun) this.#begin();
  }

  bodyFileFailed(): void {
    this.bodyFailed();
  }

  bodyFileSent(): void {
    const up = this.up;
    if (up === null) return;
    this.#sending = false;
    up.setTimeout(this.#fcgi.readTimeoutMs);
  }

  /** The request is over (logged): the temp file goes. */
  release(): void {
    this.#sender?.stop();
    this.#file?.release();
    this.#file = null;
  }

  clientDrain(): void {
    const up = this.up;
    if (up !== null && up.socket.isPaused()) up.socket.resume();
  }

  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    if (this.r.status === 0) this.r.status = 499;
    this.closeUpstream(false);
  }

  /** The client's FIN: the request is aborted (nginx, fastcgi_ignore_client_abort off). */
  clientEnd(): void {
    if (this.done) return;
    this.clientClosed();
    this.t.abort();
  }

  // -------------------------------------------------------------------------------------------
  // tries

  #begin(): void {
    if (this.done || this.#begun) return;
    this.#begun = true;
    const r = this.r;
    const fcgi = this.#fcgi;
    const params = fastcgiParams(fcgi, r, r.head.lnames);
    // A chunked (or HTTP/2 unframed) body was read whole: its length is known now (nginx sets
    // $content_length from it, which fastcgi_params sends as CONTENT_LENGTH).
    if (r.body === BODY_CHUNKED || r.body === BODY_STREAM) {
      for (let i = 0; i < params.length; i += 2) if (params[i] === 'CONTENT_LENGTH') params[i + 1] = String(this.#bodyBytes);
    }
    const request = [encodeBeginRequest(fcgi.keepConn), encodeParams(params)];
    if (this.#bodyParts !== null) for (const part of this.#bodyParts) for (const p of stdinParts(part)) request.push(p);
    // A body in a temp file follows each try's PARAMS from there (STDIN records, then the empty one).
    if (this.#file === null) request.push(STDIN_END);
    this.#request = request;
    this.#bodyParts = null;
    r.proxyHost = fcgi.upstreamName;
    (r.upstream ??= new UpstreamAttempts()).newPhase();
    this.next.start(fcgi.group!);
    this.connect();
  }

  protected openConnection(peer: Peer): UpstreamConn {
    const fcgi = this.#fcgi;
    return this.r.site.pool.open(peer, this, this.t.output, null, fcgi.connectTimeoutMs, fcgi.keepConn);
  }

  protected send(up: UpstreamConn): void {
    const attempt = this.attempt!;
    attempt.connectMs = Date.now() - attempt.startMs;
    up.requests++;
    const s = up.socket;
    let flushed = true;
    s.cork();
    for (const b of this.#request!) {
      flushed = s.write(b);
      attempt.bytesSent += b.length;
    }
    s.uncork();
    // fastcgi_send_timeout while the request does not drain (or its body file is on its way), then fastcgi_read_timeout.
    const sender = this.#sender;
    this.#sending = !flushed || sender !== null;
    up.setTimeout(this.#sending ? this.#fcgi.sendTimeoutMs : this.#fcgi.readTimeoutMs);
    this.next.headSent = true;
    sender?.start(up, attempt);
  }

  // -------------------------------------------------------------------------------------------
  // the response

  upstreamData(up: UpstreamConn, chunk: Buffer): void {
    if (up !== this.up || this.done) return;
    this.attempt!.bytesReceived += chunk.length;
    const rc = this.#reader.read(chunk, this);
    if (this.done || up !== this.up) return;
    if (rc === FCGI_INVALID) {
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), `${this.#reader.error} while ${this.res === null ? 'reading response header from upstream' : 'reading upstream'}`);
      return this.#invalid();
    }
    if (rc === FCGI_ENDED) this.#ended(this.#reader.rest === 0);
  }

  upstreamDrain(up: UpstreamConn): void {
    if (up !== this.up) return;
    if (this.#sender?.sending) return this.#sender.drained(up);
    if (this.#sending) {
      this.#sending = false;
      up.setTimeout(this.#fcgi.readTimeoutMs);
    }
    this.t.resume();
  }

  fcgiStdout(data: Buffer): void {
    if (this.done) return;
    if (this.res !== null) return this.#body(data);
    const text = this.#head.push(data);
    if (text === CGI_HEAD_PENDING) return;
    const method = this.r.head.method;
    const res = text === CGI_HEAD_TOO_BIG ? null : parseCgiHead(text, method);
    if (res === null || typeof res === 'number') {
      const what = res === null ? 'too big header' : res === CGI_INVALID_STATUS ? 'invalid status' : 'invalid header';
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), `upstream sent ${what} while reading response header from upstream`);
      this.#invalid();
      return;
    }
    const after = this.#head.after;
    this.#head.after = null;
    const t = this.t;
    t.cork();
    if (this.#responseHead(res) && after !== null && !this.done) this.#body(after);
    t.uncork();
  }

  fcgiStderr(data: Buffer): void {
    if (this.done) return;
    // nginx: one line per record, trailing line ends and spaces dropped.
    let text = data.toString('latin1', 0, Math.min(data.length, MAX_STDERR_LOG_BYTES));
    text = text.replace(/[\r\n\s]+$/, '');
    if (text === '') return;
    const phase = this.res === null ? 'reading response header from upstream' : 'reading upstream';
    this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_STDERR'), `FastCGI sent in stderr: "${text}" while ${phase}`);
  }

  fcgiEnd(): void {
    // Handled where read() returns FCGI_ENDED (after the last STDOUT bytes of the same read).
  }

  /** Returns false when the response was dropped (a retry, or error_page instead). */
  #responseHead(res: ResponseHead): boolean {
    const status = res.status;
    const attempt = this.attempt!;
    attempt.status = status;
    attempt.headerMs = Date.now() - attempt.startMs;
    if (this.divertResponse(res, this.#fcgi.interceptErrors)) return false;
    // nginx's own Server and Date lead the head (a script's own are kept instead).
    const lnames = res.lnames;
    if (!lnames.includes('date')) {
      res.headers.unshift('Date', httpDate());
      lnames.unshift('date');
    }
    if (!lnames.includes('server')) {
      res.headers.unshift('Server', this.plan.settings.serverTokens ? SERVER_WITH_VERSION : SERVER_NAME);
      lnames.unshift('server');
    }
    this.res = res;
    this.response.begin(res, this.bodyDone);
    return true;
  }

  /** STDOUT bytes after the head: framed for the client (chunked when the script set no length). */
  #body(data: Buffer): void {
    const response = this.response;
    if (response.done || data.length === 0) return;
    if (this.res!.body === 'chunked') {
      for (const part of chunkParts(data)) this.#forward(part);
      return;
    }
    const n = response.take(data);
    if (n > 0) this.#forward(n === data.length ? data : data.subarray(0, n), false);
  }

  #forward(part: Buffer, take = true): void {
    if (take) this.response.take(part);
    this.attempt!.bodyBytes += part.length;
    if (!this.response.send(part)) this.up?.socket.pause();
  }

  /** END_REQUEST: the response is complete (`clean`: nothing followed it on the connection). */
  #ended(clean: boolean): void {
    const response = this.response;
    if (this.res === null) {
      // No blank line ended the head: nginx answers 502 ("upstream prematurely closed FastCGI stdout").
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_INVALID_HEADER'), 'upstream prematurely closed FastCGI stdout while reading response header from upstream');
      return this.#invalid();
    }
    if (!response.done) {
      if (this.res.body === 'chunked') {
        response.take(LAST_CHUNK);
        response.send(LAST_CHUNK);
      } else {
        // Fewer bytes than its Content-Length: the client must not take it for the whole body.
        this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_RESET'), 'upstream prematurely closed FastCGI request while reading upstream');
        this.closeUpstream(true);
        this.abortClient();
        return;
      }
    }
    this.#complete(clean);
  }

  #invalid(): void {
    this.lastStatus = 502;
    if (this.res === null && this.next.allows(this.#fcgi.retryOnInvalidHeader, this.response.started)) return this.retry(true);
    this.failResponse(502);
  }

  upstreamTimeout(up: UpstreamConn): void {
    if (up !== this.up || this.done) return;
    if (this.attempt !== null) this.attempt.timedOut = true;
    this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_TIMEOUT'), this.#sending
      ? 'upstream timed out (110: Connection timed out) while sending request to upstream'
      : timeoutMessage(up, this.res !== null));
    this.lastStatus = 504;
    if (this.res === null && this.next.allows(this.#fcgi.retryOnTimeout, this.response.started)) return this.retry(true);
    this.failResponse(504);
  }

  upstreamClose(up: UpstreamConn, err: Error | null): void {
    if (up !== this.up || this.done) return;
    this.up = null;
    if (this.res !== null) {
      this.r.site.logger.error(this.logContext('TSP_ERR_UPSTREAM_RESET'), 'upstream prematurely closed FastCGI stdout while reading upstream');
      this.releasePeer(true, up);
      this.abortClient();
      return;
    }
    // A pooled connection the server closed just as we reused it: not the server's fault.
    if (this.reused && this.attempt!.bytesReceived === 0 && this.next.replayable()) return this.retryStaleConnection();
    this.r.site.logger.error(this.logContext(closeCode(up)), err === null && up.connected
      ? 'upstream prematurely closed FastCGI stdout while reading response header from upstream'
      : closeMessage(up, err));
    this.lastStatus = 502;
    if (this.next.allows(this.#fcgi.retryOnError, this.response.started)) return this.retry(true);
    this.releasePeer(true, up);
    this.fail(502);
  }

  // -------------------------------------------------------------------------------------------
  // outcomes

  protected resetTry(): void {
    this.#sender?.stop();
    this.#sending = false;
    this.#reader.reset();
    this.#head.reset();
  }

  #complete(clean: boolean): void {
    const up = this.up;
    const fcgi = this.#fcgi;
    // A body still on its way from its temp file (the server answered early): not reusable.
    const sent = !(this.#sender?.sending ?? false);
    this.#sender?.stop();
    // Without FCGI_KEEP_CONN the server closes the connection after END_REQUEST.
    this.endTry(up !== null && clean && sent && fcgi.keepConn && (fcgi.keepaliveRequests <= 0 || up.requests < fcgi.keepaliveRequests) && Date.now() - up.createdAt < fcgi.keepaliveTimeMs);
    finishRequest(this.r, this.response.keepAlive && this.bodyDone);
  }

}
