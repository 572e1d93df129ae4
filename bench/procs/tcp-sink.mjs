// @ts-check
/**
 * Reads a TCP stream (the backend's source, through a proxy) and reports the throughput over a
 * fixed window after a short warm-up: prints {"gbps","bytes","seconds"} and exits.
 *   node bench/procs/tcp-sink.mjs PORT SECONDS
 */
import net from 'node:net';

const port = Number(process.argv[2]);
const seconds = Number(process.argv[3] ?? 3);
const WARMUP_MS = 500;
let bytes = 0;
let counting = false;
let t0 = 0n;
const sock = net.connect(port, '127.0.0.1');
sock.on('error', (err) => {
  process.stderr.write(`tcp-sink: ${err.message}\n`);
  process.exit(1);
});
sock.on('end', () => {
  process.stderr.write('tcp-sink: the stream ended early\n');
  process.exit(1);
});
sock.on('data', (d) => {
  if (counting) bytes += d.length;
});
sock.on('connect', () => {
  setTimeout(() => {
    counting = true;
    t0 = process.hrtime.bigint();
    setTimeout(() => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9;
      process.stdout.write(`${JSON.stringify({ gbps: (bytes * 8) / secs / 1e9, bytes, seconds: secs })}\n`);
      process.exit(0);
    }, seconds * 1000);
  }, WARMUP_MS);
});
