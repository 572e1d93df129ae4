/**
 * Storing one upstream response while it passes to the client: the head decides (freshness.ts),
 * then the body bytes go to a temp file beside the entry as they arrive, and a complete body is
 * committed by renaming the temp file over the entry. A reader (any worker process) sees the old
 * file or the new one, never half of one; two writers of one key each write their own temp file
 * and the last rename wins. A body that does not complete is removed with its temp file.
 *
 * Writes are synchronous, as nginx writes its temp files without aio: the bytes go to the page
 * cache at once, so memory stays bounded by one read buffer and the proxy's buffers (views of the
 * upstream read buffer, which is reused) are never kept past the event that brought them.
 */
import { closeSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ChunkedDecoder } from '../../wire/chunked.js';
import { headerValue } from '../../wire/headers.js';
import type { ResponseHead } from '../../wire/http1-response.js';
import type { HttpRequest } from '../request.js';
import type { LocationPlan } from '../plan.js';
import { BODY_BYTES_OFFSET, entryPrefix, refreshEntry, releaseEntry, unlinkQuietly, usesFileOf, type EntryHead, type FoundEntry } from './entry.js';
import { endFill } from './fills.js';
import { CacheHitExchange } from './hit.js';
import { storable } from './freshness.js';
import { anySet, REVALIDATING, type CachePlan, type Fill } from './plan.js';

/** What the proxy's response side calls while a response passes (ProxyResponse.store). */
export interface ResponseStore {
  /** The final upstream head, before anything goes to the client. */
  begin(res: ResponseHead): void;
  /** Body bytes as the upstream framed them (chunked framing included). */
  write(part: Buffer): void;
  /** The body ended completely. */
  commit(): void;
  /** The response will not complete. */
  abort(): void;
  /**
   * proxy_cache_use_stale: an upstream head of this status arrived; true when the stale entry is
   * to answer instead (the exchange then fails with the status and serveStale takes over).
   */
  usesStale(res: ResponseHead): boolean;
  /** The exchange fails with `status` before any head went to the client: true when the stale entry answered. */
  serveStale(status: number): boolean;
}

/** What a fill of one key needs besides the response. */
export interface FillOptions {
  readonly plan: LocationPlan;
  readonly key: string;
  /** Where a response without Vary (or of the primary variant) goes. */
  readonly file: string;
  /** Another variant than the primary entry's goes to its own file (md5 of key and variant). */
  readonly variantFile: ((variant: string) => string) | null;
  /** proxy_cache_min_uses reached: the response may be stored. */
  readonly store: boolean;
  /** The expired entry, kept open for proxy_cache_use_stale; null when none applies. */
  readonly stale: FoundEntry | null;
  /** The fill (lock) this request owns while it fetches the key to store it (fills.ts), null when none. */
  readonly fill: Fill | null;
}

/** Fields never stored: the connection's, and the framing (the entry's length is known). */
const NOT_STORED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade']);

/** The request's values of the fields a Vary names, one string (the entry's variant). */
export function variantOf(r: HttpRequest, vary: string): string {
  let out = '';
  for (const name of vary.split(',')) {
    const n = name.trim().toLowerCase();
    if (n !== '') out += `${n}:${headerValue(r.head, n)}\n`;
  }
  return out;
}

export class CacheWriter implements ResponseStore {
  readonly #r: HttpRequest;
  readonly #cache: CachePlan;
  readonly #o: FillOptions;
  #stale: FoundEntry | null;
  /** An upstream status proxy_cache_use_stale names arrived: #fail's serveStale answers with the entry. */
  #staleChosen = false;
  /** A revalidation's 304 came: the entry answers as REVALIDATED. */
  #revalidated = false;
  #fill: Fill | null;
  #fd = -1;
  #temp = '';
  #target = '';
  #bytes = 0;
  /** A body of known length must arrive whole (-1: close-delimited or chunked). */
  #expected = -1;
  #decoder: ChunkedDecoder | null = null;
  #onData: ((data: Buffer) => void) | null = null;

  constructor(r: HttpRequest, cache: CachePlan, o: FillOptions) {
    this.#r = r;
    this.#cache = cache;
    this.#o = o;
    this.#stale = o.stale;
    this.#fill = o.fill;
  }

  begin(res: ResponseHead): void {
    const r = this.#r;
    const cache = this.#cache;
    this.#dropStale();
    // A HEAD answer has no body to store (nginx stores it with convert_head off; tsproxy does not).
    if (!this.#o.store || (r.method === 'HEAD' && !cache.convertHead) || anySet(cache.noCache, r)) return this.#updated();
    const nowMs = Date.now();
    const s = storable(res, cache.ignore, cache.valid, nowMs, cache.buffering);
    if (s.validSec === 0) return this.#updated();
    const variant = s.vary === '' ? '' : variantOf(r, s.vary);
    const headers: string[] = [];
    const lnames = res.lnames;
    for (let k = 0; k < lnames.length; k++) {
      const l = lnames[k]!;
      if (NOT_STORED.has(l) || res.connection.includes(l)) continue;
      headers.push(res.headers[2 * k]!, res.headers[2 * k + 1]!);
    }
    const head: EntryHead = { key: this.#o.key, status: res.status, reason: res.reason, headers, storedMs: nowMs, vary: s.vary, variant };
    const zone = cache.zone;
    this.#target = variant !== '' && this.#o.variantFile !== null ? this.#o.variantFile(variant) : this.#o.file;
    this.#temp = `${this.#target}.${process.pid}.${++zone.tempSerial}.tmp`;
    try {
      mkdirSync(path.dirname(this.#target), { recursive: true, mode: 0o700 });
      this.#fd = openSync(this.#temp, 'w', 0o600);
      this.#writeAll(entryPrefix(head, s.validSec));
    } catch (err) {
      this.#fail(err);
      return;
    }
    this.#bytes = 0;
    this.#expected = res.body === 'length' ? res.contentLength : res.body === 'none' ? 0 : -1;
    if (res.body === 'chunked') {
      this.#decoder = new ChunkedDecoder();
      this.#onData ??= (data) => this.#data(data);
    } else this.#decoder = null;
  }

  write(part: Buffer): void {
    if (this.#fd < 0) return;
    if (this.#decoder !== null) this.#decoder.decode(part, this.#onData!);
    else this.#data(part);
  }

  commit(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    if ((this.#decoder !== null && !this.#decoder.done) || (this.#expected >= 0 && this.#bytes !== this.#expected)) return this.abort();
    try {
      const n = Buffer.allocUnsafe(8);
      n.writeDoubleBE(this.#bytes, 0);
      writeSync(fd, n, 0, 8, BODY_BYTES_OFFSET);
      this.#fd = -1;
      closeSync(fd);
      renameSync(this.#temp, this.#target);
      if (this.#cache.minUses > 1) unlinkQuietly(usesFileOf(this.#o.file));
      this.#updated();
    } catch (err) {
      this.#fail(err);
    }
  }

  usesStale(res: ResponseHead): boolean {
    const stale = this.#stale;
    if (stale === null) return false;
    if (res.status === 304 && REVALIDATING.has(this.#r)) {
      // proxy_cache_revalidate: the entry is still good, fresh again by the 304's fields or proxy_cache_valid for its status.
      const s = storable({ ...res, status: stale.head.status }, this.#cache.ignore, this.#cache.valid, Date.now());
      if (s.validSec > 0) refreshEntry(stale.file, s.validSec);
      this.#revalidated = true;
      return (this.#staleChosen = true);
    }
    if (this.#cache.staleStatuses.has(res.status)) return (this.#staleChosen = true);
    // A head that is the answer: the expired entry is no longer needed (an intercepted error never calls begin).
    this.#dropStale();
    return false;
  }

  serveStale(status: number): boolean {
    const stale = this.#stale;
    const cache = this.#cache;
    const r = this.#r;
    const applies = stale !== null && !r.transport.closed
      && (this.#staleChosen || (status === 504 ? cache.staleOnTimeout : status === 502 && cache.staleOnError));
    if (!applies) {
      this.abort();
      return false;
    }
    this.#stale = null;
    this.#updated();
    r.cacheStatus = this.#revalidated ? 'REVALIDATED' : 'STALE';
    const hit = new CacheHitExchange(r, this.#o.plan, stale);
    r.transport.exchange = hit;
    hit.start();
    return true;
  }

  abort(): void {
    this.#dropStale();
    this.#updated();
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    try {
      closeSync(fd);
    } catch {
      // closed already
    }
    unlinkQuietly(this.#temp);
  }

  #dropStale(): void {
    const stale = this.#stale;
    if (stale === null) return;
    this.#stale = null;
    releaseEntry(stale);
  }

  /** The key is no longer being fetched by this request (use_stale updating, lock waiters). */
  #updated(): void {
    const fill = this.#fill;
    if (fill === null) return;
    this.#fill = null;
    endFill(this.#cache.zone, this.#o.key, fill);
  }

  #data(data: Buffer): void {
    if (this.#fd < 0) return;
    try {
      this.#writeAll(data);
      this.#bytes += data.length;
    } catch (err) {
      this.#fail(err);
    }
  }

  #writeAll(buf: Buffer): void {
    let off = 0;
    while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
  }

  /** A disk error: the response still goes to the client, uncached (nginx logs it at crit; logged at error). */
  #fail(err: unknown): void {
    this.abort();
    this.#r.site.logger.error({ code: 'TSP_ERR_CACHE_FILE', err }, `cache file "${this.#temp}" could not be written`);
  }
}
