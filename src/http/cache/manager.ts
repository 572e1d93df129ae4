/**
 * The cache manager of one zone (nginx's cache manager process, done by a timer in each process
 * that serves the zone): every sweep walks the zone's directory and removes entries not used for
 * `inactive` (an entry's mtime is its last use: a HIT touches it), then, past `max_size`, the
 * least recently used until the zone fits; temp files a crashed process left are removed after
 * an hour. Sweeps are asynchronous and one at a time; a file another process removed first is
 * simply gone.
 */
import { futimesSync } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { CacheZoneConfig } from '../../config/cache-types.js';
import type { FoundEntry } from './entry.js';

/** A temp file older than this belongs to no live writer. */
const ORPHAN_TEMP_MS = 60 * 60_000;
/** Sweeps happen at most this often, at least every 10 s (sooner for a short `inactive`). */
const MIN_SWEEP_MS = 200;
const MAX_SWEEP_MS = 10_000;
const ENTRY_NAME = /^[0-9a-f]{32}$/;

/** A HIT marks the entry used (its mtime) when the mark is older than this part of `inactive`: at most a few touches per entry per `inactive`. */
const TOUCH_PARTS = 8;

/** Mark `entry` used now (for `inactive`), when its mark is old enough to matter. */
export function touchEntry(entry: FoundEntry, inactiveMs: number): void {
  const now = Date.now();
  if (now - entry.mtimeMs < inactiveMs / TOUCH_PARTS) return;
  try {
    futimesSync(entry.fd, now / 1000, now / 1000);
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
      if (!isTemp && !ENTRY_NAME.test(base)) continue;
      const file = path.join(zone.path, name);
      const st = await stat(file).catch(() => null);
      if (st === null || !st.isFile()) continue;
      if (isTemp) {
        if (now - st.mtimeMs > ORPHAN_TEMP_MS) await remove(file);
      } else if (now - st.mtimeMs > zone.inactiveMs) await remove(file);
      else {
        kept.push({ file, sizeBytes: st.size, mtimeMs: st.mtimeMs });
        total += st.size;
      }
    }
    let entries = kept.length;
    if (zone.maxSizeBytes > 0 && total > zone.maxSizeBytes) {
      kept.sort((a, b) => a.mtimeMs - b.mtimeMs);
      for (const e of kept) {
        if (total <= zone.maxSizeBytes) break;
        await remove(e.file);
        total -= e.sizeBytes;
        entries--;
      }
    }
    if (this.#stats !== null) {
      this.#stats.entries = entries;
      this.#stats.sizeBytes = total;
    }
  }
}

async function remove(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}
