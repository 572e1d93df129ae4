/**
 * Static files for locations without a content handler (`root`, `alias`), as nginx's static
 * module and not-modified filter: GET/HEAD, Content-Type from `types` / `default_type`,
 * Last-Modified and If-Modified-Since (`if_modified_since`), ETag and If-None-Match (`etag`),
 * If-Match / If-Unmodified-Since (412), one `bytes=` range (206, or 416 when unsatisfiable;
 * several ranges get the whole file), a directory without its slash is 301, a missing file 404
 * with nginx's `open() ... failed` line. Directory requests ($uri ending in "/") are
 * index-files.ts's, except an error page's.
 * The body streams from a file handle with backpressure: a client that does not read pauses the
 * file stream, and send_timeout closes it in the end.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants, type ReadStream, type Stats } from 'node:fs';
import path from 'node:path';
import { systemErrorText } from '../errors.js';
import { filePath } from './file-path.js';
import { sendBody, startPacing } from './pacing.js';
import { bodyFilterFor } from './body-filters/chain.js';
import { gzipOk } from './body-filters/gzip.js';
import { writeAddHeaders } from './headers.js';
import { requestLogContext } from './upstream-log.js';
import { headerValue } from '../wire/headers.js';
import { respond } from './phases.js';
import { finishRequest } from './request-end.js';
import type { LocationPlan } from './plan.js';
import { BODY_NONE, type HttpRequest } from './request.js';
import { absoluteLocation, errorResponse, redirectResponse, statusText, writeServerFields, type LocalResponse } from './respond.js';
import type { ClientTransport, Exchange } from './transport.js';
import { FILE_READ_BYTES, pipeFileBody, resumeFileBody } from './file-body.js';

const MIME_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html', htm: 'text/html', shtml: 'text/html', css: 'text/css', xml: 'text/xml', txt: 'text/plain',
  js: 'application/javascript', mjs: 'application/javascript', json: 'application/json', map: 'application/json',
  wasm: 'application/wasm', pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar',
  gif: 'image/gif', jpeg: 'image/jpeg', jpg: 'image/jpeg', png: 'image/png', svg: 'image/svg+xml', svgz: 'image/svg+xml',
  webp: 'image/webp', avif: 'image/avif', ico: 'image/x-icon', bmp: 'image/x-ms-bmp', tif: 'image/tiff', tiff: 'image/tiff',
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', eot: 'application/vnd.ms-fontobject',
  mp3: 'audio/mpeg', ogg: 'audio/ogg', m4a: 'audio/x-m4a', wav: 'audio/wav', mp4: 'video/mp4', webm: 'video/webm',
  mpeg: 'video/mpeg', mpg: 'video/mpeg', mov: 'video/quicktime', avi: 'video/x-msvideo', csv: 'text/csv', md: 'text/markdown',
  rss: 'application/rss+xml', atom: 'application/atom+xml', yaml: 'application/yaml', yml: 'application/yaml',
};

/**
 * Content-Type for a file name: `types` (extension → type, null: the built-in table above, a
 * subset of nginx's mime.types), else `defaultType`.
 */
export function contentTypeOf(file: string, types: Readonly<Record<string, string>> | null = null, defaultType = 'application/octet-stream'): string {
  const dot = file.lastIndexOf('.');
  if (dot === -1 || dot < file.lastIndexOf('/')) return defaultType;
  const ext = file.slice(dot + 1).toLowerCase();
  const table = types ?? MIME_TYPES;
  return Object.hasOwn(table, ext) ? table[ext]! : defaultType;
}

/**
 * The file a URI names under root, or null when it would leave root. The URI is normalized by
 * the router already; a rewrite may have produced anything, so the check stays.
 */
export function resolveUnderRoot(root: string, uri: string): string | null {
  if (uri.includes('\0')) return null;
  const base = path.resolve(root);
  const full = path.resolve(base, `.${uri.startsWith('/') ? uri : `/${uri}`}`);
  if (full !== base && !full.startsWith(base.endsWith(path.sep) ? base : base + path.sep)) return null;
  return full;
}

export type ByteRange = { readonly start: number; readonly end: number } | 'unsatisfiable' | null;

/** One `bytes=a-b` / `a-` / `-n` range; null means "serve the whole file" (absent, invalid, several). */
export function parseRange(value: string, size: number): ByteRange {
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return null;
  if (start >= size) return 'unsatisfiable';
  if (end >= size) end = size - 1;
  return { start, end };
}

export function etagOf(st: Stats): string {
  return `"${Math.floor(st.mtimeMs / 1000).toString(16)}-${st.size.toString(16)}"`;
}

/**
 * nginx's not-modified filter: with If-Modified-Since and/or If-None-Match, 304 when every one
 * present agrees (if_modified_since off: never by date; exact: the same time; before: the file is
 * not newer; If-None-Match only against an ETag that is sent).
 */
export function notModified(head: HttpRequest['head'], mode: 'off' | 'exact' | 'before', mtimeMs: number, lastModified: string, etag: string | null): boolean {
  const ims = headerValue(head, 'if-modified-since');
  const inm = headerValue(head, 'if-none-match');
  if (ims === null && inm === null) return false;
  if (ims !== null) {
    if (mode === 'off') return false;
    if (mode === 'exact' ? ims !== lastModified : !(Date.parse(ims) >= mtimeMs)) return false;
  }
  // If-None-Match compares weakly (RFC 9110 §13.1.2, nginx): the W/"..." a gzipped response carried matches.
  if (inm !== null && (etag === null || (inm.trim() !== '*' && !inm.split(',').some((t) => weakTag(t.trim()) === etag)))) return false;
  return true;
}

function weakTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** nginx's If-Unmodified-Since / If-Match checks (412): an unreadable date fails, If-Match needs an ETag. */
export function preconditionFailed(head: HttpRequest['head'], mtimeMs: number, etag: string | null): boolean {
  const ius = headerValue(head, 'if-unmodified-since');
  if (ius !== null && !(Date.parse(ius) >= mtimeMs)) return true;
  const im = headerValue(head, 'if-match');
  return im !== null && (etag === null || (im.trim() !== '*' && !im.split(',').some((t) => t.trim() === etag)));
}

export class StaticExchange implements Exchange {
  bodyDone: boolean;
  readonly #t: ClientTransport;
  readonly #r: HttpRequest;
  readonly #plan: LocationPlan;
  /** Cleared when a filtered body can only end with the connection. */
  #keepAlive: boolean;
  /** error_page: the status the file goes out with (0 = 200/206 as usual). */
  readonly #status: number;
  #stream: ReadStream | null = null;
  #done = false;

  constructor(r: HttpRequest, plan: LocationPlan, keepAlive: boolean, status = 0) {
    this.#t = r.transport;
    this.#status = status;
    this.#r = r;
    this.#plan = plan;
    this.#keepAlive = keepAlive;
    // A body sent with GET is read and dropped; the connection closes after the answer.
    this.bodyDone = r.body === BODY_NONE;
  }

  start(): void {
    this.#serve().catch((err: unknown) => {
      this.#r.site.logger.error({ err, uri: this.#r.uri }, 'static file failed');
      if (!this.#done) this.#respond(errorResponse(500));
    });
  }

  clientData(chunk: Buffer): number {
    return chunk.length;
  }

  clientDrain(): void {
    resumeFileBody(this.#r, this.#stream);
  }

  clientClosed(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#r.status === 0) this.#r.status = 499;
    this.#stream?.destroy();
  }

  #respond(res: LocalResponse): void {
    this.#done = true;
    respond(this.#r, res, this.#keepAlive);
  }

  async #serve(): Promise<void> {
    const r = this.#r;
    const root = this.#plan.root(r);
    const file = r.uri.endsWith('/') ? resolveUnderRoot(root, r.uri) : filePath(root, this.#plan.files, r.uri);
    if (file === null) return this.#respond(errorResponse(404));
    if (r.uri.endsWith('/')) {
      for (const indexOf of this.#plan.index) {
        const index = indexOf(r);
        const found = await openFile(path.join(file, index));
        const opened = 'handle' in found ? found : null;
        if (this.#done) return void (await opened?.handle.close());
        if (opened !== null && opened.stats.isFile()) return this.#send(opened.handle, opened.stats, path.join(file, index));
        await opened?.handle.close();
      }
      const dir = await openFile(file);
      const opened = 'handle' in dir ? dir : null;
      await opened?.handle.close();
      if (this.#done) return;
      return this.#respond(errorResponse(opened !== null && opened.stats.isDirectory() ? 403 : 404));
    }
    let gz = GZ_NONE;
    const gzipStatic = this.#plan.gzipStatic;
    if (gzipStatic !== null) {
      // gzip_static (ngx_http_gzip_static_module): FILE.gz for a client that accepts gzip (always:
      // any client), whether FILE exists or not; with gzip_vary, a .gz that exists adds Vary.
      const accepts = gzipStatic.settings.static === 'always' || gzipOk(gzipStatic, r, null);
      if (accepts || gzipStatic.settings.vary) {
        const zipped = await openFile(`${file}.gz`);
        const opened = 'handle' in zipped && zipped.stats.isFile() ? zipped : null;
        if (this.#done || !accepts || opened === null) await ('handle' in zipped ? zipped.handle.close() : undefined);
        if (this.#done) return;
        if (opened !== null) {
          if (accepts) return this.#send(opened.handle, opened.stats, file, GZ_SERVED);
          if (gzipStatic.settings.vary) gz = GZ_VARY;
        }
      }
    }
    const found = await openFile(file);
    if (this.#done) return void (await ('handle' in found ? found.handle.close() : undefined));
    if (!('handle' in found)) {
      const code = (found.err as NodeJS.ErrnoException).code;
      const status = code === 'EACCES' ? 403 : code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG' ? 404 : 500;
      // nginx's line (fail2ban and logwatch read it); log_not_found off leaves out the 404s only.
      if (status !== 404 || this.#plan.files.settings.logNotFound) {
        r.site.logger.error(requestLogContext(r, 'TSP_ERR_STATIC_FILE'), `open() "${file}" failed (${systemErrorText(found.err)})`);
      }
      return this.#respond(errorResponse(status));
    }
    if (found.stats.isDirectory()) {
      await found.handle.close();
      const target = absoluteLocation(`${r.uri}/${r.args === '' ? '' : `?${r.args}`}`, r.scheme, r.host, r.serverPort);
      return this.#respond(redirectResponse(301, target));
    }
    if (!found.stats.isFile()) {
      await found.handle.close();
      return this.#respond(errorResponse(404));
    }
    return this.#send(found.handle, found.stats, file, gz);
  }

  /** `gz`: GZ_SERVED: `handle` is FILE.gz (gzip_static); GZ_VARY: FILE with the Vary gzip_static adds. */
  #send(handle: FileHandle, st: Stats, file: string, gz = GZ_NONE): void {
    const r = this.#r;
    const head = r.head;
    const files = this.#plan.files.settings;
    const mtimeMs = Math.floor(st.mtimeMs / 1000) * 1000;
    const lastModified = new Date(mtimeMs).toUTCString();
    const etag = files.etag ? etagOf(st) : null;
    // An error page with a status other than 200 is the whole file, unconditionally, without
    // Last-Modified or ranges (nginx's not-modified and range filters act on 200 only).
    const forced = this.#status !== 0 && this.#status !== 200;
    const validators: string[] = forced ? [] : ['Last-Modified', lastModified];
    if (etag !== null) validators.push('ETag', etag);
    if (!forced && preconditionFailed(head, mtimeMs, etag)) {
      void handle.close();
      return this.#respond(errorResponse(412));
    }
    if (!forced && notModified(head, files.ifModifiedSince, mtimeMs, lastModified, etag)) {
      void handle.close();
      return this.#respond({ status: 304, contentType: null, body: '', headers: validators });
    }
    const size = st.size;
    const t = this.#t;
    const filters = this.#plan.bodyFilters;
    const contentType = contentTypeOf(file, files.types, files.defaultType);
    const filter = filters === null ? null : bodyFilterFor(filters, r, t, {
      status: forced ? this.#status : 200, contentType, encoded: gz === GZ_SERVED, contentLength: size,
      expires: null, cacheControl: null, date: null, lastModified: !forced, etag: etag !== null,
    });
    // A transformed body is the whole file (nginx's gzip and sub filters turn ranges off), as is a .gz.
    const whole = forced || gz === GZ_SERVED || (filter !== null && filter.transforms);
    const rangeHeader = headerValue(head, 'range');
    const range = rangeHeader === null || whole ? null : parseRange(rangeHeader, size);
    if (range === 'unsatisfiable') {
      void handle.close();
      return this.#respond(errorResponse(416, ['Content-Range', `bytes */${size}`]));
    }
    const status = forced ? this.#status : range === null ? 200 : 206;
    const start = range === null ? 0 : range.start;
    const end = range === null ? size - 1 : range.end;
    const length = size === 0 ? 0 : end - start + 1;
    const transform = filter !== null && filter.transforms ? filter : null;
    if (transform !== null && transform.closeDelimited) this.#keepAlive = false;
    const last = r.method === 'HEAD' || (length === 0 && transform === null);
    t.setTimeout(this.#plan.settings.sendTimeoutMs);
    t.status(status, statusText(status));
    const out = filter ?? t;
    writeServerFields(t, this.#plan.settings.serverTokens);
    out.field('Content-Type', contentType);
    out.field('Content-Length', `${length}`);
    for (let i = 0; i < validators.length; i += 2) out.field(validators[i]!, validators[i + 1]!);
    if (range !== null) out.field('Content-Range', `bytes ${start}-${end}/${size}`);
    if (gz === GZ_SERVED) out.field('Content-Encoding', 'gzip');
    else if (!forced) out.field('Accept-Ranges', 'bytes');
    if (gz === GZ_SERVED ? gzipStaticVary(this.#plan) : gz === GZ_VARY) out.field('Vary', 'Accept-Encoding');
    writeAddHeaders(this.#plan.resHeaders, status, r, out, mtimeMs);
    if (filter !== null) filter.endHead();
    r.status = status;
    r.connectionHeader = this.#keepAlive ? 'keep-alive' : 'close';
    r.bytesSent = t.sendHead(this.#keepAlive, null, last);
    if (last || length === 0) {
      void handle.close();
      transform?.end();
      return this.#finish();
    }
    startPacing(r, false);
    const stream = handle.createReadStream({ start, end, highWaterMark: FILE_READ_BYTES });
    this.#stream = stream;
    pipeFileBody(stream, (buf) => {
      if (transform !== null) return transform.write(buf);
      r.bodyBytesSent += buf.length;
      r.bytesSent += buf.length;
      return sendBody(r, buf);
    }, () => {
      if (!this.#done) transform?.end();
      this.#finish();
    }, (err) => {
      if (this.#done) return;
      // The head is out: a short body must not look complete.
      this.#done = true;
      r.site.logger.error({ err, file }, 'static file read failed');
      t.abort();
    });
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#stream = null;
    finishRequest(this.#r, this.#keepAlive && this.bodyDone);
  }
}

/** #send(): a file as it is, FILE.gz served by gzip_static, FILE with the Vary gzip_static adds. */
const GZ_NONE = 0;
const GZ_SERVED = 1;
const GZ_VARY = 2;

/** A .gz served by gzip_static carries Vary when gzip_vary is on (nginx). */
function gzipStaticVary(plan: LocationPlan): boolean {
  return plan.gzipStatic?.settings.vary === true;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

async function openFile(file: string): Promise<{ handle: FileHandle; stats: Stats } | { err: unknown }> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK, as nginx opens files: a FIFO under the root must not hold a thread-pool thread
    // until some writer comes (four of them would stall every fs call and DNS lookup). It is
    // then answered 404 as any file that is not a regular file or directory.
    handle = await open(file, OPEN_FLAGS);
  } catch (err) {
    return { err };
  }
  try {
    return { handle, stats: await handle.stat() };
  } catch (err) {
    await handle.close();
    return { err };
  }
}
