/**
 * js_shared_dict_zone across worker processes (core/shared-dict.ts): the primary keeps the one
 * store, as it keeps the limit_req zones (limit-ipc.ts), but njs's ngx.shared API is synchronous,
 * so a worker cannot wait for a cluster message. Each worker gets one more stdio entry at fork: a
 * socket pair (fd 4 in the worker) on which it writes an operation and blocks reading the answer
 * (fs.writeSync / fs.readSync: the worker's end is a blocking descriptor). The primary answers
 * from its event loop, one frame at a time per worker, so every operation is atomic across
 * workers. A round trip costs some tens of microseconds (a script that reads a dict per request
 * pays it once per read); the primary's event loop must stay free (it is: it serves no traffic).
 *
 * Frames: a 4-byte big-endian length, then JSON (DictOp one way, DictAnswer the other).
 */
import fs from 'node:fs';
import type net from 'node:net';
import { LocalSharedDicts, type DictAnswer, type DictOp, type SharedDictService } from '../core/shared-dict.js';

/** The worker's descriptor of its end of the pair (stdio index 4: after the cluster IPC channel at 3). */
export const SHARED_DICT_FD = 4;

/** The stdio the primary forks workers with: inherited 0-2, cluster IPC, the shared-dict pair. */
export const WORKER_STDIO: ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'] = ['inherit', 'inherit', 'inherit', 'ipc', 'pipe'];

function frame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** The primary's side: the store, and a frame reader per worker pipe. */
export class PrimarySharedDicts {
  readonly store = new LocalSharedDicts();

  /** Serve one worker's pipe until it closes. */
  attach(pipe: net.Socket): void {
    let pending: Buffer | null = null;
    pipe.on('error', () => pipe.destroy());
    pipe.on('data', (chunk: Buffer) => {
      let buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) break;
        let answer: DictAnswer;
        try {
          answer = this.store.call(JSON.parse(buf.toString('utf8', 4, 4 + len)) as DictOp);
        } catch (e) {
          answer = { e: ['Error', (e as Error).message] };
        }
        pipe.write(frame(answer));
        buf = buf.subarray(4 + len);
      }
      pending = buf.length === 0 ? null : Buffer.from(buf);
    });
  }
}

const napping = new Int32Array(new SharedArrayBuffer(4));

/** A worker's side: each operation one blocking round trip to the primary. */
export class WorkerSharedDicts implements SharedDictService {
  readonly #fd: number;
  #buf = Buffer.allocUnsafe(64 * 1024);

  constructor(fd = SHARED_DICT_FD) {
    this.#fd = fd;
  }

  /** Whether this process has the pair (a worker forked by an older primary would not). */
  static available(fd = SHARED_DICT_FD): boolean {
    try {
      return fs.fstatSync(fd).isSocket();
    } catch {
      return false;
    }
  }

  call(op: DictOp): DictAnswer {
    const out = frame(op);
    let sent = 0;
    while (sent < out.length) sent += this.#io(() => fs.writeSync(this.#fd, out, sent));
    let have = 0;
    let need = 4;
    while (have < need) {
      if (need > this.#buf.length) {
        const bigger = Buffer.allocUnsafe(need);
        this.#buf.copy(bigger, 0, 0, have);
        this.#buf = bigger;
      }
      const n = this.#io(() => fs.readSync(this.#fd, this.#buf, have, this.#buf.length - have, null));
      if (n === 0) return { e: ['Error', 'shared dict: the primary process is gone'] };
      have += n;
      if (have >= 4) need = 4 + this.#buf.readUInt32BE(0);
    }
    return JSON.parse(this.#buf.toString('utf8', 4, need)) as DictAnswer;
  }

  /** One read or write; a descriptor that turned non-blocking is waited for (1 ms naps). */
  #io(f: () => number): number {
    for (;;) {
      try {
        return f();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        Atomics.wait(napping, 0, 0, 1);
      }
    }
  }
}
