// @ts-check
/**
 * Counts the clock reads of a process (issue 18's event clock): preload it, drive some requests,
 * send SIGUSR2, and it prints to stderr the Date.now(), performance.now() and process.hrtime()
 * calls since the last SIGUSR2, with the two frames above each Date.now() caller when
 * CLOCK_STACKS=1 (slow: an Error per read).
 *   node --import ./bench/procs/clock-count.mjs dist/cli.js -c CONF
 *   wrk ...; kill -USR2 PID; wrk -d2s ... (note the requests); kill -USR2 PID
 */
import { performance } from 'node:perf_hooks';

const counts = { dateNow: 0, perfNow: 0, hrtime: 0 };
/** @type {Map<string, number>} */
const callers = new Map();
const stacks = process.env.CLOCK_STACKS === '1';
const dateNow = Date.now;
Date.now = () => {
  counts.dateNow++;
  if (stacks) {
    const at = (new Error().stack ?? '').split('\n').slice(2, 4).join(' <- ').replace(/\s+/g, ' ');
    callers.set(at, (callers.get(at) ?? 0) + 1);
  }
  return dateNow();
};
const perfNow = performance.now.bind(performance);
performance.now = () => {
  counts.perfNow++;
  return perfNow();
};
const hrtime = process.hrtime;
const counted = Object.assign((/** @type {[number, number] | undefined} */ t) => {
  counts.hrtime++;
  return hrtime(t);
}, { bigint: () => {
  counts.hrtime++;
  return hrtime.bigint();
} });
process.hrtime = counted;
process.on('SIGUSR2', () => {
  console.error(`clock reads: ${JSON.stringify(counts)}`);
  for (const [at, n] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 16)) console.error(`  ${n} ${at}`);
  counts.dateNow = counts.perfNow = counts.hrtime = 0;
  callers.clear();
});
