/**
 * The client side of a proxied response: its head (the upstream's status and fields through the
 * location's header rules, the framing the client gets, keep-alive) and its body bytes, written
 * to the client's transport. A chunked upstream body passes through scanned, not re-encoded, to a
 * client that takes chunked framing (HTTP/1.1); HTTP/1.0 and HTTP/2 clients get its data bytes.
 *
 * One per ProxyExchange: it is the body framing (ResponseBodyFraming) of the upstream response
 * too, restarted for each head a retry reads, so the split costs no allocation.
 */
import { ChunkedDecoder } from '../wire/chunked.js';
import { bodyFilterFor, proxiedFacts, type BodyFilter } from './body-filters/chain.js';
import { ResponseBodyFraming } from './framing.js';
import { writeResponseHeaders } from './headers.js';
import type { RequestHead } from '../wire/http1-request.js';
import type { ResponseHead } from '../wire/http1-response.js';
import type { LocationPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import { errorResponse, statusText } from './respond.js';
import { respond } from './phases.js';
import { finishRequest } from './request-end.js';
import type { ClientTransport } from './transport.js';
import { accelLimitRate, sendBody, startPacing } from './pacing.js';
import type { ResponseStore } from './cache/writer.js';

/** What the response side needs of its location's proxy or FastCGI plan. */
export interface ResponseOrigin {
  /** error_page: the status the response goes out with (0 / absent: the upstream's). */
  readonly statusOverride?: number;
  /** An upstream's X-Accel-Limit-Rate sets limit_rate (proxy_ignore_headers can turn it off). */
  readonly accelLimitRate: boolean;
}

export class ProxyResponse extends ResponseBodyFraming {
  /** A response head was accepted for the client: a failure from now on aborts it. */
  started = false;
  /**
   * proxy_ignore_client_abort: the client closed after sending its whole request, and the
   * upstream request goes on; its answer is read and dropped, and logged when it ends.
   */
  clientGone = false;
  /** The client connection stays open after this response. */
  keepAlive = false;
  readonly #t: ClientTransport;
  readonly #r: HttpRequest;
  readonly #head: RequestHead;
  readonly #plan: LocationPlan;
  /** What it reads of the ProxyPlan / FastcgiPlan: error_page's status. */
  readonly #proxy: ResponseOrigin;
  /** A chunked response to a client that cannot take its framing: its data bytes go out. */
  #dechunk: ChunkedDecoder | null = null;
  /** The decoder's output callback (made with the first decoder) and whether every write was taken. */
  #onDechunked: ((data: Buffer) => void) | null = null;
  #dechunkedOk = true;
  /** The response-body filters (sub_filter, gzip) of the current response when they transform it. */
  #filter: BodyFilter | null = null;
  /** A HEAD request whose upstream answered a GET (proxy_cache_convert_head): the body is read, not sent. */
  #headOnly = false;
  /** proxy_cache: where the response is stored as it passes (cache/writer.ts, fed by StoringResponse below), null when it is not. */
  readonly store: ResponseStore | null;

  constructor(r: HttpRequest, plan: LocationPlan, proxy: ResponseOrigin, store: ResponseStore | null = null) {
    super();
    this.store = store;
    this.#t = r.transport;
    this.#r = r;
    this.#head = r.head;
    this.#plan = plan;
    this.#proxy = proxy;
  }

  /**
   * The upstream's final head: the client's head goes out (nothing to a client gone). `bodyDone`:
   * the request body was read; `text`: the head's text when it was parsed from one (its field
   * lines may go out as they are), null otherwise.
   */
  begin(res: ResponseHead, bodyDone: boolean, text: string | null = null): void {
    const r = this.#r;
    const head = this.#head;
    const t = this.#t;
    const status = res.status;
    // An error_page target goes out with the error's status (nginx err_status), unless `=`.
    const shown = this.#proxy.statusOverride || status;
    this.#headOnly = head.method === 'HEAD' && res.body !== 'none';
    const filters = this.#plan.bodyFilters;
    const filter = filters === null || this.clientGone ? null : bodyFilterFor(filters, r, t, proxiedFacts(res, shown));
    const transforms = filter !== null && filter.transforms;
    this.#filter = transforms ? filter : null;
    // chunked_transfer_encoding off: a body of unknown length ends with the connection (nginx).
    const chunkedOff = this.#plan.settings.chunkedTransferEncoding === false && t.passesChunked;
    // A client that cannot read chunked framing (HTTP/1.0; HTTP/2, whose DATA frames carry the
    // bytes) gets the data bytes; an HTTP/1.0 one sees the end of the body as the end of the
    // connection (as nginx, which has no length to send either). A filtered body is re-framed.
    const dechunk = res.body === 'chunked' && (transforms || head.versionMinor === 0 || !t.passesChunked || chunkedOff);
    if (dechunk) {
      this.#dechunk = new ChunkedDecoder();
      this.#onDechunked ??= (data) => {
        if (!this.#sendData(data)) this.#dechunkedOk = false;
      };
    } else this.#dechunk = null;
    const closeDelimited = transforms ? filter.closeDelimited : dechunk && (head.versionMinor === 0 || chunkedOff);
    const keep = head.keepAlive && res.body !== 'close' && !closeDelimited && bodyDone && t.requestsLeft(this.#plan);
    this.keepAlive = keep;
    this.start(res);
    r.status = shown;
    r.responseHeaders = res.headers;
    r.connectionHeader = keep ? 'keep-alive' : 'close';
    this.started = true;
    if (this.clientGone) {
      // Read the answer to its end (the connection may be reused), write nothing.
      r.bytesSent = 0;
      return;
    }
    t.setTimeout(this.#plan.settings.sendTimeoutMs);
    // X-Accel-Limit-Rate is the response's rate from its head on (nginx: $limit_rate in add_header sees it).
    if (this.#proxy.accelLimitRate) {
      const accel = accelLimitRate(res.lnames, res.headers);
      if (accel >= 0) r.limitRateBytes = accel;
    }
    t.status(shown, res.reason === '' || shown !== status ? statusText(shown) : res.reason);
    writeResponseHeaders(this.#plan.resHeaders, res, shown, r, filter ?? t, text);
    if (filter !== null) filter.endHead();
    if (transforms) {
      // framing written by the filter
    } else if (res.body === 'chunked') {
      if (!dechunk) t.field('Transfer-Encoding', 'chunked');
    } else if (res.body === 'length' || (res.body === 'none' && res.contentLength >= 0 && status !== 204)) t.field('Content-Length', `${res.contentLength}`);
    r.bytesSent += t.sendHead(keep, null, (this.done || this.#headOnly) && !transforms);
    if (!this.done) startPacing(r, true);
  }

  /** The body ended (before the request is finished): what the filters still hold goes out. */
  end(): void {
    const filter = this.#filter;
    if (filter === null) return;
    this.#filter = null;
    if (!this.clientGone) filter.end();
  }

  /** Body bytes of the response (as take() counted them); false when the client's buffer is full. */
  send(part: Buffer): boolean {
    if (this.#dechunk === null) return this.#sendData(part);
    this.#dechunkedOk = true;
    this.#dechunk.decode(part, this.#onDechunked!);
    return this.#dechunkedOk;
  }

  /**
   * The proxy answers instead of the upstream (a failure before any response head reached the
   * client, or proxy_intercept_errors): the error page for `status`; to a client that went away,
   * only the log line. `keepAlive`: the request allows it (its body was read whole).
   * `errorPage`: an error_page may replace the answer.
   */
  answer(status: number, keepAlive: boolean, errorPage = status >= 400): void {
    const r = this.#r;
    if (this.clientGone) {
      r.status = status;
      finishRequest(r, false);
      return;
    }
    respond(r, errorResponse(status), keepAlive && this.#head.keepAlive && this.#t.requestsLeft(this.#plan), errorPage);
  }

  /** A 100 Continue from the upstream, relayed to a client that can read it. */
  interimContinue(): void {
    if (this.#head.versionMinor === 1 && !this.clientGone) this.#t.sendContinue();
  }

  #sendData(data: Buffer): boolean {
    if (this.clientGone || this.#headOnly) return true;
    if (this.#filter !== null) return this.#filter.write(data);
    const r = this.#r;
    r.bodyBytesSent += data.length;
    r.bytesSent += data.length;
    return sendBody(r, data);
  }
}

/**
 * A proxied response that proxy_cache stores (cache/writer.ts): every head, body piece and end
 * also goes to the ResponseStore. A subclass, so a response that is not stored pays nothing per
 * piece for the cache. (Here, not in cache/: a module that extends ProxyResponse must not load
 * before this one.)
 */
export class StoringResponse extends ProxyResponse {
  readonly #store: ResponseStore;

  constructor(r: HttpRequest, plan: LocationPlan, proxy: ResponseOrigin, store: ResponseStore) {
    super(r, plan, proxy, store);
    this.#store = store;
  }

  override begin(res: ResponseHead, bodyDone: boolean, text: string | null = null): void {
    this.#store.begin(res);
    super.begin(res, bodyDone, text);
  }

  // The entry is committed before the bytes that complete the response go to the client: once
  // the client has them it may ask again at once, on another connection that another worker
  // process accepts, and that ask must find the entry (a commit after the write lost that race
  // whenever this process was descheduled between the two: a MISS where nginx answers HIT).
  override start(res: ResponseHead): void {
    super.start(res);
    if (this.done) this.#store.commit();
  }

  override send(part: Buffer): boolean {
    this.#store.write(part);
    if (this.done) this.#store.commit();
    return super.send(part);
  }

  override end(): void {
    this.#store.commit();
    super.end();
  }
}
