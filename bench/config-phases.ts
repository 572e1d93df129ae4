/**
 * Where `tsproxy -t` spends its time on a big config: module import, read+lex+parse+visit,
 * build (walk, validate, assemble), hash, freeze; then heap and peak RSS.
 *   npx tsx bench/gen-config.ts /tmp/10k.conf 10000
 *   node --import tsx bench/config-phases.ts /tmp/10k.conf [runs]
 * With runs > 1 every phase is repeated in the same process and the median printed (the first
 * run pays for JIT warm-up, as a real `-t` does, so it is printed on its own as well).
 */
import { resolve } from 'node:path';

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 1);
if (file === undefined) {
  process.stderr.write('usage: node --import tsx bench/config-phases.ts FILE.conf [runs]\n');
  process.exit(2);
}

const t0 = performance.now();
const { readConfigTree } = await import('../src/config/parse.js');
const { buildConfig } = await import('../src/config/build.js');
const { deepFreeze } = await import('../src/config/load.js');
const { hashConfig } = await import('../src/config/canonical.js');
const importMs = performance.now() - t0;

type Row = Record<string, number>;
/** With --expose-gc: live heap after each phase (outside the timings). */
const gc = (globalThis as { gc?: () => void }).gc;
const heap: string[] = [];
const liveHeap = (label: string): void => {
  if (gc === undefined) return;
  gc();
  heap.push(`${label} ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB`);
};
liveHeap('start');
const rows: Row[] = [];
for (let i = 0; i < runs; i++) {
  const row: Row = {};
  const path = resolve(file);
  let t = performance.now();
  const tree = readConfigTree(path, { prefix: resolve(path, '..') });
  row['parse'] = performance.now() - t;
  liveHeap('parsed');
  t = performance.now();
  const timings: Record<string, number> = {};
  const built = buildConfig(tree.directives, { file: path, prefix: resolve(path, '..'), timings });
  row['build'] = performance.now() - t;
  liveHeap('built');
  for (const [k, v] of Object.entries(timings)) row[`  ${k}`] = v;
  if (built.config === null) {
    process.stderr.write(`${tree.errors.length + built.errors.length} errors, first: ${String(built.errors[0] ?? tree.errors[0])}\n`);
    process.exit(1);
  }
  t = performance.now();
  const config = { ...built.config, files: [path], hash: hashConfig(built.config) };
  row['hash'] = performance.now() - t;
  t = performance.now();
  deepFreeze(config);
  row['freeze'] = performance.now() - t;
  row['build+hash+freeze'] = row['build']! + row['hash']! + row['freeze']!;
  row['total'] = row['parse']! + row['build+hash+freeze']!;
  rows.push(row);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mem = process.memoryUsage();
const res = process.resourceUsage();
const out: string[] = [`import ${importMs.toFixed(0)} ms`];
for (const key of Object.keys(rows[0]!)) {
  const first = rows[0]![key]!;
  const rest = rows.slice(1).map((r) => r[key]!);
  out.push(`${key.padEnd(20)} first ${first.toFixed(0).padStart(5)} ms${rest.length > 0 ? `   median(rest) ${median(rest).toFixed(0).padStart(5)} ms` : ''}`);
}
if (heap.length > 0) out.push(`live heap: ${heap.join(', ')}`);
out.push(`heapUsed ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MB, peak rss ${(res.maxRSS / 1024).toFixed(0)} MB`);
out.push(`wall since process start ${(performance.now()).toFixed(0)} ms`);
process.stdout.write(`${out.join('\n')}\n`);
