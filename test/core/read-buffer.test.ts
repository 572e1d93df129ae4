import { describe, expect, test } from 'vitest';
import {
  AdaptiveReadBuffer, CONNECTION_READ_FLOOR_BYTES, READ_BUFFER_MAX_BYTES, SHRINK_AFTER_READS, TUNNEL_READ_FLOOR_BYTES,
} from '../../src/core/read-buffer.js';

/** Feed reads that fill the given share of the current buffer; returns the sizes after each. */
function reads(b: AdaptiveReadBuffer, shares: number[]): number[] {
  return shares.map((share) => {
    b.afterRead(Math.floor(b.sizeBytes * share), false);
    return b.sizeBytes;
  });
}

describe('AdaptiveReadBuffer: one grow/shrink rule', () => {
  test('starts at its floor and grows x4 per full read up to 256 KiB', () => {
    const b = new AdaptiveReadBuffer(TUNNEL_READ_FLOOR_BYTES);
    expect(b.sizeBytes).toBe(512);
    expect(reads(b, [1, 1, 1, 1, 1, 1, 1])).toEqual([2048, 8192, 32768, 131072, READ_BUFFER_MAX_BYTES, READ_BUFFER_MAX_BYTES, READ_BUFFER_MAX_BYTES]);
  });

  test('shrinks /4 only after a run of reads under a quarter, never below the floor', () => {
    const b = new AdaptiveReadBuffer(CONNECTION_READ_FLOOR_BYTES);
    reads(b, [1, 1]); // 64 KiB
    expect(b.sizeBytes).toBe(64 * 1024);
    const small = Array.from({ length: SHRINK_AFTER_READS - 1 }, () => 0.1);
    expect(reads(b, small).every((s) => s === 64 * 1024)).toBe(true);
    expect(reads(b, [0.1])).toEqual([16 * 1024]);
    // A read of a quarter or more breaks the run: it starts over.
    reads(b, small);
    reads(b, [0.5]);
    expect(reads(b, small).at(-1)).toBe(16 * 1024);
    expect(reads(b, [0.1])).toEqual([4 * 1024]);
    reads(b, [...small, 0.1, ...small, 0.1]);
    expect(b.sizeBytes).toBe(CONNECTION_READ_FLOOR_BYTES);
  });

  test('a full read ends a run of small reads (head then body, request after request)', () => {
    const b = new AdaptiveReadBuffer(CONNECTION_READ_FLOOR_BYTES);
    reads(b, [1]); // 16 KiB
    const sizes = reads(b, Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 0.1 : 0.5)));
    expect(new Set(sizes)).toEqual(new Set([16 * 1024]));
  });

  test('lowerFloor drops to the new floor at the next read, whatever it was, and keeps it', () => {
    const b = new AdaptiveReadBuffer(CONNECTION_READ_FLOOR_BYTES);
    reads(b, [1, 1]);
    b.lowerFloor(TUNNEL_READ_FLOOR_BYTES);
    expect(reads(b, [1])).toEqual([TUNNEL_READ_FLOOR_BYTES]);
    expect(reads(b, [1])).toEqual([2048]);
    reads(b, Array.from({ length: 2 * SHRINK_AFTER_READS }, () => 0));
    expect(b.sizeBytes).toBe(TUNNEL_READ_FLOOR_BYTES);
  });

  test('the buffer is reused unless its bytes are still referenced or its size changes', () => {
    const b = new AdaptiveReadBuffer(CONNECTION_READ_FLOOR_BYTES);
    const first = b.current();
    b.afterRead(100, false);
    expect(b.current()).toBe(first);
    b.afterRead(100, true);
    const second = b.current();
    expect(second).not.toBe(first);
    expect(second.length).toBe(first.length);
    b.afterRead(second.length, false);
    expect(b.current()).not.toBe(second);
  });
});
