/**
 * Entry of a reload's load thread (node:worker_threads; started by threaded-load.ts). It runs the
 * same loader as startup and `-t` (loadConfigFile: read + include, parse, build, validate, TLS
 * files, hash) plus the reload summary's per-server digests (diff.ts), then posts the result:
 * problems as plain records, the Config and digests as one byte string of pieces
 * (config/pieces.ts), its ArrayBuffer transferred, so the serving thread decodes it in slices.
 * Servers and upstreams equal to the running config's are named instead of sent (config-splice.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';
import type { LoadRequest, ThreadAnswer, ThreadPayload } from './threaded-load.js';

function answer(request: LoadRequest): { message: ThreadAnswer; transfer: ArrayBuffer[] } {
  // Non-regular files (a FIFO feeding a password) were read by the serving thread at start: reuse
  // their text, and open no other (the process has started).
  const fileReads = new FileReads(request.known, true);
  const result = loadConfigFile(request.configPath, {
    prefix: request.prefix,
    ...(request.globals === undefined ? {} : { globals: request.globals }),
    fileReads,
    transferOnly: true,
  });
  const errors = result.errors.map(plainProblem);
  const warnings = result.warnings.map(plainProblem);
  if (result.config === null) return { message: { kind: 'loaded', errors, warnings, bytes: null }, transfer: [] };
  const digests = configDigests(result.config);
  // unchanged servers and upstreams are named, not sent (config-splice.ts); the reload's diff is made here too
  const running = request.running === undefined ? null : digestsFromText(request.running);
  const sent = running === null ? { config: result.config, reuse: null } : omitUnchanged(result.config, digests, running);
  const payload: ThreadPayload = { ...sent, digests: digestsToText(digests), diff: running === null ? null : diffDigests(running, digests) };
  const bytes = encodeInPieces(payload);
  return { message: { kind: 'loaded', errors, warnings, bytes }, transfer: [bytes.buffer as ArrayBuffer] };
}

/**
 * The load must not compete with traffic for a core: on a proxy given one core (taskset, a
 * container's CPU quota) the thread took half of it for seconds, and each of the serving thread's
 * wakeups waited for the scheduler, so a steady load queued (bench/big-config.ts --part b, p99
 * 0.5 s). Lowest priority for this thread alone: on Linux setpriority() applies to the thread id
 * given, and /proc/thread-self/stat starts with it. Elsewhere (no /proc) the thread keeps the
 * process's priority.
 */
function yieldCpuToServing(): void {
  try {
    const tid = Number(fs.readFileSync('/proc/thread-self/stat', 'utf8').split(' ', 1)[0]);
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) os.setPriority(tid, os.constants.priority.PRIORITY_LOW);
  } catch {
    // not Linux, or not allowed: the load still works, at normal priority
  }
}

// Before the loader's modules are imported: compiling them is the thread's first CPU burst.
yieldCpuToServing();
const { loadConfigFile } = await import('../config/load.js');
const { FileReads } = await import('../config/file-reads.js');
const { encodeInPieces } = await import('../config/pieces.js');
const { configDigests, diffDigests, digestsFromText, digestsToText } = await import('./diff.js');
const { omitUnchanged } = await import('./config-splice.js');
const { plainProblem } = await import('./threaded-load.js');

const port = parentPort;
port?.on('message', ({ id, request }: { id: number; request: LoadRequest }) => {
  let reply: { message: ThreadAnswer; transfer: ArrayBuffer[] };
  try {
    reply = answer(request);
  } catch (err) {
    // A loader bug: the reload is refused like a bad config (the serving thread logs it).
    reply = { message: { kind: 'crashed', message: err instanceof Error ? err.message : String(err) }, transfer: [] };
  }
  // The heap after the load: a thread that loaded a big config is replaced rather than kept.
  port.postMessage({ id, answer: reply.message, heapBytes: v8.getHeapStatistics().total_heap_size }, reply.transfer);
});
