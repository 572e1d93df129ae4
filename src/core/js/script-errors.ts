/**
 * The errors scripts catch: njs's own classes (Error, TypeError, SharedMemoryError), never
 * TsproxyError, so `${e}` reads as under njs ("Error: connect failed", "TypeError: ...").
 * The one module of src/ that makes bare Errors (test/errors.test.ts knows it).
 */

/** ngx.shared: a write that found no room (njs's class name). */
export class SharedMemoryError extends Error {
  override readonly name = 'SharedMemoryError';
}

export function scriptError(message: string): Error {
  return new Error(message);
}

export function scriptTypeError(message: string): TypeError {
  return new TypeError(message);
}
