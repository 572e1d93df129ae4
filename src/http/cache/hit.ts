/**
 * A HIT: the stored response goes to the client through the proxy's response side
 * (ProxyResponse: proxy_hide_header, add_header, framing, body filters, limit_rate), its head
 * from the entry's head and its body sent from the lookup's read (a small entry: with the head in
 * one write) or read from the entry file in large pieces with backpressure (file-body.ts
 * FileBodySender: a client that does not read stops the reads; send_timeout ends it in the end).
 */
import type { ResponseHead } from '../../wire/http1-response.js';
import { respond } from '../phases.js';
import { finishRequest } from '../request-end.js';
import type { LocationPlan } from '../plan.js';
import { ProxyResponse } from '../proxy-response.js';
import { BODY_NONE, type HttpRequest } from '../request.js';
import type { Exchange } from '../transport.js';
import { releaseEntry, type FoundEntry } from './entry.js';
import { touchEntry } from './manager.js';
import { notModified, parseRange, preconditionFailed, type ByteRange } from '../static.js';
import { headerValue } from '../../wire/headers.js';
import { errorResponse } from '../respond.js';
import { FileBodySender, type FileBodyOwner } from '../file-body.js';

export class CacheHitExchange implements Exchange, FileBodyOwner {
  bodyDone: boolean;
  readonly #r: HttpRequest;
  readonly #entry: FoundEntry;
  readonly #plan: LocationPlan;
  readonly #response: ProxyResponse;
  #sender: FileBodySender | null = null;
  #done = false;

  constructor(r: HttpRequest, plan: LocationPlan, entry: FoundEntry) {
    this.#r = r;
    this.#plan = plan;
    this.#entry = entry;
    this.#response = new ProxyResponse(r, plan, plan.proxy!);
    // A body sent with GET is read and dropped (as a static file's).
    this.bodyDone = r.body === BODY_NONE;
  }

  start(): void {
    const e = this.#entry;
    const r = this.#r;
    touchEntry(e, this.#plan.cache?.zone.config.inactiveMs ?? Infinity);
    const headers = e.head.headers as string[];
    const lnames = e.lnames as string[];
    // nginx's not-modified filter acts on a 200 from the cache: 412 / 304 against its validators.
    const check = e.head.status === 200 ? this.#conditional() : 0;
    if (check === 412) {
      releaseEntry(e);
      this.#done = true;
      return respond(r, errorResponse(412), this.bodyDone && r.head.keepAlive && r.transport.requestsLeft(this.#plan));
    }
    const range = check === 0 && e.head.status === 200 ? this.#range(lnames) : null;
    if (range === 'unsatisfiable') {
      releaseEntry(e);
      this.#done = true;
      return respond(r, errorResponse(416, ['Content-Range', `bytes */${e.bodyBytes}`]), this.bodyDone && r.head.keepAlive && r.transport.requestsLeft(this.#plan));
    }
    let start = 0;
    let length = e.bodyBytes;
    let fields = headers;
    let fieldNames = lnames;
    if (range !== null) {
      // nginx's range filter: one range of an entry whose upstream offered ranges, a 206 without Accept-Ranges.
      start = range.start;
      length = range.end - range.start + 1;
      fields = [];
      fieldNames = [];
      for (let k = 0; k < lnames.length; k++) {
        if (lnames[k] === 'accept-ranges') continue;
        fields.push(headers[2 * k]!, headers[2 * k + 1]!);
        fieldNames.push(lnames[k]!);
      }
      fields.push('Content-Range', `bytes ${range.start}-${range.end}/${e.bodyBytes}`);
      fieldNames.push('content-range');
    }
    const status = check === 304 ? 304 : range !== null ? 206 : e.head.status;
    const noBody = r.method === 'HEAD' || length === 0 || check === 304;
    const res: ResponseHead = {
      versionMinor: 1, status, reason: check === 304 ? 'Not Modified' : range !== null ? 'Partial Content' : e.head.reason,
      headers: fields, lnames: fieldNames, contentLength: check === 304 ? -1 : length, body: noBody ? 'none' : 'length', keepAlive: true, connection: [],
    };
    const response = this.#response;
    if (noBody || e.body !== null) {
      releaseEntry(e);
      // A small entry came whole with the lookup's read: no second read of the file, and the
      // head and body leave in one writev.
      const t = r.transport;
      t.cork();
      response.begin(res, this.bodyDone);
      if (!noBody) {
        const piece = e.body!.subarray(start, start + length);
        const n = response.take(piece);
        if (n > 0) response.send(n === piece.length ? piece : piece.subarray(0, n));
      }
      this.#finish();
      t.uncork();
      return;
    }
    response.begin(res, this.bodyDone);
    // The pieces go straight to the socket when no body filter transforms them and no pacer holds them.
    const direct = this.#plan.bodyFilters === null && r.pacer === null;
    const sender = new FileBodySender(e.fd, e.bodyStart + start, length, this, r.transport.output, direct);
    this.#sender = sender;
    sender.pump();
  }

  /** FileBodyOwner: body bytes of the entry for the client. */
  piece(bytes: Buffer): boolean {
    const response = this.#response;
    const n = response.take(bytes);
    return n === 0 || response.send(n === bytes.length ? bytes : bytes.subarray(0, n)) || response.done;
  }

  /** FileBodyOwner: the whole range was sent. */
  done(): void {
    this.#finish();
  }

  /** FileBodyOwner: the file could not be read. */
  failed(err: Error): void {
    if (this.#done) return;
    // The head is out: a short body must not look complete.
    this.#done = true;
    this.#r.site.logger.error({ code: 'TSP_ERR_CACHE_FILE', err }, 'cache file read failed');
    this.#r.transport.abort();
  }

  /** 412 (If-Match / If-Unmodified-Since fail), 304 (If-None-Match / If-Modified-Since match) or 0, as for a static file. */
  #conditional(): number {
    const head = this.#r.head;
    const v = this.#entry.validators;
    if (v.lastModified === '' && v.etag === '') return 0;
    const etag = v.etag === '' ? null : v.etag;
    const mtimeMs = Date.parse(v.lastModified);
    if (preconditionFailed(head, mtimeMs, etag)) return 412;
    return notModified(head, this.#plan.files.settings.ifModifiedSince, mtimeMs, v.lastModified, etag) ? 304 : 0;
  }

  /**
   * The one byte range asked of an entry whose upstream sent `Accept-Ranges: bytes` (nginx serves
   * ranges of such entries only), null for the whole entry (no Range, several ranges, an If-Range
   * that is not the entry's ETag or Last-Modified).
   */
  #range(lnames: readonly string[]): ByteRange {
    const head = this.#r.head;
    const asked = headerValue(head, 'range');
    if (asked === null) return null;
    const e = this.#entry;
    const fields = e.head.headers;
    const k = lnames.indexOf('accept-ranges');
    if (k < 0 || fields[2 * k + 1]!.trim().toLowerCase() !== 'bytes') return null;
    const ifRange = headerValue(head, 'if-range');
    if (ifRange !== null) {
      const v = e.validators;
      if (ifRange !== v.etag && ifRange !== v.lastModified) return null;
    }
    return parseRange(asked, e.bodyBytes);
  }

  clientData(chunk: Buffer): number {
    return chunk.length;
  }

  clientDrain(): void {
    if (this.#r.pacer?.holding) return;
    this.#sender?.pump();
  }

  clientClosed(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#r.status === 0) this.#r.status = 499;
    if (this.#sender !== null) this.#sender.stop();
    else releaseEntry(this.#entry);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#response.end();
    finishRequest(this.#r, this.#response.keepAlive && this.bodyDone);
  }
}
