/**
 * js_shared_dict_zone's store (njs's ngx.shared.<zone>): named zones of key/value pairs (all
 * strings or all numbers) with a byte capacity, an optional expiry per entry, and `evict` (make
 * room by dropping the least recently written entries). Written once for http and stream scripts.
 *
 * One zone across worker processes: the primary keeps the one store and workers reach it over a
 * synchronous channel (runtime/shared-dict-ipc.ts): njs's API is synchronous (a lookup returns
 * the value, not a Promise). A single process keeps its store in itself.
 *
 * `state=file`: a zone's entries are read from its JSON file when the zone is made (njs's layout:
 * `{"key": {"value": v, "expire": ms-since-epoch}}`) and written back (to a temp file, renamed)
 * STATE_DELAY_MS after a change, and at process exit, by the process that keeps the store.
 *
 * Sizes: an entry costs its key and value bytes (UTF-8; 8 for a number) plus ENTRY_OVERHEAD_BYTES,
 * standing in for njs's node and slab overhead; freeSpace() is the capacity minus that.
 */

import fs from 'node:fs';
import type { JsSharedDictZoneConfig as SharedDictZoneSpec } from '../config/js-types.js';

export type { SharedDictZoneSpec };

export const ENTRY_OVERHEAD_BYTES = 64;

/** One operation on a zone, as it travels to the primary (short names: it is JSON on a pipe). */
export type DictOp =
  | { o: 'get' | 'has' | 'delete' | 'pop'; z: string; k: string }
  | { o: 'set' | 'add' | 'replace'; z: string; k: string; v: string | number; t?: number }
  | { o: 'incr'; z: string; k: string; d: number; i: number; t?: number }
  | { o: 'keys' | 'items'; z: string; n?: number }
  | { o: 'size' | 'freeSpace' | 'clear'; z: string }
  | { o: 'configure'; zones: readonly SharedDictZoneSpec[] };

/** An answer: the result, or an error's class name and message (the script sees it thrown). */
export type DictAnswer = { r: unknown } | { e: [string, string] };

/** Where ngx.shared's operations go: the process's own store or the primary's. */
export interface SharedDictService {
  call(op: DictOp): DictAnswer;
}

interface Entry {
  value: string | number;
  /** Date.now() past which the entry is gone (0: never). */
  expiresMs: number;
  bytes: number;
}

function valueBytes(v: string | number): number {
  return typeof v === 'number' ? 8 : Buffer.byteLength(v, 'utf8');
}

class Zone {
  spec: SharedDictZoneSpec;
  /** In write order (a write moves the key to the end): `evict` drops from the front. */
  readonly entries = new Map<string, Entry>();
  used = 0;

  constructor(spec: SharedDictZoneSpec) {
    this.spec = spec;
  }

  /** The live entry of `key` (an expired one is dropped on the way). */
  live(key: string, nowMs: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresMs !== 0 && e.expiresMs <= nowMs) {
      this.remove(key, e);
      return undefined;
    }
    return e;
  }

  remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.used -= e.bytes;
  }

  /** Drop every expired entry (before counting or listing). */
  sweep(nowMs: number): void {
    for (const [k, e] of this.entries) if (e.expiresMs !== 0 && e.expiresMs <= nowMs) this.remove(k, e);
  }

  /** Whether `key` may take an entry of `bytes` (its old entry's bytes freed). */
  fits(key: string, bytes: number): boolean {
    return this.used - (this.entries.get(key)?.bytes ?? 0) + bytes <= this.spec.sizeBytes;
  }

  /** Write `value` (a new entry or a replacement); false when it does not fit. */
  write(key: string, value: string | number, timeoutMs: number | undefined, nowMs: number): boolean {
    const bytes = Buffer.byteLength(key, 'utf8') + valueBytes(value) + ENTRY_OVERHEAD_BYTES;
    if (!this.fits(key, bytes)) {
      this.sweep(nowMs);
      if (this.spec.evict) {
        for (const [k, e] of this.entries) {
          if (this.fits(key, bytes)) break;
          if (k !== key) this.remove(k, e);
        }
      }
      if (!this.fits(key, bytes)) return false;
    }
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, old);
    const t = timeoutMs ?? this.spec.timeoutMs;
    this.entries.set(key, { value, expiresMs: t > 0 ? nowMs + t : 0, bytes });
    this.used += bytes;
    return true;
  }
}

const typeError = (m: string): DictAnswer => ({ e: ['TypeError', m] });

/** How long after a change a zone's state file is written (changes in between are written together). */
const STATE_DELAY_MS = 500;

function readState(z: Zone, nowMs: number): void {
  let text: string;
  try {
    text = fs.readFileSync(z.spec.statePath!, 'utf8');
  } catch {
    return; // no file yet
  }
  try {
    const state = JSON.parse(text) as Record<string, { value: string | number; expire?: number }>;
    for (const [key, e] of Object.entries(state)) {
      if (typeof e?.value !== z.spec.type) continue;
      const expire = typeof e.expire === 'number' ? e.expire : 0;
      if (expire !== 0 && expire <= nowMs) continue;
      if (z.write(key, e.value, undefined, nowMs)) z.entries.get(key)!.expiresMs = expire;
    }
  } catch {
    // A damaged file: the zone starts empty (and the next write replaces the file).
  }
}

function writeState(z: Zone): void {
  const out: Record<string, { value: string | number; expire?: number }> = {};
  for (const [k, e] of z.entries) out[k] = e.expiresMs === 0 ? { value: e.value } : { value: e.value, expire: e.expiresMs };
  const file = z.spec.statePath!;
  try {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(out));
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // A directory that cannot be written: the zone goes on in memory.
  }
}

/** The zones of this process (the primary's, or a single process's own). */
export class LocalSharedDicts implements SharedDictService {
  readonly #zones = new Map<string, Zone>();
  /** Zones with a state file changed since it was written. */
  readonly #dirty = new Set<Zone>();
  #saveTimer: NodeJS.Timeout | null = null;
  #exitHook = false;

  /** The config's zones: a zone keeps its entries across reloads unless its type changed (then it starts empty). */
  configure(zones: readonly SharedDictZoneSpec[]): void {
    for (const spec of zones) {
      const z = this.#zones.get(spec.name);
      if (z === undefined || z.spec.type !== spec.type || z.spec.statePath !== spec.statePath) {
        const made = new Zone(spec);
        if (spec.statePath !== null) {
          readState(made, Date.now());
          if (!this.#exitHook) {
            this.#exitHook = true;
            process.once('exit', () => this.flush());
          }
        }
        this.#zones.set(spec.name, made);
      } else z.spec = spec;
    }
  }

  /** Write every changed state file now. */
  flush(): void {
    if (this.#saveTimer !== null) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    for (const z of this.#dirty) writeState(z);
    this.#dirty.clear();
  }

  #changed(z: Zone): void {
    if (z.spec.statePath === null) return;
    this.#dirty.add(z);
    if (this.#saveTimer !== null) return;
    this.#saveTimer = setTimeout(() => this.flush(), STATE_DELAY_MS);
    this.#saveTimer.unref();
  }

  call(op: DictOp, nowMs = Date.now()): DictAnswer {
    const answer = this.#call(op, nowMs);
    if (op.o !== 'configure' && op.o !== 'get' && op.o !== 'has' && op.o !== 'keys' && op.o !== 'items' && op.o !== 'size' && op.o !== 'freeSpace') {
      const z = this.#zones.get(op.z);
      if (z !== undefined) this.#changed(z);
    }
    return answer;
  }

  #call(op: DictOp, nowMs: number): DictAnswer {
    if (op.o === 'configure') {
      this.configure(op.zones);
      return { r: null };
    }
    const z = this.#zones.get(op.z);
    if (z === undefined) return { e: ['Error', `no shared dict zone "${op.z}"`] };
    switch (op.o) {
      case 'get': return { r: z.live(op.k, nowMs)?.value };
      case 'has': return { r: z.live(op.k, nowMs) !== undefined };
      case 'delete': {
        const e = z.live(op.k, nowMs);
        if (e !== undefined) z.remove(op.k, e);
        return { r: e !== undefined };
      }
      case 'pop': {
        const e = z.live(op.k, nowMs);
        if (e !== undefined) z.remove(op.k, e);
        return { r: e?.value };
      }
      case 'set':
      case 'add':
      case 'replace': {
        if (typeof op.v !== z.spec.type) return typeError(`${z.spec.type} value is expected`);
        const exists = z.live(op.k, nowMs) !== undefined;
        if ((op.o === 'add' && exists) || (op.o === 'replace' && !exists)) return { r: false };
        if (!z.write(op.k, op.v, op.t, nowMs)) return { e: ['SharedMemoryError', `could not allocate memory in shared dict zone "${op.z}"`] };
        return { r: true };
      }
      case 'incr': {
        if (z.spec.type !== 'number') return typeError('shared dict is not a number dict');
        const e = z.live(op.k, nowMs);
        const value = (e === undefined ? op.i : (e.value as number)) + op.d;
        if (e !== undefined) {
          // An increment keeps the entry's expiry (njs).
          e.value = value;
          return { r: value };
        }
        if (!z.write(op.k, value, op.t, nowMs)) return { e: ['SharedMemoryError', `could not allocate memory in shared dict zone "${op.z}"`] };
        return { r: value };
      }
      case 'keys':
      case 'items': {
        z.sweep(nowMs);
        const max = op.n ?? 1024;
        const out: unknown[] = [];
        for (const [k, e] of z.entries) {
          if (out.length >= max) break;
          out.push(op.o === 'keys' ? k : [k, e.value]);
        }
        return { r: out };
      }
      case 'size':
        z.sweep(nowMs);
        return { r: z.entries.size };
      case 'freeSpace':
        return { r: Math.max(0, z.spec.sizeBytes - z.used) };
      case 'clear':
        z.entries.clear();
        z.used = 0;
        return { r: null };
    }
  }
}
