/**
 * check_status's formats: which one a request asks for, and the document rendered in it. The
 * directive names the default; `?format=html|json|prometheus|events` wins over it, and a client
 * that asks for `Accept: text/event-stream` (an EventSource) gets the event stream.
 */
import type { StatusDocument } from './document.js';
import { renderStatusHtml } from './html.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from './prometheus.js';

export type StatusFormat = 'html' | 'json' | 'prometheus' | 'events';
/** What the directive may name (the event stream is asked for by the client only). */
export type ConfiguredStatusFormat = Exclude<StatusFormat, 'events'>;

const FORMAT_ARG = /(?:^|&)format=(html|json|prometheus|events)(?:&|$)/;
const EVENT_STREAM = /(?:^|,)\s*text\/event-stream\s*(?:[;,]|$)/i;

/** `?format=` first, then `Accept: text/event-stream`, then the configured format; anything unknown is ignored. */
export function statusFormatOf(args: string, accept: string | null, configured: ConfiguredStatusFormat): StatusFormat {
  if (args !== '') {
    const m = FORMAT_ARG.exec(args);
    if (m !== null) return m[1] as StatusFormat;
  }
  if (accept !== null && EVENT_STREAM.test(accept)) return 'events';
  return configured;
}

export function renderStatus(doc: StatusDocument, format: ConfiguredStatusFormat): { contentType: string; body: string } {
  switch (format) {
    case 'json':
      return { contentType: 'application/json', body: `${JSON.stringify(doc)}\n` };
    case 'prometheus':
      return { contentType: PROMETHEUS_CONTENT_TYPE, body: renderPrometheus(doc) };
    case 'html':
      return { contentType: 'text/html; charset=utf-8', body: renderStatusHtml(doc) };
  }
}

export const EVENT_STREAM_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

/** How long a disconnected EventSource waits before it reconnects (the `retry:` field). */
export const EVENT_RETRY_MS = 2000;

/**
 * The stream's first bytes: the reconnection delay and a comment (a proxy in between that
 * buffers sees bytes at once).
 */
export const EVENT_STREAM_PREAMBLE = `retry: ${EVENT_RETRY_MS}\n: tsproxy status stream\n\n`;

/** A comment line: keeps the connection visibly alive while a document is late. */
export const EVENT_HEARTBEAT = ': heartbeat\n\n';

/** One `status` event carrying the JSON document (JSON.stringify has no line breaks: one data line). */
export function statusEvent(doc: StatusDocument): string {
  return `event: status\ndata: ${JSON.stringify(doc)}\n\n`;
}
