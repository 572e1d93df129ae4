/**
 * How the loader reads the files a config names (the config and its includes, certificates, keys,
 * password files): regular files are read on every load, anything else (a FIFO that feeds a
 * passphrase, /dev/stdin, a character device) only once per process.
 *
 * Why: a FIFO can be read only once (the writer wrote the passphrase once), and opening it again
 * blocks until another writer comes: a reload that read it again froze the whole process, every
 * connection included. So the first load reads it (blocking, before anything is served: nginx
 * does the same at start) and later loads reuse that text. After `started()`, a non-regular file
 * no load has read yet is refused instead of opened (reading it would block the event loop).
 * Non-regular files are not watched for changes either (`special`): their text never changes.
 *
 * `stat` never blocks on a FIFO; `open` does, so it comes only after the stat said what it is.
 */
import { statSync } from 'node:fs';
import { TsproxyError } from '../errors.js';

/** A non-regular file a running process will not open (its reason is the message). */
export class NotReadAfterStartError extends TsproxyError {
  constructor(path: string) {
    super('TSP_ERR_CONFIG_INCLUDE', `"${path}" is not a regular file and was not read at start (a FIFO or device is read only once, when tsproxy starts)`);
  }
}

export class FileReads {
  /** Text of each non-regular file read, by path (null: the reader found it too large). */
  readonly #once: Map<string, string | null>;
  #started: boolean;

  /**
   * `known`: texts an earlier reader of this process read (a reload's load thread gets the
   * serving thread's, so it reuses them); `started` as after started().
   */
  constructor(known: Iterable<readonly [string, string | null]> = [], started = false) {
    this.#once = new Map(known);
    this.#started = started;
  }

  /** The non-regular files read so far, with their texts (what a load thread must reuse). */
  known(): [string, string | null][] {
    return [...this.#once];
  }

  /**
   * The text of `path` as `read` returns it: read again for a regular file, the text of the first
   * read for any other. Throws what `read` or stat throw (ENOENT...), or NotReadAfterStartError.
   */
  text(path: string, read: (path: string) => string | null): string | null {
    if (statSync(path).isFile()) return read(path);
    if (this.#once.has(path)) return this.#once.get(path)!;
    if (this.#started) throw new NotReadAfterStartError(path);
    const text = read(path);
    this.#once.set(path, text);
    return text;
  }

  /** True for a path this reader read as a non-regular file (not worth watching). */
  special(path: string): boolean {
    return this.#once.has(path);
  }

  /** From now on, loads run while tsproxy serves: no non-regular file is opened any more. */
  started(): void {
    this.#started = true;
  }
}
