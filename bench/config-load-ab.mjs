/**
 * The config load alone (read, scan, build, validate: `loadConfigFile(FILE, { checkOnly: true })`,
 * what `-t` runs), timed with process.cpuUsage in fresh processes: no node start, no module
 * loading, so a change to the load shows through the noise that a whole `-t` on a shared machine
 * adds. Two builds are run in turns (interleaved), and the median CPU and wall of each printed.
 *   node bench/config-load-ab.mjs FILE.conf DIST_A DIST_B [rounds=10]
 *   (DIST_x: a build's dist directory, e.g. /tmp/base/dist and dist)
 * Plain node (no tsx): it imports the builds' compiled config/load.js.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (process.argv[2] === '--child') {
  const { loadConfigFile } = await import(pathToFileURL(resolve(process.argv[3], 'config/load.js')).href);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const r = loadConfigFile(resolve(process.argv[4]), { checkOnly: true });
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0, ok: r.config !== null }));
  process.exit(0);
}

const [file, distA, distB, roundsArg] = process.argv.slice(2);
if (file === undefined || distA === undefined || distB === undefined) {
  process.stderr.write('usage: node bench/config-load-ab.mjs FILE.conf DIST_A DIST_B [rounds]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 10);
const runs = { A: [], B: [] };
for (let i = 0; i < rounds; i++) {
  for (const [label, dist] of [['A', distA], ['B', distB]]) {
    const out = JSON.parse(execFileSync(process.execPath, [process.argv[1], '--child', dist, file], { encoding: 'utf8' }));
    if (!out.ok) process.stderr.write(`${label}: the config has errors\n`);
    runs[label].push(out);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [label, dist] of [['A', distA], ['B', distB]]) {
  const cpu = runs[label].map((r) => r.cpuMs);
  const wall = runs[label].map((r) => r.wallMs);
  process.stdout.write(`${label} ${dist}: load CPU median ${median(cpu).toFixed(0)} ms (min ${Math.min(...cpu).toFixed(0)}), wall median ${median(wall).toFixed(0)} ms over ${rounds} rounds\n`);
}
