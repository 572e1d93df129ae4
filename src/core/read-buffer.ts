/**
 * The read buffer of every upstream socket we open (HTTP upstream connections, stream and
 * WebSocket tunnels): net's `onread` reads into one reused buffer instead of a fresh 64 KiB
 * allocation per read. Bulk transfers were bound by allocation, GC and read count; reusing the
 * buffer took 64 KiB responses from ~0.6x to ~1.1x nginx and raw TCP from ~0.2x to ~1.2x.
 *
 * One rule, for every use (only the floor differs, passed in):
 * - Grow x4 (up to 256 KiB) when a read fills the buffer: the socket had more to give, and a few
 *   steps (512 B -> 2 KiB -> 8 KiB -> ... -> 256 KiB) reach bulk size within a handful of reads
 *   where x2 would take twice as many small reads and writes.
 * - Shrink /4 (not below the floor) after SHRINK_AFTER_READS reads in a row that used under a
 *   quarter of it: one small read is no sign (a response read as one big and one small read, head
 *   and body or a body's tail, would otherwise reallocate on every request).
 * - The floor is what an idle socket keeps: 4 KiB for HTTP upstream connections (a typical
 *   response head and small body in one read), 512 B for tunnels (most sit idle for hours, and
 *   4 KiB was a fifth of an idle WebSocket's memory). `lowerFloor` drops to a smaller floor at the
 *   next read (an HTTP connection that becomes a tunnel).
 *
 * The buffer is reused only when the bytes of the last read are no longer referenced: the
 * owner's write of them completed synchronously (its target's writableLength is 0). Otherwise the
 * buffer is left to that queued write and a new one is allocated (`retained`). Chunks are views
 * valid only during the 'data' event; anything kept longer is copied (HeadAccumulator does).
 */

export const READ_BUFFER_MAX_BYTES = 256 * 1024;
/** Reads in a row under a quarter of the buffer before it shrinks one step. */
export const SHRINK_AFTER_READS = 16;
/** Floor of HTTP upstream connections. */
export const CONNECTION_READ_FLOOR_BYTES = 4 * 1024;
/** Floor (and start) of tunnels: an idle WebSocket or TCP tunnel keeps this much. */
export const TUNNEL_READ_FLOOR_BYTES = 512;

export class AdaptiveReadBuffer {
  #buf: Buffer;
  #floorBytes: number;
  #smallReads = 0;
  /** Set by lowerFloor(): the next buffer is the floor, whatever the last read was. */
  #shrinkNow = false;

  constructor(floorBytes: number) {
    this.#floorBytes = floorBytes;
    this.#buf = Buffer.allocUnsafeSlow(floorBytes);
  }

  /** net's `onread.buffer`: called after each read for the buffer of the next one. */
  readonly current = (): Buffer => this.#buf;

  get sizeBytes(): number {
    return this.#buf.length;
  }

  /**
   * A read of `n` bytes into the current buffer has been handed out; `retained`: those bytes are
   * still referenced (a write left queued, or a reader that may keep the chunk).
   */
  afterRead(n: number, retained: boolean): void {
    const size = this.#buf.length;
    let next = size;
    if (this.#shrinkNow) {
      this.#shrinkNow = false;
      next = this.#floorBytes;
      this.#smallReads = 0;
    } else if (n === size) {
      next = Math.min(size * 4, READ_BUFFER_MAX_BYTES);
      this.#smallReads = 0;
    } else if (n < size / 4) {
      if (++this.#smallReads >= SHRINK_AFTER_READS) {
        next = Math.max(size / 4, this.#floorBytes);
        this.#smallReads = 0;
      }
    } else {
      this.#smallReads = 0;
    }
    if (retained || next !== size) this.#buf = Buffer.allocUnsafeSlow(next);
  }

  /** From now on keep at least `floorBytes` only; a bigger buffer drops to it at the next read. */
  lowerFloor(floorBytes: number): void {
    this.#floorBytes = floorBytes;
    if (this.#buf.length > floorBytes) this.#shrinkNow = true;
  }
}
