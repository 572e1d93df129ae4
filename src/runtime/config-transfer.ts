/**
 * A Config from the primary to a worker process: encoded once in pieces (config/pieces.ts), sent
 * as chunks of raw bytes over the IPC channel, reassembled, and decoded in slices on the worker's
 * serving thread. One message carrying the whole Config (~28 MB serialised for 10,000 servers)
 * cost each worker ~1.6 s of deserialising in one step while it served; a chunk is a copy.
 * The message that names the config (start, prepare, reload) carries the transfer's number; IPC
 * keeps the order, so its chunks have all arrived when it is handled.
 */
import type { Config } from '../config/types.js';
import { decodeInPieces, encodeInPieces } from '../config/pieces.js';
import { TsproxyError } from '../errors.js';
import { omitAgain, spliceUnchanged, type Reuse } from './config-splice.js';
import { knownContext, rememberContext } from './diff.js';

const CHUNK_BYTES = 1024 * 1024;

export interface ConfigChunk {
  readonly type: 'configChunk';
  readonly transfer: number;
  readonly offset: number;
  readonly totalBytes: number;
  readonly bytes: Uint8Array;
}

let lastTransfer = 0;

/**
 * What travels: a whole Config, or (`against`: the hash of the config the worker runs) one
 * without the servers and upstreams the reload kept from it (config-splice.ts), which the worker
 * puts back from its own running config, so it keeps their compiled form too. `context`: the
 * config's context digest (diff.ts), which lets the worker's next reload keep compiled servers.
 */
interface Transfer {
  readonly config: Config;
  readonly reuse: Reuse | null;
  readonly against: string | null;
  readonly context: string | null;
}

/** The bytes a Config travels as (encode once, send to every worker of a round). */
export function encodeConfig(config: Config): Uint8Array {
  return encodeInPieces({ config, reuse: null, against: null, context: knownContext(config) ?? null } satisfies Transfer);
}

/**
 * The bytes of `config` for a worker that runs `running`: only what the reload did not keep from
 * it, when `config` was spliced onto `running`; null when it was not (send encodeConfig's).
 */
export function encodeConfigDelta(config: Config, running: Config): Uint8Array | null {
  const delta = omitAgain(config, running);
  if (delta === null) return null;
  return encodeInPieces({ ...delta, against: running.hash, context: knownContext(config) ?? null } satisfies Transfer);
}

/** Send `bytes` in chunks; returns the transfer number the message naming the config carries. */
export function sendConfig(send: (chunk: ConfigChunk) => void, bytes: Uint8Array): number {
  const transfer = ++lastTransfer;
  let offset = 0;
  do {
    send({ type: 'configChunk', transfer, offset, totalBytes: bytes.length, bytes: bytes.subarray(offset, offset + CHUNK_BYTES) });
    offset += CHUNK_BYTES;
  } while (offset < bytes.length);
  return transfer;
}

/** A worker's side: chunks go in as they arrive, a whole config comes out. */
export class ConfigReceiver {
  readonly #buffers = new Map<number, Buffer>();

  accept(chunk: ConfigChunk): void {
    let buffer = this.#buffers.get(chunk.transfer);
    if (buffer === undefined) this.#buffers.set(chunk.transfer, (buffer = Buffer.allocUnsafe(chunk.totalBytes)));
    buffer.set(chunk.bytes, chunk.offset);
  }

  /** Forget transfer `n` (its message is ignored). */
  drop(n: number): void {
    this.#buffers.delete(n);
  }

  /**
   * The config of transfer `n`, decoded in slices (the event loop runs between them); a delta is
   * completed from `running` (the worker's config in service), which must be the one it was made against.
   */
  async take(n: number, running: Config | null = null): Promise<Config> {
    const buffer = this.#buffers.get(n);
    this.#buffers.delete(n);
    if (buffer === undefined) throw new TsproxyError('TSP_ERR_WORKER', `configuration transfer ${n} was not received`);
    const t = await decodeInPieces<Transfer>(buffer);
    let config = t.config;
    if (t.reuse !== null) {
      if (running === null || running.hash !== t.against) throw new TsproxyError('TSP_ERR_WORKER', 'a reload was sent against another configuration than the one this worker runs');
      config = spliceUnchanged(config, t.reuse, running);
    }
    if (t.context !== null) rememberContext(config, t.context);
    return config;
  }
}
