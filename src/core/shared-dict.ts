/**
 * js_shared_dict_zone's store (njs's ngx.shared.<zone>): named zones of key/value pairs (all
 * strings or all numbers) with a byte capacity, an optional expiry per entry, and `evict` (make
 * room by dropping the least recently written entries). Written once for http and stream scripts.
 *
 * One zone across worker processes: the primary keeps the one store and workers reach it over a
 * synchronous channel (runtime/shared-dict-ipc.ts): njs's API is synchronous (a lookup returns
 * the value, not a Promise). A single process keeps its store in itself.
 *
 * Sizes: an entry costs its key and value bytes (UTF-8; 8 for a number) plus ENTRY_OVERHEAD_BYTES,
 * standing in for njs's node and slab overhead; freeSpace() is the capacity minus that.
 */

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

/** The zones of this process (the primary's, or a single process's own). */
export class LocalSharedDicts implements SharedDictService {
  readonly #zones = new Map<string, Zone>();

  /** The config's zones: a zone keeps its entries across reloads unless its type changed (then it starts empty). */
  configure(zones: readonly SharedDictZoneSpec[]): void {
    for (const spec of zones) {
      const z = this.#zones.get(spec.name);
      if (z === undefined || z.spec.type !== spec.type) this.#zones.set(spec.name, new Zone(spec));
      else z.spec = spec;
    }
  }

  call(op: DictOp, nowMs = Date.now()): DictAnswer {
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
