/**
 * The response-body filter chain: sub_filter, then gzip (nginx's filter order), between whatever
 * produces a response body (a proxied response, a static file, a local answer; FastCGI later) and
 * the client's transport.
 *
 * Compiled per location at config build (`compileBodyFilters`, null when the location has no
 * filter: such a location pays one null check per response). For each response the producer
 * calls `bodyFilterFor` with the response's facts before writing its head; null means "send as
 * usual". Otherwise the producer writes its head fields through the BodyFilter (a FieldWriter that
 * drops Content-Length and Accept-Ranges, weakens or drops ETag / Last-Modified), calls endHead()
 * after them (Content-Encoding, Vary, the framing), then hands it body bytes (write) and ends it
 * (end). When only a Vary field is added (`transforms` false) the body goes out as usual.
 *
 * The framing of a transformed body is the chain's: chunked to an HTTP/1.1 client, DATA frames on
 * HTTP/2, and the end of the connection for HTTP/1.0 or `chunked_transfer_encoding off`
 * (`closeDelimited`: the producer sends `Connection: close`).
 */
import { sendBody } from '../pacing.js';
import type { LocationSettings } from '../../config/types.js';
import { LAST_CHUNK, chunkParts } from '../../wire/chunked.js';
import type { ResponseHead } from '../../wire/http1-response.js';
import type { HttpRequest } from '../request.js';
import type { HeadWriter } from '../transport.js';
import type { CompiledTemplate } from '../variables.js';
import { compileGzip, GzipEncoder, gzipOk, type GzipPlan, type GzipResponseFacts } from './gzip.js';
import { compileSubFilter, SubFilterStage, type SubFilterPlan } from './sub-filter.js';

/**
 * js_header_filter / js_body_filter of a location (http/js/filters.ts implements it): the first
 * stage of the chain, as njs's filter runs before nginx's own.
 */
export interface ScriptFilterPlan {
  /** js_header_filter: the response's fields go through the script (framing fields aside). */
  readonly header: boolean;
  /** js_body_filter: the body goes through the script (it is then re-framed, as nginx does). */
  readonly body: boolean;
  /** The fields to send after the script saw (and edited) them; null: the script failed (the connection is closed). */
  headers(r: HttpRequest, status: number, fields: string[]): readonly string[] | null;
  bodyStage(r: HttpRequest): ScriptBodyStage;
}

export interface ScriptBodyStage {
  /** What the script passed on for `data` (null: it failed, the connection is closed). */
  push(data: Buffer): Buffer | null;
  /** The script's last call (flags.last). */
  finish(): Buffer | null;
}

export interface BodyFilterPlan {
  /** js_header_filter / js_body_filter here, else null. */
  readonly script: ScriptFilterPlan | null;
  /** `gzip on` here, else null. */
  readonly gzip: GzipPlan | null;
  /** sub_filter rules here, else null. */
  readonly sub: SubFilterPlan | null;
  /** chunked_transfer_encoding on. */
  readonly chunked: boolean;
}

/** The filters of a location, null when none applies (the common case: nothing to do per response). */
export function compileBodyFilters(settings: LocationSettings, tc: (t: string) => CompiledTemplate, script: ScriptFilterPlan | null = null): BodyFilterPlan | null {
  const gzip = settings.gzip?.enabled === true ? compileGzip(settings.gzip) : null;
  const sub = settings.subFilter !== undefined && settings.subFilter.rules.length > 0 ? compileSubFilter(settings.subFilter, tc) : null;
  if (gzip === null && sub === null && script === null) return null;
  return { script, gzip, sub, chunked: settings.chunkedTransferEncoding !== false };
}

const FRAMING = new Set(['content-length', 'transfer-encoding']);

/** What the filters decide a response by. */
export interface ResponseFacts extends GzipResponseFacts {
  readonly status: number;
  /** The media type, lowercase, without parameters; '' when there is none. */
  readonly contentType: string;
  /** The response has a Content-Encoding already. */
  readonly encoded: boolean;
  /** -1: unknown. */
  readonly contentLength: number;
}

/** The media type of a Content-Type value, lowercase, without parameters. */
export function mediaType(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** The facts of an upstream response (read only for locations with filters). */
export function proxiedFacts(res: ResponseHead, status: number): ResponseFacts {
  let contentType = '';
  let encoded = false;
  let expires: string | null = null;
  let cacheControl: string | null = null;
  let date: string | null = null;
  let lastModified = false;
  let etag = false;
  const { lnames, headers } = res;
  for (let k = 0; k < lnames.length; k++) {
    const v = headers[2 * k + 1]!;
    switch (lnames[k]) {
      case 'content-type': contentType = mediaType(v); break;
      case 'content-encoding': encoded ||= v !== ''; break;
      case 'expires': expires = v; break;
      case 'cache-control': cacheControl = cacheControl === null ? v : `${cacheControl}, ${v}`; break;
      case 'date': date = v; break;
      case 'last-modified': lastModified = true; break;
      case 'etag': etag = true; break;
    }
  }
  const contentLength = res.body === 'length' ? res.contentLength : -1;
  return { status, contentType, encoded, contentLength, expires, cacheControl, date, lastModified, etag };
}

function typeMatches(anyType: boolean, types: ReadonlySet<string>, contentType: string): boolean {
  return anyType || (contentType !== '' && types.has(contentType));
}

const ETAG_KEEP = 0;
const ETAG_WEAK = 1;
const ETAG_DROP = 2;

/**
 * The filters of one response: the head fields it changes and the body's way out. `headOnly`
 * (HEAD): the head changes as for GET and no body is written (nginx sends the same head).
 */
export class BodyFilter implements HeadWriter {
  /** The body is transformed (else only a Vary field is added and the body goes out as usual). */
  readonly transforms: boolean;
  /** HTTP/1.x client and no chunked framing: the body ends with the connection. */
  readonly closeDelimited: boolean;
  readonly #r: HttpRequest;
  readonly #out: HeadWriter;
  readonly #sub: SubFilterStage | null;
  readonly #gzip: GzipEncoder | null;
  readonly #vary: boolean;
  readonly #chunked: boolean;
  readonly #headOnly: boolean;
  readonly #etag: number;
  readonly #dropLastModified: boolean;
  /** js_header_filter: the fields held for it until endHead (null without one). */
  readonly #script: ScriptFilterPlan | null;
  #held: string[] | null;
  readonly #scriptBody: ScriptBodyStage | null;
  /** The response's status (js_header_filter's r.status). */
  readonly #statusCode: number;

  constructor(r: HttpRequest, out: HeadWriter, sub: SubFilterStage | null, gzip: GzipEncoder | null, vary: boolean, chunkedOn: boolean, lastModified: boolean,
    script: ScriptFilterPlan | null = null, scriptBody: ScriptBodyStage | null = null, statusCode = 0) {
    this.#statusCode = statusCode;
    this.#r = r;
    this.#out = out;
    this.#sub = sub;
    this.#gzip = gzip;
    this.#vary = vary;
    this.#script = script !== null && script.header ? script : null;
    this.#held = this.#script !== null ? [] : null;
    this.#scriptBody = scriptBody;
    this.transforms = sub !== null || gzip !== null || scriptBody !== null;
    const t = r.transport;
    const http1 = !t.http2;
    this.#chunked = this.transforms && http1 && r.httpVersion === '1.1' && chunkedOn;
    this.#headOnly = r.method === 'HEAD';
    this.closeDelimited = this.transforms && http1 && !this.#chunked && !this.#headOnly;
    // sub_filter_last_modified off drops both validators; gzip (or sub_filter keeping them) weakens the ETag.
    this.#dropLastModified = sub !== null && !lastModified;
    // nginx + njs keep the validators of a js_body_filter's body as they are.
    this.#etag = sub === null && gzip === null ? ETAG_KEEP : this.#dropLastModified ? ETAG_DROP : ETAG_WEAK;
  }

  status(code: number, reason: string): void {
    this.#out.status(code, reason);
  }

  field(name: string, value: string): void {
    if (this.#held !== null && !FRAMING.has(name.toLowerCase())) {
      this.#held.push(name, value);
      return;
    }
    this.#field(name, value);
  }

  #field(name: string, value: string): void {
    if (this.transforms) {
      switch (name.toLowerCase()) {
        case 'content-length':
        case 'accept-ranges':
          return;
        case 'last-modified':
          if (this.#dropLastModified) return;
          break;
        case 'etag':
          if (this.#etag === ETAG_DROP) return;
          if (this.#etag === ETAG_WEAK && !value.startsWith('W/')) {
            // nginx's ngx_http_weak_etag: a strong ETag is weakened, one that is not quoted is dropped.
            if (!value.startsWith('"')) return;
            value = `W/${value}`;
          }
          break;
      }
    }
    this.#out.field(name, value);
  }

  /** After the producer's fields: what the filters add, and the framing of a transformed body. */
  endHead(): void {
    const held = this.#held;
    if (held !== null) {
      this.#held = null;
      const fields = this.#script!.headers(this.#r, this.#statusCode, held);
      if (fields === null) return;
      for (let i = 0; i < fields.length; i += 2) this.#field(fields[i]!, fields[i + 1]!);
    }
    const out = this.#out;
    if (this.#vary) out.field('Vary', 'Accept-Encoding');
    if (this.#gzip !== null) out.field('Content-Encoding', 'gzip');
    if (this.#chunked && !this.#headOnly) out.field('Transfer-Encoding', 'chunked');
  }

  /** Body bytes; false when the client's buffer is full. */
  write(data: Buffer): boolean {
    if (this.#headOnly) return true;
    let d: Buffer | null = data;
    if (this.#scriptBody !== null && (d = this.#scriptBody.push(d)) === null) return true;
    if (this.#sub !== null) d = this.#sub.push(d);
    if (this.#gzip !== null && d.length > 0) d = this.#gzip.push(d);
    return this.#send(d);
  }

  /** The body ended: what the filters still hold, the gzip trailer, the last chunk. */
  end(): void {
    if (this.#headOnly) return;
    let d: Buffer | null = null;
    if (this.#scriptBody !== null) {
      d = this.#scriptBody.finish();
      if (d === null) return;
      if (this.#sub !== null && d.length > 0) d = this.#sub.push(d);
      if (this.#gzip !== null && d.length > 0) d = this.#gzip.push(d);
      this.#send(d);
    }
    d = this.#sub === null ? null : this.#sub.finish();
    const gzip = this.#gzip;
    if (gzip !== null) {
      if (d !== null && d.length > 0) this.#send(gzip.push(d));
      d = gzip.finish();
      this.#r.gzipRatio = gzip.ratio();
    }
    if (d !== null) this.#send(d);
    if (this.#chunked) {
      this.#r.bytesSent += LAST_CHUNK.length;
      sendBody(this.#r, LAST_CHUNK);
    }
  }

  #send(d: Buffer): boolean {
    if (d.length === 0) return true;
    const r = this.#r;
    const t = r.transport;
    r.bodyBytesSent += d.length;
    r.bytesSent += d.length;
    // through limit_rate's pacer when the response has one (pacing.ts)
    if (!this.#chunked) return sendBody(r, d);
    const parts = chunkParts(d);
    r.bytesSent += parts[0]!.length + 2;
    t.cork();
    sendBody(r, parts[0]!);
    sendBody(r, parts[1]!);
    const ok = sendBody(r, parts[2]!);
    t.uncork();
    return ok;
  }
}

/** The facts of a local answer (return, error pages): its whole body is known. */
export function localFacts(status: number, contentType: string | null, bodyBytes: number): ResponseFacts {
  return {
    status, contentType: contentType === null ? '' : mediaType(contentType), encoded: false, contentLength: bodyBytes,
    expires: null, cacheControl: null, date: null, lastModified: false, etag: false,
  };
}

/**
 * The filters for one response, null when none applies and nothing is added to its head. Call
 * before the head is written to `out`.
 */
export function bodyFilterFor(plan: BodyFilterPlan, r: HttpRequest, out: HeadWriter, res: ResponseFacts): BodyFilter | null {
  const status = res.status;
  const script = plan.script;
  if (status < 200 || status === 204 || status === 304) {
    return script !== null && script.header ? new BodyFilter(r, out, null, null, false, plan.chunked, false, script, null, status) : null;
  }
  const scriptBody = script !== null && script.body ? script.bodyStage(r) : null;
  const sp = plan.sub;
  const sub = sp !== null && !res.encoded && res.contentLength !== 0 && typeMatches(sp.anyType, sp.types, res.contentType)
    ? new SubFilterStage(sp, r) : null;
  const gp = plan.gzip;
  let gzip: GzipEncoder | null = null;
  let vary = false;
  // ngx_http_gzip_header_filter: statuses 200/403/404, no Content-Encoding, long enough, a gzip
  // type; then Vary is due (gzip_vary) whether this client gets it compressed or not.
  if (gp !== null && (status === 200 || status === 403 || status === 404) && !res.encoded
    && (res.contentLength < 0 || res.contentLength >= gp.settings.minLengthBytes) && typeMatches(gp.anyType, gp.types, res.contentType)) {
    vary = gp.settings.vary;
    // tsproxy leaves `Cache-Control: no-transform` alone (RFC 9110 §7.7; nginx compresses it).
    if (gzipOk(gp, r, res) && !(res.cacheControl !== null && /no-transform/i.test(res.cacheControl))) gzip = new GzipEncoder(gp);
  }
  if (sub === null && gzip === null && !vary && script === null) return null;
  return new BodyFilter(r, out, sub, gzip, vary, plan.chunked, sp?.settings.lastModified ?? false, script, scriptBody, status);
}
