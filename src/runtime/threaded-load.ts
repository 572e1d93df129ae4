/**
 * A reload's config load, off the serving thread: a worker thread (load-thread.ts) runs the whole
 * loader (the same loadConfigFile as startup and `-t`) and the summary's digests; this thread
 * only decodes the result in slices (config/pieces.ts) and rebuilds the problems as ConfigErrors.
 * A 10,000-server load takes seconds of CPU: on the serving thread it was one long stall.
 *
 * A thread that crashes, exits or takes longer than the timeout is a failed
 * reload (the Reloader keeps the running configuration), never a failed process.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ConfigError, TsproxyError, type ErrorCode, type Loc, type Severity } from '../errors.js';
import type { Config } from '../config/types.js';
import type { FileReads } from '../config/file-reads.js';
import { decodeInPieces } from '../config/pieces.js';
import { configDigestTexts, rememberDigests, type ConfigDiff, type DigestTexts } from './diff.js';
import { spliceUnchanged, type Reuse } from './config-splice.js';

/** What the thread loads: the command line's -c, -p and -g, and the texts of files read once. */
export interface LoadRequest {
  readonly configPath: string;
  readonly prefix: string;
  readonly globals?: string;
  readonly known: [string, string | null][];
  /** The running config's digests: its unchanged items are not sent back (config-splice.ts). */
  readonly running?: DigestTexts;
}

/** A ConfigError as plain data (an Error instance loses its class and fields in a clone). */
export interface PlainProblem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly loc: Loc;
  readonly severity: Severity;
}

/**
 * The encoded payload: the Config (without the items `reuse` names, when the request named a
 * running config), its digests, and the reload's diff against the running config.
 */
export interface ThreadPayload {
  readonly config: Config;
  readonly reuse: Reuse | null;
  readonly digests: DigestTexts;
  readonly diff: ConfigDiff | null;
}

export type ThreadAnswer =
  | { kind: 'loaded'; errors: PlainProblem[]; warnings: PlainProblem[]; bytes: Uint8Array | null }
  | { kind: 'crashed'; message: string };

export interface ThreadLoadResult {
  config: Config | null;
  errors: ConfigError[];
  warnings: ConfigError[];
}

/** A 10,000-server load takes ~5 s of CPU; a loaded machine may stretch it several times. */
const LOAD_TIMEOUT_MS = 120_000;
/** A thread whose heap is larger than this after a load is replaced (see ConfigLoadThread). */
const KEEP_HEAP_BYTES = 64 * 1024 * 1024;

export function plainProblem(e: ConfigError): PlainProblem {
  return { code: e.code, message: e.message, loc: e.loc, severity: e.severity };
}


/**
 * The thread's entry next to this module: load-thread.js in dist; load-thread.ts when this runs
 * from source under tsx (the tests), whose hooks a thread does not inherit: it registers them first.
 */
function startThread(entry?: URL): Worker {
  if (entry !== undefined) return new Worker(entry);
  const ext = path.extname(fileURLToPath(import.meta.url));
  const url = new URL(`./load-thread${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(url);
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(code, { eval: true });
}

interface Pending {
  resolve(answer: ThreadAnswer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The thread that loads reloads' configs, started by the first reload (a process that never
 * reloads pays nothing). Kept between reloads (starting one costs 0.15-0.3 s of module loading,
 * 2-3 s under tsx), but replaced after a load that left its heap large (a big
 * config): an idle thread with the loader is ~8 MB, one that loaded 10,000 servers holds hundreds.
 * It never keeps the process alive (unref).
 */
export class ConfigLoadThread {
  readonly #entry: URL | undefined;
  readonly #timeoutMs: number;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  /** `entry`: another thread script (tests of a thread that hangs or dies). */
  constructor(opts: { timeoutMs?: number; entry?: URL } = {}) {
    this.#entry = opts.entry;
    this.#timeoutMs = opts.timeoutMs ?? LOAD_TIMEOUT_MS;
  }

  #thread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = startThread(this.#entry);
    worker.unref();
    this.#worker = worker;
    worker.on('message', (m: { id: number; answer: ThreadAnswer; heapBytes: number }) => {
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.heapBytes > KEEP_HEAP_BYTES && this.#pending.size === 0) this.#end(worker);
      p.resolve(m.answer);
    });
    worker.on('error', (err) => this.#fail(worker, `the config load thread failed: ${err.message}`));
    worker.on('exit', (code) => this.#fail(worker, `the config load thread exited with code ${code} before answering`));
    return worker;
  }

  /** The thread is gone or ended: every load waiting on it fails (the next load starts another). */
  #fail(worker: Worker, reason: string): void {
    if (this.#worker !== worker) return;
    this.#end(worker);
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new TsproxyError('TSP_ERR_RELOAD', reason));
    }
  }

  #end(worker: Worker): void {
    if (this.#worker === worker) this.#worker = null;
    void worker.terminate();
  }

  /**
   * Load the config in the thread; resolves as loadConfigFile's result would (errors and
   * warnings as ConfigError with their positions), rejects when the thread fails (crash, exit,
   * timeout) with the reason. With `running` (the config in service), the servers and upstreams
   * equal to its own are its very objects in the result (config-splice.ts).
   */
  async load(request: Omit<LoadRequest, 'known' | 'running'>, fileReads: FileReads, running?: Config): Promise<ThreadLoadResult> {
    const worker = this.#thread();
    const id = ++this.#nextId;
    const digests = running === undefined ? undefined : configDigestTexts(running);
    const answer = await new Promise<ThreadAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(worker, `the config load thread did not answer within ${this.#timeoutMs} ms`), this.#timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const message: LoadRequest = { ...request, known: fileReads.known(), ...(digests === undefined ? {} : { running: digests }) };
      worker.postMessage({ id, request: message });
    });
    if (answer.kind === 'crashed') throw new TsproxyError('TSP_ERR_RELOAD', `the config loader failed: ${answer.message}`);
    const problems = (list: readonly PlainProblem[]): ConfigError[] => list.map((p) => new ConfigError(p.code, p.message, p.loc, p.severity));
    const errors = problems(answer.errors);
    const warnings = problems(answer.warnings);
    if (answer.bytes === null) return { config: null, errors, warnings };
    const payload = await decodeInPieces<ThreadPayload>(answer.bytes);
    const config = payload.reuse === null ? payload.config : spliceUnchanged(payload.config, payload.reuse, running!);
    rememberDigests(config, payload.digests, payload.diff === null ? null : { against: running!, diff: payload.diff });
    return { config, errors, warnings };
  }

  close(): void {
    if (this.#worker !== null) this.#fail(this.#worker, 'the config load thread was closed');
  }
}
