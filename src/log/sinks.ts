/**
 * Where log lines go: one destination per file, written as soon as a line arrives, so a line is
 * in the file (the kernel's page cache: `tail -f` shows it, `kill -9` cannot lose it) at once.
 * (A 4 KiB minimum used to keep lines in memory until exit.) pino's sonic-boom does the writing:
 * - error logs synchronously, as nginx writes its error log: the file is opened when the config
 *   is applied (a file that cannot be opened fails the start), lines keep their order with
 *   stderr, and a line logged just before exit is never lost;
 * - access logs asynchronously, coalescing what arrives during a write, so the request path
 *   never waits for the disk.
 *
 * `access_log ... buffer=SIZE [flush=TIME] [gzip[=LEVEL]]` opts into nginx's buffering: lines
 * collect in memory and are written when the next one does not fit, when the oldest has waited
 * `flush` (no such timer without flush=, as nginx), on USR1 and at exit; gzip compresses each
 * written buffer into a gzip member of its own (zcat reads the file whole).
 */
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { pino } from 'pino';
import { TsproxyError, systemErrorText } from '../errors.js';

export interface LogSink {
  write(line: string): void;
}

/** nginx's access_log buffering parameters (bufferBytes 0: unbuffered). */
export interface LogBuffering {
  readonly bufferBytes: number;
  /** 0: no timer, the buffer is written when full (and on USR1 / exit). */
  readonly flushMs: number;
  /** 0: plain text; 1-9: gzip level. */
  readonly gzipLevel: number;
}

type Destination = pino.DestinationStream & { reopen?: () => void; flushSync?: () => void };

const destinations = new Map<string, Destination>();

function destinationOnError(err: Error): void {
  // A log file that cannot be written (disk full, removed dir) must never take the proxy down.
  process.stderr.write(`tsproxy: [alert] log write failed: ${err.message}\n`);
}

type Mode = 'sync' | 'async' | 'binary';

/**
 * A log file is opened (and its directory made, as before) synchronously once before sonic-boom
 * opens it: a file that cannot be opened fails the start / reload with nginx's
 * `open() "file" failed (20: Not a directory)` instead of an asynchronous error, and an
 * asynchronous destination whose open failed would throw "sonic boom is not ready yet" at exit.
 */
function checkWritable(target: string): void {
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
  } catch {
    // the open below reports why (nginx never creates directories; the message is open()'s)
  }
  try {
    fs.closeSync(fs.openSync(target, 'a'));
  } catch (err) {
    throw new TsproxyError('TSP_ERR_LOG_FILE', `open() "${target}" failed (${systemErrorText(err)})`, { cause: err });
  }
}

/** The destination of a target ('stderr', 'stdout' or an absolute path); `binary` takes gzip data. */
function destinationFor(target: string, mode: Mode): Destination {
  const key = target === 'stderr' || target === 'stdout' ? target : `${target}\0${mode}`;
  let dest = destinations.get(key);
  if (dest === undefined) {
    if (target === 'stderr') dest = pino.destination({ dest: 2, sync: true });
    else if (target === 'stdout') dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
    else {
      checkWritable(target);
      dest = pino.destination({ dest: target, sync: mode === 'sync', minLength: 0, contentMode: mode === 'binary' ? 'buffer' : 'utf8' });
    }
    (dest as unknown as NodeJS.EventEmitter).on?.('error', destinationOnError);
    destinations.set(key, dest);
  }
  return dest;
}

/** An error log's sink: written synchronously; throws when the file cannot be opened. */
export function openErrorLogSink(target: string): LogSink {
  return destinationFor(target, 'sync') as unknown as LogSink;
}

class BufferedSink implements LogSink {
  readonly target: string;
  readonly #dest: Destination;
  readonly #opts: LogBuffering;
  #chunks: string[] = [];
  #bytes = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(target: string, opts: LogBuffering) {
    this.target = target;
    this.#opts = opts;
    this.#dest = destinationFor(target, opts.gzipLevel > 0 ? 'binary' : 'async');
  }

  write(line: string): void {
    const n = Buffer.byteLength(line);
    if (this.#bytes + n > this.#opts.bufferBytes) this.flush();
    this.#chunks.push(line);
    this.#bytes += n;
    if (this.#bytes >= this.#opts.bufferBytes) this.flush();
    else if (this.#timer === null && this.#opts.flushMs > 0) {
      this.#timer = setTimeout(() => this.flush(), this.#opts.flushMs);
      this.#timer.unref();
    }
  }

  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#bytes === 0) return;
    const text = this.#chunks.join('');
    this.#chunks = [];
    this.#bytes = 0;
    const level = this.#opts.gzipLevel;
    this.#dest.write((level > 0 ? gzipSync(Buffer.from(text), { level }) : text) as unknown as string);
  }
}

const buffered = new Map<string, BufferedSink>();

/** The sink of one access_log target with its buffering (or the plain destination when unbuffered). */
export function openLogSink(target: string, buffering: LogBuffering | null = null): LogSink {
  if (buffering === null || buffering.bufferBytes <= 0) return destinationFor(target, 'async') as unknown as LogSink;
  const key = `${target}\0${buffering.bufferBytes}\0${buffering.flushMs}\0${buffering.gzipLevel}`;
  let sink = buffered.get(key);
  if (sink === undefined) {
    // A reload changed this file's buffering: what the old buffer holds goes out now.
    for (const other of buffered.values()) if (other.target === target) other.flush();
    sink = new BufferedSink(target, buffering);
    buffered.set(key, sink);
  }
  return sink;
}

/** Lines waiting per file while a write to it is under way (access_log paths with variables). */
const appending = new Map<string, string[]>();

/**
 * `access_log` with variables in its path: each line is appended to the file its request names,
 * opened for that write and closed after it, as nginx does (without open_log_file_cache), so
 * names a client chooses ($host) never pin descriptors. Lines to one file keep their order.
 */
export function appendLogLine(file: string, line: string): void {
  const queued = appending.get(file);
  if (queued !== undefined) {
    queued.push(line);
    return;
  }
  appending.set(file, []);
  appendQueued(file, line);
}

function appendQueued(file: string, text: string): void {
  fs.appendFile(file, text, (err) => {
    if (err !== null) destinationOnError(err);
    const rest = appending.get(file);
    if (rest === undefined || rest.length === 0) {
      appending.delete(file);
      return;
    }
    appending.set(file, []);
    appendQueued(file, rest.join(''));
  });
}

function flushBuffers(): void {
  for (const sink of buffered.values()) sink.flush();
}

/** Before exit: write what buffered access logs hold and every destination's pending lines, synchronously. */
export function flushLogs(): void {
  flushBuffers();
  for (const [file, lines] of appending) {
    if (lines.length === 0) continue;
    try {
      fs.appendFileSync(file, lines.join(''));
    } catch (err) {
      destinationOnError(err as Error);
    }
    lines.length = 0;
  }
  for (const dest of destinations.values()) {
    try {
      dest.flushSync?.();
    } catch {
      // a destination that is not open yet has nothing to flush
    }
  }
}

/**
 * Before the process exits: files still being opened (asynchronously) get a moment to open, so
 * what was logged into them is flushed instead of lost.
 */
export async function settleLogs(): Promise<void> {
  const opening = [...destinations.values()].filter((d) => (d as unknown as { fd: number }).fd < 0);
  await Promise.all(
    opening.map((d) => new Promise<void>((resolve) => {
      const e = d as unknown as NodeJS.EventEmitter;
      const done = () => resolve();
      e.once('ready', done);
      e.once('error', done);
      setTimeout(done, 1_000).unref();
    })),
  );
  flushLogs();
}

/** USR1: reopen every log file (after logrotate moved them); buffered lines go to the old file first. */
export function reopenLogs(): void {
  // sonic-boom's reopen lets a write in progress finish into the old file first.
  flushBuffers();
  // stderr/stdout are file descriptors, not files: nothing to reopen (SonicBoom would throw).
  for (const [key, dest] of destinations) {
    if (key === 'stderr' || key === 'stdout') continue;
    try {
      dest.reopen?.();
    } catch (err) {
      destinationOnError(err as Error);
    }
  }
}
