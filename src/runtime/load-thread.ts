/**
 * Entry of a reload's load thread (node:worker_threads; started by threaded-load.ts). It runs the
 * same loader as startup and `-t` (loadConfigFile: read + include, parse, build, validate, TLS
 * files, hash) plus the reload summary's per-server digests (diff.ts), then posts the result:
 * problems as plain records, the Config and digests as one byte string of pieces
 * (config/pieces.ts), its ArrayBuffer transferred, so the serving thread decodes it in slices.
 */
import v8 from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { loadConfigFile } from '../config/load.js';
import { FileReads } from '../config/file-reads.js';
import { encodeInPieces } from '../config/pieces.js';
import { configDigests } from './diff.js';
import { chunkDigests, plainProblem, type LoadRequest, type ThreadAnswer, type ThreadPayload } from './threaded-load.js';

function answer(request: LoadRequest): { message: ThreadAnswer; transfer: ArrayBuffer[] } {
  // Non-regular files (a FIFO feeding a password) were read by the serving thread at start: reuse
  // their text, and open no other (the process has started).
  const fileReads = new FileReads(request.known, true);
  const result = loadConfigFile(request.configPath, {
    prefix: request.prefix,
    ...(request.globals === undefined ? {} : { globals: request.globals }),
    fileReads,
  });
  const errors = result.errors.map(plainProblem);
  const warnings = result.warnings.map(plainProblem);
  if (result.config === null) return { message: { kind: 'loaded', errors, warnings, bytes: null }, transfer: [] };
  const digests = configDigests(result.config);
  const payload: ThreadPayload = { config: result.config, servers: chunkDigests(digests.servers), upstreams: chunkDigests(digests.upstreams) };
  const bytes = encodeInPieces(payload);
  return { message: { kind: 'loaded', errors, warnings, bytes }, transfer: [bytes.buffer as ArrayBuffer] };
}

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
