/**
 * ngx.shared: njs's SharedDict objects, one per js_shared_dict_zone, over a SharedDictService
 * (core/shared-dict.ts): the process's own store, or in a worker process the primary's (the
 * runtime sets it: setSharedDictService). Argument checks happen here, before any round trip.
 */
import { SharedMemoryError, scriptError, scriptTypeError } from './script-errors.js';
import { LocalSharedDicts, type DictOp, type SharedDictService, type SharedDictZoneSpec } from '../shared-dict.js';

let service: SharedDictService = new LocalSharedDicts();

/** Where operations go from now on (a worker: the primary). Set before any config is built. */
export function setSharedDictService(s: SharedDictService): void {
  service = s;
}

function call(op: DictOp): unknown {
  const a = service.call(op);
  // An `undefined` result (get() of a missing key) crosses the workers' channel as `{}`: JSON drops it.
  if (!('e' in a)) return a.r;
  const [name, message] = a.e;
  throw name === 'TypeError' ? scriptTypeError(message) : name === 'SharedMemoryError' ? new SharedMemoryError(message) : scriptError(message);
}

function timeoutArg(t: unknown): number | undefined {
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0) throw scriptTypeError('timeout must be a non-negative number');
  return n;
}

export class SharedDict {
  readonly name: string;
  readonly type: 'string' | 'number';
  readonly capacity: number;

  constructor(spec: SharedDictZoneSpec) {
    this.name = spec.name;
    this.type = spec.type;
    this.capacity = spec.sizeBytes;
  }

  #value(v: unknown): string | number {
    if (typeof v !== this.type) throw scriptTypeError(`${this.type} value is expected`);
    return v as string | number;
  }

  get(key: unknown): string | number | undefined { return call({ o: 'get', z: this.name, k: String(key) }) as string | number | undefined; }
  has(key: unknown): boolean { return call({ o: 'has', z: this.name, k: String(key) }) as boolean; }
  delete(key: unknown): boolean { return call({ o: 'delete', z: this.name, k: String(key) }) as boolean; }
  pop(key: unknown): string | number | undefined { return call({ o: 'pop', z: this.name, k: String(key) }) as string | number | undefined; }

  /** Returns the dict (njs). */
  set(key: unknown, value: unknown, timeout?: unknown): this {
    call({ o: 'set', z: this.name, k: String(key), v: this.#value(value), ...optionalTimeout(timeout) });
    return this;
  }

  add(key: unknown, value: unknown, timeout?: unknown): boolean {
    return call({ o: 'add', z: this.name, k: String(key), v: this.#value(value), ...optionalTimeout(timeout) }) as boolean;
  }

  replace(key: unknown, value: unknown): boolean {
    return call({ o: 'replace', z: this.name, k: String(key), v: this.#value(value) }) as boolean;
  }

  /** Adds `delta` to the number at `key` (`init`, default 0, when absent) and returns the sum. */
  incr(key: unknown, delta: unknown, init?: unknown, timeout?: unknown): number {
    if (this.type !== 'number') throw scriptTypeError('shared dict is not a number dict');
    const d = Number(delta);
    const i = init === undefined ? 0 : Number(init);
    if (Number.isNaN(d) || Number.isNaN(i)) throw scriptTypeError('number value is expected');
    return call({ o: 'incr', z: this.name, k: String(key), d, i, ...optionalTimeout(timeout) }) as number;
  }

  keys(maxCount?: unknown): string[] {
    return call({ o: 'keys', z: this.name, ...(maxCount !== undefined ? { n: Number(maxCount) } : {}) }) as string[];
  }

  items(maxCount?: unknown): [string, string | number][] {
    return call({ o: 'items', z: this.name, ...(maxCount !== undefined ? { n: Number(maxCount) } : {}) }) as [string, string | number][];
  }

  size(): number { return call({ o: 'size', z: this.name }) as number; }
  freeSpace(): number { return call({ o: 'freeSpace', z: this.name }) as number; }
  clear(): undefined {
    call({ o: 'clear', z: this.name });
    return undefined;
  }
}

function optionalTimeout(t: unknown): { t?: number } {
  const ms = timeoutArg(t);
  return ms === undefined ? {} : { t: ms };
}

/** The config's zones as `ngx.shared` (the store learns them: a worker tells the primary). */
export function sharedDicts(zones: readonly SharedDictZoneSpec[]): Readonly<Record<string, SharedDict>> {
  if (zones.length > 0) call({ o: 'configure', zones });
  const out: Record<string, SharedDict> = Object.create(null) as Record<string, SharedDict>;
  for (const z of zones) out[z.name] = new SharedDict(z);
  return Object.freeze(out);
}
