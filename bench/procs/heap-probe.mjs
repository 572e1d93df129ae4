/**
 * Preload for benchmarks (never in the product; bench/reload-heap.ts starts the proxy with it and
 * --expose-gc): on SIGUSR2 appends one JSON line to PROBE_OUT: the CPU of the serving thread
 * (/proc schedstat) and of the process (utime+stime, every thread) read before a forced full GC,
 * the heap used after it, the same CPU again (so a window between two probes leaves out the
 * probes' own GCs), and the bytes the serving thread allocated since the last probe: V8's
 * sampling heap profiler with the objects GCs collected, kept as PROBE_OUT.<n>.heapprofile.
 * PROBE_SAMPLING=0: no profiler (CPU runs: the profiler's stack walks cost CPU per sample).
 * `timersMs`: the serving thread's CPU inside setInterval callbacks of 1 s or more so far (the
 * status history point, every 5 s: ~80 ms with 10,000 upstreams, reload or not), so a window's
 * CPU can be taken without them.
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import inspector from 'node:inspector';
import { isMainThread } from 'node:worker_threads';
const out = process.env.PROBE_OUT;
const cpu = () => {
  const sched = Number(fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  const st = fs.readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return { mainMs: sched, procMs: (Number(f[11]) + Number(f[12])) * 10 };
};
const sum = (n) => n.selfSize + n.children.reduce((a, c) => a + sum(c), 0);
let timersMs = 0;
if (isMainThread && out) {
  const mainMs = () => Number(fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  const setIntervalOf = globalThis.setInterval;
  globalThis.setInterval = function (fn, ms, ...args) {
    if (typeof fn !== 'function' || !(ms >= 1000)) return setIntervalOf(fn, ms, ...args);
    return setIntervalOf(function (...a) {
      const t0 = mainMs();
      try {
        return fn.apply(this, a);
      } finally {
        timersMs += mainMs() - t0;
      }
    }, ms, ...args);
  };
  const session = new inspector.Session();
  session.connect();
  let n = 0, sampling = false;
  process.on('SIGUSR2', () => {
    const before = cpu();
    let allocated = null;
    if (sampling) {
      session.post('HeapProfiler.stopSampling', (err, r) => {
        if (err) throw err;
        allocated = sum(r.profile.head);
        fs.writeFileSync(`${out}.${n}.heapprofile`, JSON.stringify(r.profile));
      });
    }
    globalThis.gc();
    globalThis.gc();
    const h = v8.getHeapStatistics();
    const after = cpu();
    fs.appendFileSync(out, JSON.stringify({ n, t: Date.now(), used: h.used_heap_size, allocated, before, after, timersMs }) + '\n');
    n++;
    if (process.env.PROBE_SAMPLING !== '0') session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, (err) => { if (err) throw err; sampling = true; });
  });
}
