/**
 * One cache entry on disk: where it lives (nginx's layout: the md5 hex of the key, `levels`
 * directories taken from the end of the hash) and its file format, tsproxy's own:
 *
 *   "TSPCACH1"  8 bytes magic
 *   bodyBytes   float64 BE, -1 until the writer commits (a torn temp file never validates)
 *   validSec    float64 BE, the second the entry is fresh through (proxy_cache_revalidate
 *               rewrites these 8 bytes in place)
 *   headLength  uint32 BE
 *   head        JSON (EntryHead), headLength bytes
 *   body        bodyBytes bytes
 *
 * A file whose size is not exactly that, whose head does not parse, or whose key is not the
 * request's is corrupt: a MISS, removed, never served. The lookup reads the head synchronously
 * (as nginx, which reads the cache header with a blocking read unless aio is on): a few
 * microseconds from the page cache, and the request path stays one straight line.
 *
 * What a lookup parsed of a file (the head, its lower-case names and validators, a small body) is
 * remembered per process (`memos`), keyed by path, and used again only while the fstat of the
 * newly opened file shows the same inode, size and mtime: a file another process replaced
 * (rename: a new inode), truncated, appended to or rewrote in place (revalidation: mtime) is read
 * and checked again. A file modified less than RACY_MS before the lookup is not remembered
 * (timestamps are coarse: a write in the same tick would leave the mtime as it was).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';

export const ENTRY_MAGIC = Buffer.from('TSPCACH1', 'latin1');
/** Where bodyBytes sits (the writer patches it at commit). */
export const BODY_BYTES_OFFSET = 8;
/** Where validSec sits (a revalidation rewrites it). */
export const VALID_SEC_OFFSET = 16;
const HEAD_LENGTH_OFFSET = 24;
/** magic + bodyBytes + validSec + headLength. */
export const ENTRY_FIXED_BYTES = 28;
/** The first read of a lookup: most heads fit. */
const FIRST_READ_BYTES = 4096;
/** A head larger than this is corrupt (upstream heads are bounded far below it). */
const MAX_HEAD_BYTES = 1024 * 1024;

export interface EntryHead {
  readonly key: string;
  readonly status: number;
  readonly reason: string;
  /** The upstream's fields as received: name, value, name, value... (hop-by-hop and framing left out). */
  readonly headers: readonly string[];
  readonly storedMs: number;
  /** The response's Vary field names (lower case) and the request's values of them, '' / '' without Vary. */
  readonly vary: string;
  readonly variant: string;
}

/** What a lookup learns of an entry file by reading it (remembered per process: `memos`). */
export interface EntryFacts {
  readonly head: EntryHead;
  /** The head's field names in lower case (same order as head.headers' names). */
  readonly lnames: readonly string[];
  /** The head's Last-Modified and ETag ('' when absent). */
  readonly validators: Validators;
  /** Fresh while the current second is not past this one (nginx's valid_sec). */
  readonly validSec: number;
  readonly bodyStart: number;
  readonly bodyBytes: number;
  /** The file's mtime: its last use, for the cache manager's `inactive`. */
  readonly mtimeMs: number;
  /**
   * The whole body when the lookup's first read took it along (a small entry): a HIT sends it
   * from here instead of reading the file again. null for a larger entry.
   */
  readonly body: Buffer | null;
}

/** An entry found for a lookup: its open file, its head and where its body is. */
export interface FoundEntry extends EntryFacts {
  readonly file: string;
  /** The open file; NO_FD for a small entry served from what the lookup remembered (release with releaseEntry). */
  readonly fd: number;
}

/** FoundEntry.fd of an entry whose file was only stat'ed: its head and whole body were remembered. */
export const NO_FD = -1;

/** Closes an entry's file, if the lookup opened it. */
export function releaseEntry(e: FoundEntry): void {
  if (e.fd !== NO_FD) closeSync(e.fd);
}

export interface Validators {
  readonly lastModified: string;
  readonly etag: string;
}

/** What a lookup parsed of one file, valid while its inode, size and mtime stay the same. */
interface EntryMemo extends EntryFacts {
  readonly ino: number;
  readonly size: number;
}

/** Files remembered per process, at most MAX_MEMOS (the oldest remembered goes first): bodies are small (FIRST_READ_BYTES), so at most ~4 MiB. */
const memos = new Map<string, EntryMemo>();
const MAX_MEMOS = 1024;
/** A file modified this recently may change again within the same timestamp tick: not remembered. */
const RACY_MS = 1000;

/** The md5 hex of a key (nginx's file name). */
export function entryHash(key: string): string {
  return createHash('md5').update(key).digest('hex');
}

/**
 * The file of a hash under a zone: levels=1:2 puts b7f54b2df7773722d382f4809d65029c at
 * c/29/b7f54b2df7773722d382f4809d65029c (nginx's layout, from the end of the hash).
 */
export function entryPath(zonePath: string, levels: readonly number[], hash: string): string {
  let p = zonePath;
  let end = hash.length;
  for (const n of levels) {
    p += `/${hash.slice(end - n, end)}`;
    end -= n;
  }
  return `${p}/${hash}`;
}

/** The files kept beside an entry: the lock of its fill (fills.ts), its proxy_cache_min_uses count (serve.ts). */
export const LOCK_SUFFIX = '.lock';
export const USES_SUFFIX = '.uses';

export function lockFileOf(entryFile: string): string {
  return entryFile + LOCK_SUFFIX;
}

export function usesFileOf(entryFile: string): string {
  return entryFile + USES_SUFFIX;
}

export function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // never created, or gone already
  }
}

/** Lookup outcome: no file. */
export const ENTRY_NONE = 0;
/** Lookup outcome: a file that is not a valid entry of this key (it was removed). */
export const ENTRY_CORRUPT = 1;

function validHead(h: unknown, key: string): h is EntryHead {
  if (typeof h !== 'object' || h === null) return false;
  const e = h as Record<string, unknown>;
  return e.key === key && typeof e.status === 'number' && typeof e.reason === 'string' && Array.isArray(e.headers)
    && e.headers.length % 2 === 0 && e.headers.every((v) => typeof v === 'string')
    && typeof e.storedMs === 'number' && typeof e.vary === 'string' && typeof e.variant === 'string';
}

/** The entry of `key` at `file`, opened (the caller closes `fd`), or ENTRY_NONE / ENTRY_CORRUPT. */
export function openEntry(file: string, key: string): FoundEntry | typeof ENTRY_NONE | typeof ENTRY_CORRUPT {
  const known = memos.get(file);
  if (known !== undefined && known.body !== null) {
    // A small entry seen before: one stat says whether it is still that file (no open, read, close).
    const st = statSync(file, { throwIfNoEntry: false });
    if (st === undefined) {
      memos.delete(file);
      return ENTRY_NONE;
    }
    if (known.ino === st.ino && known.size === st.size && known.mtimeMs === st.mtimeMs && known.head.key === key) return found(file, NO_FD, known);
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch {
    memos.delete(file);
    return ENTRY_NONE;
  }
  try {
    const st = fstatSync(fd);
    const size = st.size;
    const m = memos.get(file);
    if (m !== undefined && m.ino === st.ino && m.size === size && m.mtimeMs === st.mtimeMs && m.head.key === key) return found(file, fd, m);
    let buf = Buffer.allocUnsafe(Math.min(size, FIRST_READ_BYTES));
    let got = readSync(fd, buf, 0, buf.length, 0);
    if (got < ENTRY_FIXED_BYTES || !buf.subarray(0, 8).equals(ENTRY_MAGIC)) return corrupt(fd, file);
    const bodyBytes = buf.readDoubleBE(BODY_BYTES_OFFSET);
    const validSec = buf.readDoubleBE(VALID_SEC_OFFSET);
    const headLength = buf.readUInt32BE(HEAD_LENGTH_OFFSET);
    const bodyStart = ENTRY_FIXED_BYTES + headLength;
    if (headLength > MAX_HEAD_BYTES || !Number.isInteger(bodyBytes) || bodyBytes < 0 || size !== bodyStart + bodyBytes) return corrupt(fd, file);
    if (got < bodyStart) {
      const more = Buffer.allocUnsafe(bodyStart);
      buf.copy(more, 0, 0, got);
      got += readSync(fd, more, got, bodyStart - got, got);
      if (got < bodyStart) return corrupt(fd, file);
      buf = more;
    }
    let head: unknown;
    try {
      head = JSON.parse(buf.toString('utf8', ENTRY_FIXED_BYTES, bodyStart));
    } catch {
      return corrupt(fd, file);
    }
    // Another key with the same md5 (nginx: "cache file ... has md5 collision") is not this entry.
    if (!validHead(head, key)) return corrupt(fd, file);
    const body = got === size ? buf.subarray(bodyStart, size) : null;
    const lnames: string[] = [];
    for (let i = 0; i < head.headers.length; i += 2) lnames.push(head.headers[i]!.toLowerCase());
    const validators = validatorsOf(head);
    if (Date.now() - st.mtimeMs >= RACY_MS) {
      if (memos.size >= MAX_MEMOS) memos.delete(memos.keys().next().value!);
      // A small body is kept as its own copy: `buf` may be a slice of Buffer's shared pool.
      memos.set(file, { ino: st.ino, size, mtimeMs: st.mtimeMs, head, lnames, validators, validSec, bodyStart, bodyBytes, body: body === null ? null : Buffer.from(body) });
    } else memos.delete(file);
    return { file, fd, head, lnames, validators, validSec, bodyStart, bodyBytes, mtimeMs: st.mtimeMs, body };
  } catch {
    return corrupt(fd, file);
  }
}

function found(file: string, fd: number, m: EntryMemo): FoundEntry {
  return { file, fd, head: m.head, lnames: m.lnames, validators: m.validators, validSec: m.validSec, bodyStart: m.bodyStart, bodyBytes: m.bodyBytes, mtimeMs: m.mtimeMs, body: m.body };
}

function corrupt(fd: number, file: string): typeof ENTRY_CORRUPT {
  closeSync(fd);
  memos.delete(file);
  // (another process may have removed or replaced it already)
  unlinkQuietly(file);
  return ENTRY_CORRUPT;
}

/** The fixed part and head of an entry about to be written (bodyBytes -1 until commit). */
export function entryPrefix(head: EntryHead, validSec: number): Buffer {
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const out = Buffer.allocUnsafe(ENTRY_FIXED_BYTES + json.length);
  ENTRY_MAGIC.copy(out, 0);
  out.writeDoubleBE(-1, BODY_BYTES_OFFSET);
  out.writeDoubleBE(validSec, VALID_SEC_OFFSET);
  out.writeUInt32BE(json.length, HEAD_LENGTH_OFFSET);
  json.copy(out, ENTRY_FIXED_BYTES);
  return out;
}

/** proxy_cache_revalidate: the entry at `file` is fresh again through `validSec` (8 bytes rewritten in place). */
export function refreshEntry(file: string, validSec: number): void {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(validSec, 0);
  let fd = -1;
  try {
    fd = openSync(file, constants.O_WRONLY);
    writeSync(fd, b, 0, 8, VALID_SEC_OFFSET);
  } catch {
    // removed or replaced meanwhile: the next request fetches it again
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** The entry's Last-Modified and ETag values ('' when absent): what a revalidation sends. */
export function validatorsOf(head: EntryHead): Validators {
  let lastModified = '';
  let etag = '';
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (name === 'last-modified') lastModified = h[i + 1]!;
    else if (name === 'etag') etag = h[i + 1]!;
  }
  return { lastModified, etag };
}
