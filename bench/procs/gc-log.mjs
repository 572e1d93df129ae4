/**
 * Preload for benchmarks (never in the product): appends every GC pause of the serving thread to
 * GC_LOG as `<epoch ms at its start> gc <kind> <ms>`, to lay beside the stall log on one timeline.
 *
 *   GC_LOG=/tmp/gc.txt node --import ./bench/procs/gc-log.mjs dist/cli.js -c ...
 */
import fs from 'node:fs';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

const file = process.env.GC_LOG;
const kinds = { [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
if (file !== undefined && isMainThread) {
  new PerformanceObserver((list) => {
    let lines = '';
    for (const e of list.getEntries()) {
      if (e.duration < 2) continue;
      lines += `${(performance.timeOrigin + e.startTime).toFixed(1)} gc ${kinds[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(1)}\n`;
    }
    if (lines !== '') fs.appendFileSync(file, lines);
  }).observe({ entryTypes: ['gc'] });
}
