/**
 * How long the serving thread's steps are while it takes a reloaded config (config/pieces.ts
 * decodeInPieces' loop, 5 ms slices) of gen-config's big config, with a running config of the
 * same size in the heap (as in a reload): CPU time of the process (the thread plus any GC helper)
 * per slice, robust to preemption on a loaded machine, unlike wall-clock stalls.
 *
 *   npx tsx bench/decode-slices.ts [servers=10000]
 */
import v8 from 'node:v8';
import { bigConfigText } from './gen-config.js';
import { loadConfig } from '../src/config/load.js';
import { encodeInPieces } from '../src/config/pieces.js';
const n = Number(process.argv[2] ?? 10000);
const text = bigConfigText({ servers: n, regexEvery: 10, listen: '127.0.0.1:8080', target: { index: 5, backendPort: 9, generation: 1 } });
const running = loadConfig(text, '/tmp/big.conf').config!;
const bytes = encodeInPieces(loadConfig(text, '/tmp/big.conf').config!);
console.log('bytes', bytes.length);
for (let round = 0; round < 3; round++) {
  const input = new v8.DefaultDeserializer(Buffer.from(bytes));
  input.readHeader();
  const count = input.readUint32();
  const slices: { cpu: number; wall: number }[] = [];
  let c0 = process.cpuUsage(); let w0 = performance.now();
  let keep: unknown;
  for (let i = 0; i < count; i++) {
    keep = input.readValue();
    if (performance.now() - w0 >= 5 || i + 1 === count) {
      const c = process.cpuUsage(c0);
      slices.push({ cpu: (c.user + c.system) / 1000, wall: performance.now() - w0 });
      await new Promise((r) => setImmediate(r));
      c0 = process.cpuUsage(); w0 = performance.now();
    }
  }
  const cpu = slices.map((s) => s.cpu).sort((a, b) => b - a);
  const total = cpu.reduce((a, b) => a + b, 0);
  console.log(`round ${round}: ${slices.length} slices, CPU total ${total.toFixed(0)} ms, largest slice CPU ${cpu.slice(0, 6).map((x) => x.toFixed(1)).join(' ')} ms, p50 ${cpu[Math.floor(cpu.length / 2)]!.toFixed(1)}`, (keep as object) !== running);
}
