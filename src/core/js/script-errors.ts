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

/** The error with its stack down to the script's frames (tsproxy's own are cut), module URLs shown as paths. */
export function scriptStack(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  const lines = text.split('\n');
  const engine = lines.findIndex((l) => ENGINE_FRAME.test(l));
  return (engine === -1 ? lines : lines.slice(0, engine)).join('\n').replace(/file:\/\/(\/[^\s?:)]*)(\?v=[\w.-]*)?/g, '$1');
}

/** A stack frame of tsproxy's scripting code (src/ or dist/). */
const ENGINE_FRAME = /^\s+at .*[/\\](?:src|dist)[/\\](?:(?:http|core)[/\\]js[/\\]|tcp[/\\])/;
