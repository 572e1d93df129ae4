/**
 * check_status's answer: the status document from the site's StatusSource (at once in a single
 * process, later when the primary sums the workers), rendered in the format the request asks for
 * (core/status/format.ts), or followed as a Server-Sent Events stream: `retry:` and a comment,
 * then one `status` event with the JSON document every second. The stream ends cleanly (the
 * response is logged and the connection closed) when the client goes, when a reload or a stop
 * takes the site out of service (an EventSource reconnects, and the new config decides what it
 * gets), and it owns exactly one timer, cleared on every way out.
 */
import type { StatusDocument } from '../core/status/document.js';
import {
  EVENT_HEARTBEAT, EVENT_STREAM_CONTENT_TYPE, EVENT_STREAM_PREAMBLE, renderStatus, statusEvent, statusFormatOf,
  type ConfiguredStatusFormat,
} from '../core/status/format.js';
import { headerValue } from '../wire/headers.js';
import { writeAddHeaders } from './headers.js';
import { finishRequest } from './request-end.js';
import type { HttpRequest } from './request.js';
import { writeServerFields, type LocalResponse } from './respond.js';
import type { Exchange } from './transport.js';

/** How often the stream sends the document. */
export const STATUS_EVENT_INTERVAL_MS = 1000;
/** A client that reads nothing: samples are skipped while this much is still queued for it. */
const BACKLOG_BYTES = 256 * 1024;

/** The rendered page for `doc` (`status`: error_page's override, else 200). */
export function statusPageResponse(doc: StatusDocument, format: ConfiguredStatusFormat, status = 200): LocalResponse {
  const { contentType, body } = renderStatus(doc, format);
  return { status, contentType, body, headers: VARY_ACCEPT };
}

/** The same URL answers a page or an event stream by the Accept header: a cache must know. */
const VARY_ACCEPT: readonly string[] = ['Vary', 'Accept'];

/**
 * check_status for `r`: the page now, or null when the request is handled otherwise: an event
 * stream was started (it owns the request), or the document comes later and `later` answers.
 * `status`: error_page's override (0: 200).
 */
export function serveCheckStatus(
  r: HttpRequest,
  configured: ConfiguredStatusFormat,
  later: (r: HttpRequest, res: LocalResponse) => void,
  status = 0,
): LocalResponse | null {
  const format = status !== 0 ? configured : statusFormatOf(r.args, headerValue(r.head, 'accept'), configured);
  if (format === 'events' && r.method === 'GET') {
    const stream = new StatusEventStream(r);
    r.transport.exchange = stream;
    stream.start();
    return null;
  }
  const shown = format === 'events' ? configured : format;
  let now: LocalResponse | null = null;
  let sync = true;
  r.site.statusSource((doc) => {
    const res = statusPageResponse(doc, shown, status === 0 ? 200 : status);
    if (sync) now = res;
    else later(r, res);
  });
  sync = false;
  return now;
}

export class StatusEventStream implements Exchange {
  readonly bodyDone = true;
  readonly #r: HttpRequest;
  #timer: NodeJS.Timeout | null = null;
  /** A document was asked for and has not come yet. */
  #waiting = false;
  #done = false;

  constructor(r: HttpRequest) {
    this.#r = r;
  }

  start(): void {
    const r = this.#r;
    const t = r.transport;
    t.status(200, 'OK');
    writeServerFields(t, r.plan?.settings.serverTokens ?? true);
    t.field('Content-Type', EVENT_STREAM_CONTENT_TYPE);
    t.field('Cache-Control', 'no-cache');
    // nginx in front of tsproxy would otherwise buffer the stream.
    t.field('X-Accel-Buffering', 'no');
    t.field('Vary', 'Accept');
    if (r.plan !== null) writeAddHeaders(r.plan.resHeaders, 200, r, t);
    r.status = 200;
    r.connectionHeader = 'close';
    // Close-delimited: the stream has no length, and its end is the connection's.
    r.bytesSent = t.sendHead(false, null, false);
    t.setTimeout(0);
    this.#write(EVENT_STREAM_PREAMBLE);
    this.#timer = setInterval(() => this.#tick(), STATUS_EVENT_INTERVAL_MS);
    this.#tick();
  }

  clientData(chunk: Buffer): number {
    return chunk.length;
  }

  clientDrain(): void {}

  clientClosed(): void {
    // The connection logs the request as it closes.
    this.#stop();
  }

  #stop(): void {
    this.#done = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #write(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.#r.bytesSent += bytes.length;
    this.#r.bodyBytesSent += bytes.length;
    this.#r.transport.data(bytes);
  }

  /** The site left service (reload or stop): end the response; the client reconnects to the new config. */
  #ended(): boolean {
    const site = this.#r.site;
    return site.retired || (site.holder !== null && site.holder.current !== site);
  }

  #tick(): void {
    if (this.#done) return;
    const r = this.#r;
    if (r.transport.closed) return this.#stop();
    if (this.#ended()) {
      this.#stop();
      r.transport.exchange = null;
      // The log phase, then the connection closes (the end of a close-delimited body).
      finishRequest(r, false);
      return;
    }
    if (r.transport.output.writableLength > BACKLOG_BYTES) return;
    if (this.#waiting) return this.#write(EVENT_HEARTBEAT);
    this.#waiting = true;
    try {
      r.site.statusSource((doc) => {
        this.#waiting = false;
        if (!this.#done && !r.transport.closed) this.#write(statusEvent(doc));
      });
    } catch (err) {
      // A timer callback has no caller to catch for it: a failing document ends this stream, not the process.
      r.site.logger.error({ err }, 'status event stream failed');
      this.#stop();
      r.transport.abort();
    }
  }
}
