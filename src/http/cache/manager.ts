/**
 * The cache manager of one zone (nginx's cache manager process, done by a timer in each process
 * that serves the zone): every sweep walks the zone's directory and removes entries not used for
 * `inactive` (an entry's mtime is its last use: a HIT touches it), then, past `max_size` or while
 * the file system has less than `min_free` available, the least recently used until both hold;
 * min_uses counts unused for `inactive` go, and temp and lock files a crashed process left are
 * removed after an hour. Sweeps are asynchronous and one at a time; a file another process removed first is
 * simply gone.
 */
import { futimesSync, utimesSync } from 'node:fs';
import { readdir, stat, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CacheZoneConfig } from '../../config/cache-types.js';
import { LOCK_SUFFIX, NO_FD, type FoundEntry } from './entry.js';

/** A temp file older than this belongs to no live writer. */
const ORPHAN_TEMP_MS = 60 * 60_000;
/** Sweeps happen at most this often, at least every 10 s (sooner for a short `inactive`). */
const MIN_SWEEP_MS = 200;
const MAX_SWEEP_MS = 10_000;
const ENTRY_NAME = /^[0-9a-f]{32}$/;
/** Files beside the entries (entry.ts): a fill's lock, a min_uses count. */
const SIDE_FILE = /^[0-9a-f]{32}\.(lock|uses)$/;

/** A HIT marks the entry used (its mtime) when the mark is older than this part of `inactive`: at most a few touches per entry per `inactive`. */
const TOUCH_PARTS = 8;

/** Mark `entry` used now (for `inactive`), when its mark is old enough to matter. */
export function touchEntry(entry: FoundEntry, inactiveMs: number): void {
  const now = Date.now();
  if (now - entry.mtimeMs < inactiveMs / TOUCH_PARTS) return;
  try {
    if (entry.fd === NO_FD) utimesSync(entry.file, now / 1000, now / 1000);
    else futimesSync(entry.fd, now / 1000, now / 1000);
  } catch {
    // a read-only cache: entries then age from their store time
  }
}

export class CacheManager {
  readonly #zone: CacheZoneConfig;
  /** Entries and bytes found at each sweep (the status page's gauges). */
  readonly #stats: { entries: number; sizeBytes: number } | null;
  #timer: NodeJS.Timeout | null = null;
  #sweeping = false;

  constructor(zone: CacheZoneConfig, stats: { entries: number; sizeBytes: number } | null = null) {
    this.#zone = zone;
    this.#stats = stats;
  }

  start(): void {
    if (this.#timer !== null) return;
    const every = Math.max(MIN_SWEEP_MS, Math.min(MAX_SWEEP_MS, this.#zone.inactiveMs / 4));
    this.#timer = setInterval(() => void this.sweep(), every);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One pass over the zone's directory. */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      await this.#sweep();
    } catch {
      // the directory does not exist yet, or went away: nothing to manage
    } finally {
      this.#sweeping = false;
    }
  }

  async #sweep(): Promise<void> {
    const zone = this.#zone;
    const names = await readdir(zone.path, { recursive: true });
    const now = Date.now();
    const kept: { file: string; sizeBytes: number; mtimeMs: number }[] = [];
    let total = 0;
    for (const name of names) {
      const base = path.basename(name);
      const isTemp = base.endsWith('.tmp');
      const side = !isTemp && SIDE_FILE.test(base);
      if (!isTemp && !side && !ENTRY_NAME.test(base)) continue;
      const file = path.join(zone.path, name);
      const st = await stat(file).catch(() => null);
      if (st === null || !st.isFile()) continue;
      if (isTemp || base.endsWith(LOCK_SUFFIX)) {
        // A lock stops mattering after proxy_cache_lock_age (60 s for updating); one this old was left by a crash.
        if (now - st.mtimeMs > ORPHAN_TEMP_MS) await remove(file);
      } else if (now - st.mtimeMs > zone.inactiveMs) await remove(file);
      else if (side) continue;
      else {
        kept.push({ file, sizeBytes: st.size, mtimeMs: st.mtimeMs });
        total += st.size;
      }
    }
    let entries = kept.length;
    // min_free: the file system's free space (for unprivileged writers, as nginx's f_bavail) below it means entries go too.
    let freeBytes = zone.minFreeBytes > 0 ? await freeSpace(zone.path) : Infinity;
    const maxBytes = zone.maxSizeBytes > 0 ? zone.maxSizeBytes : Infinity;
    if (total > maxBytes || freeBytes < zone.minFreeBytes) {
      kept.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const e of kept) {
        if (total <= maxBytes && freeBytes >= zone.minFreeBytes) break;
        await remove(e.file);
        total -= e.sizeBytes;
        freeBytes += e.sizeBytes;
        entries--;
      }
    }
    if (this.#stats !== null) {
      this.#stats.entries = entries;
      this.#stats.sizeBytes = total;
    }
  }
}

async function freeSpace(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

async function remove(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
