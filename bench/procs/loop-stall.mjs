/**
 * Preload for benchmarks (never in the product): records how long the serving thread was blocked.
 *
 *   LOOP_STALL_LOG=/tmp/stalls.txt node --import ./bench/procs/loop-stall.mjs dist/cli.js -c ...
 *
 * A 2 ms ticker measures its own lateness; every lateness over LOOP_STALL_MIN_MS (default 10) is
 * appended as one line `<epoch ms> <stall ms>`, so a reload's longest synchronous step shows up as
 * the largest number written while it ran. Lateness includes the time the OS did not run the
 * process (a loaded machine), so compare A/B in one run, and read the largest values, not one.
 * Worker processes inherit it through NODE_OPTIONS only if you pass it that way.
 */
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.LOOP_STALL_LOG;
const minMs = Number(process.env.LOOP_STALL_MIN_MS ?? 10);
if (file !== undefined && isMainThread) {
  const periodMs = 2;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lateMs = now - last - periodMs;
    last = now;
    if (lateMs >= minMs) fs.appendFileSync(file, `${Date.now()} ${lateMs.toFixed(1)} pid=${process.pid}\n`);
  }, periodMs);
  timer.unref();
}
