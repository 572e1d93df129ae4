/**
 * gzip (ngx_http_gzip_filter_module) and the request test it shares with gzip_static
 * (ngx_http_gzip_ok): whether a response may be compressed for this client, and the streaming
 * encoder.
 *
 * The encoder compresses each piece of a body as it comes and flushes it (Z_SYNC_FLUSH), so the
 * client gets every piece at once: a slow or SSE body is never held back (nginx does this only with
 * proxy_buffering off). It is synchronous, as nginx's: each piece is raw-deflated with the last
 * 32 KiB of the body so far as its preset dictionary (what the client's inflater has in its window
 * then), the pieces joined into one gzip member with our own header and trailer. node:zlib's
 * streams would compress on the thread pool, out of step with the backpressure of the client
 * socket; its one-shot calls are public API and keep the output in order.
 */
import { constants as zlibConstants, crc32, deflateRawSync, type ZlibOptions } from 'node:zlib';
import type { GzipSettings } from '../../config/types.js';
import { headerValue } from '../../wire/headers.js';
import type { HttpRequest } from '../request.js';

/** The window of deflate: how much of the body before a piece the piece may refer to. */
const WINDOW_BYTES = 32 * 1024;
/** The final empty block (BFINAL=1, fixed Huffman, end-of-block) after pieces ended by a sync flush. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** gzip's own header, as zlib writes it (no name, no time; XFL says fastest / best; OS unix). */
function gzipHeader(level: number): Buffer {
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 0x03]);
}

/** What gzip needs at config build: the settings with their regexes compiled. */
export interface GzipPlan {
  readonly settings: GzipSettings;
  readonly disable: readonly RegExp[];
  readonly anyType: boolean;
  readonly types: ReadonlySet<string>;
  readonly header: Buffer;
  readonly deflate: ZlibOptions;
}

export function compileGzip(settings: GzipSettings): GzipPlan {
  return {
    settings,
    disable: settings.disable.map((re) => new RegExp(re.source, re.flags)),
    anyType: settings.types.includes('*'),
    types: new Set(settings.types),
    header: gzipHeader(settings.level),
    deflate: { level: settings.level, finishFlush: zlibConstants.Z_SYNC_FLUSH },
  };
}

/** nginx's MSIE 4-6 test (`gzip_disable msie6`): "MSIE 4."-"MSIE 6." without "SV1" (a patched MSIE 6 that decodes gzip). */
function isMsie6(ua: string): boolean {
  const at = ua.indexOf('MSIE ');
  if (at < 0 || at + 7 > ua.length) return false;
  const v = ua.charCodeAt(at + 5);
  return v >= 0x34 && v <= 0x36 && ua.charCodeAt(at + 6) === 0x2e && !ua.includes('SV1', at + 7);
}

/**
 * The coding is acceptable: nginx's ngx_http_gzip_accept_encoding. The first "gzip" (caseless)
 * that starts the value or follows "," or " " decides: followed by nothing, "," or spaces it is
 * accepted, by ";" its q-value must not be 0, by anything else it is refused.
 */
export function acceptsGzip(value: string): boolean {
  const ae = value.toLowerCase();
  let from = 0;
  let at: number;
  for (;;) {
    at = ae.indexOf('gzip', from);
    if (at < 0) return false;
    if (at === 0 || ae.charCodeAt(at - 1) === 0x2c || ae.charCodeAt(at - 1) === 0x20) break;
    from = at + 4;
  }
  for (let i = at + 4; i < ae.length; i++) {
    const c = ae.charCodeAt(i);
    if (c === 0x2c) return true;
    if (c === 0x3b) return quantity(ae.slice(i + 1)) > 0;
    if (c !== 0x20) return false;
  }
  return true;
}

/** nginx's ngx_http_gzip_quantity: "q=0.5" as thousandths, 0 for q=0 or a value it cannot read. */
function quantity(params: string): number {
  const m = /^\s*q\s*=\s*(\d)(?:\.(\d{0,3}))?\s*(?:[,;]|$)/.exec(params);
  if (m === null) return 0;
  const q = Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0'));
  return q > 1000 ? 0 : q;
}

/** The response fields gzip_proxied reads, and the response's own facts (body-filters/chain.ts). */
export interface GzipResponseFacts {
  readonly expires: string | null;
  readonly cacheControl: string | null;
  readonly date: string | null;
  readonly lastModified: boolean;
  readonly etag: boolean;
}

/**
 * nginx's ngx_http_gzip_ok: the client accepts gzip, is not disabled by User-Agent, speaks at
 * least gzip_http_version, and a request that came through a proxy (Via) passes gzip_proxied.
 * `res` is null for gzip_static (no response yet: only `any`, `auth` and `off` decide then).
 */
export function gzipOk(plan: GzipPlan, r: HttpRequest, res: GzipResponseFacts | null): boolean {
  const head = r.head;
  const ae = headerValue(head, 'accept-encoding') ?? '';
  if (ae.length < 4 || (!ae.startsWith('gzip,') && !acceptsGzip(ae))) return false;
  const s = plan.settings;
  if (s.httpVersion === '1.1' && r.httpVersion === '1.0') return false;
  const ua = headerValue(head, 'user-agent') ?? '';
  if (s.disableMsie6 && isMsie6(ua)) return false;
  if (headerValue(head, 'via') !== null && !proxiedOk(s.proxied, r, res)) return false;
  if (ua !== '') for (const re of plan.disable) if (re.test(ua)) return false;
  return true;
}

/** gzip_proxied, in nginx's order (a response none of the present rules speaks of is compressed). */
function proxiedOk(p: GzipSettings['proxied'], r: HttpRequest, res: GzipResponseFacts | null): boolean {
  if (p.includes('off')) return false;
  if (p.includes('any')) return true;
  if (p.includes('auth') && headerValue(r.head, 'authorization') !== null) return true;
  if (res === null) return true;
  if (res.expires !== null) {
    if (!p.includes('expired')) return false;
    const expires = Date.parse(res.expires);
    const date = res.date === null ? Date.now() : Date.parse(res.date);
    return !Number.isNaN(expires) && !Number.isNaN(date) && expires < date;
  }
  if (res.cacheControl !== null) {
    const cc = res.cacheControl.toLowerCase();
    return (p.includes('no-cache') && cc.includes('no-cache')) || (p.includes('no-store') && cc.includes('no-store'))
      || (p.includes('private') && cc.includes('private'));
  }
  if (p.includes('no_last_modified') && res.lastModified) return false;
  if (p.includes('no_etag') && res.etag) return false;
  return true;
}

/** One response's compressor: pieces in, gzip bytes out, each piece flushed. */
export class GzipEncoder {
  readonly #plan: GzipPlan;
  #started = false;
  #crc = 0;
  /** Uncompressed and compressed sizes, for the trailer and $gzip_ratio. */
  inBytes = 0;
  outBytes = 0;
  /** The last WINDOW_BYTES of the body so far (a copy: the pieces may be reused read buffers). */
  #window: Buffer | null = null;

  constructor(plan: GzipPlan) {
    this.#plan = plan;
  }

  push(data: Buffer): Buffer {
    if (data.length === 0) return this.#started ? data : this.#head(data);
    const plan = this.#plan;
    const out = deflateRawSync(data, this.#window === null ? plan.deflate : { ...plan.deflate, dictionary: this.#window });
    this.#crc = crc32(data, this.#crc);
    this.inBytes += data.length;
    this.#keepWindow(data);
    return this.#started ? this.#count(out) : this.#head(out);
  }

  /** The end of the body: the final block and the trailer (CRC-32 and size, little-endian). */
  finish(): Buffer {
    const trailer = Buffer.allocUnsafe(10);
    FINAL_BLOCK.copy(trailer, 0);
    trailer.writeUInt32LE(this.#crc >>> 0, 2);
    trailer.writeUInt32LE(this.inBytes >>> 0, 6);
    return this.#started ? this.#count(trailer) : this.#head(trailer);
  }

  /** $gzip_ratio: uncompressed / compressed, two decimals (nginx's "%d.%02d"). */
  ratio(): string {
    if (this.outBytes === 0) return '';
    const hundredths = Math.round((this.inBytes * 100) / this.outBytes);
    return `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, '0')}`;
  }

  #head(out: Buffer): Buffer {
    this.#started = true;
    return this.#count(Buffer.concat([this.#plan.header, out]));
  }

  #count(out: Buffer): Buffer {
    this.outBytes += out.length;
    return out;
  }

  #keepWindow(data: Buffer): void {
    const w = this.#window;
    if (data.length >= WINDOW_BYTES) {
      this.#window = Buffer.from(data.subarray(data.length - WINDOW_BYTES));
    } else if (w === null) {
      this.#window = Buffer.from(data);
    } else {
      const joined = Buffer.concat([w, data]);
      this.#window = joined.length > WINDOW_BYTES ? joined.subarray(joined.length - WINDOW_BYTES) : joined;
    }
  }
}
