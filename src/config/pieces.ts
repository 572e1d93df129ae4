/**
 * The piece codec of a loaded Config (or any structured-clonable value): one byte string that the
 * receiving thread decodes a piece at a time, yielding to its event loop between slices, so that
 * no single step of taking a 10,000-server Config blocks it for long. A structured clone of that
 * Config in one message costs its receiver 0.6-1.6 s in one synchronous step.
 *
 * How: one V8 serializer writes a sequence of values (the pieces) into one buffer, children
 * before parents; V8 keeps its object-identity table across the values of one serializer (and of
 * one deserializer), so a later piece refers to an earlier one by a back-reference. The last
 * value is the whole tree. Identity is kept exactly as in the sender's tree: a settings object
 * shared by 10,000 locations is one object after decoding too (http/plan.ts caches by it, and
 * copies would multiply the heap). The bytes are what travels (a transferred ArrayBuffer between
 * threads, chunks over a worker process's IPC channel): their deserialization is a copy at most.
 */
import v8 from 'node:v8';
import { TimeSlicer } from '../time-slicer.js';

/** Estimated serialised size of one piece (~2-3 ms of deserialising on a loaded core). */
const PIECE_BYTES = 32 * 1024;
/** The decoder yields once a slice of pieces took this long. */
const SLICE_MS = 5;

/** Node's reader of typed arrays (a view of the input buffer); not in @types/node. */
const readView = (v8.DefaultDeserializer.prototype as unknown as { _readHostObject(this: v8.Deserializer): NodeJS.TypedArray | DataView })._readHostObject;

/** Typed arrays come back as copies, not views of the whole (tens of MB) transfer buffer. */
class CopyingDeserializer extends v8.DefaultDeserializer {
  _readHostObject(): unknown {
    const view = readView.call(this);
    if (Buffer.isBuffer(view)) return Buffer.from(view);
    return view instanceof DataView ? new DataView(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)) : view.slice();
  }
}

/**
 * The pieces of `root` in writing order: each is an object whose content not written by an earlier
 * piece is about PIECE_BYTES at most (one object with more primitive content than that is one
 * piece), and the last is `root`. The walk visits children in the serializer's order (own keys,
 * Map and Set entries in insertion order), so a shared object's content counts where V8 writes it.
 */
function planPieces(root: object): object[] {
  const pieces: object[] = [];
  const seen = new Set<object>();
  /** Estimated bytes `v` adds to the piece that contains it (4 for a back-reference). */
  const weigh = (v: unknown): number => {
    if (typeof v === 'string') return v.length + 4;
    if (v === null || typeof v !== 'object') return 8;
    if (seen.has(v)) return 4;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return v.byteLength + 8;
    if (v instanceof RegExp) return v.source.length + 8;
    let total = 8;
    const child = (x: unknown, keyBytes: number): void => {
      const w = weigh(x);
      if (total + w > PIECE_BYTES && x !== null && typeof x === 'object' && w > 4) {
        pieces.push(x);
        total += 4 + keyBytes;
      } else {
        total += w + keyBytes;
      }
    };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) child(v[i], 1);
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        child(k, 0);
        child(x, 0);
      }
    } else if (v instanceof Set) {
      for (const x of v) child(x, 0);
    } else {
      for (const k of Object.keys(v)) child((v as Record<string, unknown>)[k], k.length + 2);
    }
    return total;
  };
  weigh(root);
  pieces.push(root);
  return pieces;
}

/** `root` as a piece count and the serialised pieces (see the module comment). */
export function encodeInPieces(root: object): Uint8Array {
  const pieces = planPieces(root);
  const out = new v8.DefaultSerializer();
  out.writeHeader();
  out.writeUint32(pieces.length);
  for (const p of pieces) out.writeValue(p);
  return out.releaseBuffer();
}

/**
 * Decode what encodeInPieces wrote, giving traffic its share (TimeSlicer's pause) whenever a
 * slice of pieces took SLICE_MS. `bytes` is not kept by the result.
 */
export async function decodeInPieces<T>(bytes: Uint8Array, sliceMs = SLICE_MS): Promise<T> {
  const input = new CopyingDeserializer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  input.readHeader();
  const count = input.readUint32();
  let last: unknown = undefined;
  const slice = new TimeSlicer(sliceMs);
  for (let i = 0; i < count; i++) {
    last = input.readValue();
    if (i + 1 < count && slice.due()) await slice.yield();
  }
  return last as T;
}
