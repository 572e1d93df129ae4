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

/**
 * The error with its stack down to the script's frames, module URLs shown as paths: tsproxy's own
 * frames are cut, those below the script (its caller) and those above it (an API of ours that
 * threw, where njs shows a native frame).
 */
export function scriptStack(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? String(err)) : String(err);
  const lines = text.split('\n');
  let first = lines.findIndex((l) => FRAME.test(l));
  if (first === -1) first = lines.length;
  let script = first;
  while (script < lines.length && ENGINE_FRAME.test(lines[script]!)) script++;
  let end = script;
  while (end < lines.length && !ENGINE_FRAME.test(lines[end]!)) end++;
  return [...lines.slice(0, first), ...lines.slice(script, end)].join('\n').replace(/file:\/\/(\/[^\s?:)]*)(\?v=[\w.-]*)?/g, '$1');
}

const FRAME = /^\s+at /;

/**
 * A stack frame of tsproxy's scripting code: src/ or dist/ module by module, or the bundled
 * command line (dist/cli.js and its chunk-*.js, build/bundle.mjs), where every module of
 * tsproxy shares a few files, so any frame of tsproxy's is cut there.
 */
const ENGINE_FRAME = /^\s+at .*[/\\](?:src|dist)[/\\](?:(?:http|core)[/\\]js[/\\]|tcp[/\\]|(?:cli|chunk-\w+)\.js:)/;
