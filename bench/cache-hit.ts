/**
 * proxy_cache HITs per second, tsproxy side by side with nginx's cache on the same config
 * (issue 15): a 1 KiB and a 1 MiB entry, each answered from the cache, the proxy on one core.
 * Same method as run.ts / tls.ts: the proxy pinned to CPU 0, wrk and the backend on CPU 1,
 * 127.0.0.1 only, rounds interleaved in a rotated order, medians, ratios to nginx in this run.
 *
 *   npx tsx bench/cache-hit.ts [--rounds 3] [--seconds 3] [--peers nginx,tsproxy] [--tsproxy dist/cli.js] [--sendfile on|off]
 *
 * Each (round, proxy, size) gets a fresh proxy on an empty cache directory: one request stores
 * the entry (checked: MISS, then HIT with the whole body), then a 1 s wrk warm-up, then
 * `wrk -t1 -c50` for --seconds on the HIT. Peak RSS is the proxy processes' VmHWM after the run
 * (the largest of the process tree: tsproxy runs as one process, nginx's worker serves).
 * Targets (issue 15): tsproxy >= 0.5x nginx for 1 KiB, >= 0.8x for 1 MiB; bodies stream from
 * disk, so the 1 MiB peak RSS stays near the 1 KiB one. nginx runs with `sendfile on` (Debian's
 * stock nginx.conf) unless --sendfile off. Bounded: every run has a timeout, and the whole
 * benchmark stops after its time budget, killing what it started.
 *
 *   npx tsx bench/cache-hit.ts --cpu CLI_A,CLI_B [--rounds 3] [--seconds 3] [--sizes 1k,1m]
 *
 * CPU mode (for a machine that is not quiet, where req/s means little): builds of tsproxy (each a
 * built dist/cli.js) instead of peers, and the proxy's CPU time per HIT (all threads, schedstat)
 * over the measured wrk run, for each size (median and minimum: on a loaded machine the minimum
 * is the least disturbed run); rounds rotate the builds' order. No nginx row.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOOPBACK, cpuSecondsPrecise, firstLine, freePort, installTrap, killAll, processTree, run, start, stop, waitTcp } from './lib/procs.js';
import { median } from './lib/report.js';
import { buildTsproxy } from './lib/setup.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const PROXY_CPU = '0';
const LOAD_CPU = '1';

interface Size {
  readonly id: string;
  readonly path: string;
  readonly bytes: number;
  /** Issue 15's target for tsproxy / nginx. */
  readonly target: number;
}

const SIZES: readonly Size[] = [
  { id: '1k', path: '/1k', bytes: 1024, target: 0.5 },
  { id: '1m', path: '/1m', bytes: 1024 * 1024, target: 0.8 },
];

/** The nginx-syntax config both run (nginx gets its temp paths, daemon off and, as root, `user root`). */
function config(dir: string, port: number, backend: number, nginx: boolean, sendfile: boolean): string {
  const nginxOnly = (s: string): string => (nginx ? s : '');
  const asRoot = process.getuid?.() === 0;
  return `worker_processes 1;
${nginxOnly(`daemon off;\n${asRoot ? 'user root;\n' : ''}`)}${nginx ? '' : 'watch off;\n'}pid ${dir}/proxy.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
${nginxOnly(`    client_body_temp_path ${dir}/body;\n    proxy_temp_path ${dir}/proxy;\n    sendfile ${sendfile ? 'on' : 'off'};\n`)}    keepalive_requests 1000000;
    proxy_cache_path ${dir}/cache levels=1:2 keys_zone=bench:10m max_size=1g inactive=60m use_temp_path=off;
    upstream backend { server ${LOOPBACK}:${backend}; keepalive 16; }
    server {
        listen ${LOOPBACK}:${port};
        location / {
            proxy_cache bench;
            proxy_cache_valid 200 10m;
            add_header X-Cache-Status $upstream_cache_status;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
    }
}
`;
}

/** nginx and wrk, from apt-get when missing (as tls.ts). */
function ensureTools(): void {
  const missing = [['wrk', 'wrk'], ['nginx', 'nginx']].filter(([bin]) => spawnSync('which', [bin!]).status !== 0).map(([, pkg]) => pkg!);
  if (missing.length === 0) return;
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit' });
}

/** One GET: its cache status and body length. */
function probe(port: number, urlPath: string): Promise<{ cache: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: LOOPBACK, port, path: urlPath, agent: false, timeout: 10_000 }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ cache: String(res.headers['x-cache-status'] ?? ''), bytes }));
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
  });
}

/** The largest VmHWM (peak RSS) among the processes of a tree, in bytes. */
function peakRssBytes(pid: number): number {
  let peak = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m !== null) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // the process ended
    }
  }
  return peak;
}

/** The requests a wrk run completed. */
function wrkRequests(out: string): number {
  const m = /(\d+) requests in/.exec(out);
  if (m === null) throw new Error(`no wrk result: ${out.slice(-200)}`);
  return Number(m[1]);
}

function wrkRps(out: string): number {
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`no wrk result: ${out.slice(-200)}`);
  const bad = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*/.exec(out);
  if (bad !== null) throw new Error(`wrk: ${bad[0]}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '3' },
      peers: { type: 'string', default: 'nginx,tsproxy' },
      tsproxy: { type: 'string' },
      sendfile: { type: 'string', default: 'on' },
      cpu: { type: 'string' },
      sizes: { type: 'string', default: '1k,1m' },
    },
  });
  // --cpu: the "peers" are tsproxy builds, and the measure is CPU µs per HIT.
  const builds = values.cpu?.split(',').filter((b) => b !== '') ?? [];
  const cpuMode = builds.length > 0;
  const rounds = Number(values.rounds);
  const sizes = SIZES.filter((s) => values.sizes.split(',').includes(s.id));
  const seconds = Number(values.seconds);
  const sendfile = values.sendfile !== 'off';
  const peers = cpuMode ? builds : values.peers.split(',').filter((p) => p === 'nginx' || p === 'tsproxy');
  installTrap();
  // The whole run's budget: every wrk plus start, prime and warm-up, with room; then everything stops.
  const budgetMs = rounds * peers.length * SIZES.length * (seconds + 15) * 1000 + 240_000;
  setTimeout(() => {
    process.stderr.write(`cache-hit: over its ${Math.round(budgetMs / 1000)} s budget, stopping\n`);
    killAll();
    process.exit(2);
  }, budgetMs).unref();
  ensureTools();
  let cli = values.tsproxy;
  if (cli === undefined && !cpuMode && peers.includes('tsproxy')) {
    const built = buildTsproxy(ROOT, path.join(ROOT, 'bench/.deps'));
    if ('error' in built) throw new Error(built.error);
    cli = built.cli;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-cache-'));
  const backendProc = start(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/cache-hit.ts'), '--backend'], { cpus: LOAD_CPU, cwd: ROOT });
  const backend = Number(await firstLine(backendProc, 20_000));
  const rps = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  const cpuUs = new Map<string, number[]>();
  const failures = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < peers.length; i++) {
      const peer = peers[(i + round) % peers.length]!;
      for (const size of sizes) {
        const key = `${peer}/${size.id}`;
        const pdir = path.join(dir, `${cpuMode ? `build${peers.indexOf(peer)}` : peer}-${size.id}-${round}`);
        fs.mkdirSync(pdir);
        const port = await freePort();
        const conf = path.join(pdir, `${cpuMode ? 'tsproxy' : peer}.conf`);
        fs.writeFileSync(conf, config(pdir, port, backend, peer === 'nginx', sendfile));
        const child = peer === 'nginx'
          ? start('nginx', ['-p', `${pdir}/`, '-c', conf], { cpus: PROXY_CPU })
          : start(process.execPath, [cpuMode ? peer : cli!, '-c', conf], { cpus: PROXY_CPU, cwd: ROOT });
        try {
          await waitTcp(port, 15_000);
          if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
          // Store the entry, and check the HIT is whole.
          const first = await probe(port, size.path);
          const hit = await probe(port, size.path);
          if (first.cache !== 'MISS' || hit.cache !== 'HIT' || hit.bytes !== size.bytes) {
            throw new Error(`priming: ${first.cache} then ${hit.cache} with ${hit.bytes} bytes`);
          }
          const url = `http://${LOOPBACK}:${port}${size.path}`;
          await run('wrk', ['-t1', '-c10', '-d1s', url], { cpus: LOAD_CPU, timeoutMs: 20_000 });
          const cpu0 = cpuSecondsPrecise(processTree(child.pid!));
          const r = await run('wrk', ['-t1', '-c50', `-d${seconds}s`, url], { cpus: LOAD_CPU, timeoutMs: (seconds + 20) * 1000 });
          const cpu1 = cpuSecondsPrecise(processTree(child.pid!));
          const v = wrkRps(r.stdout);
          const us = ((cpu1 - cpu0) * 1e6) / wrkRequests(r.stdout);
          rps.set(key, [...(rps.get(key) ?? []), v]);
          cpuUs.set(key, [...(cpuUs.get(key) ?? []), us]);
          rss.set(key, [...(rss.get(key) ?? []), peakRssBytes(child.pid!)]);
          process.stderr.write(`round ${round + 1} ${key}: ${v.toFixed(0)} req/s, ${us.toFixed(1)} µs CPU per HIT\n`);
        } catch (e) {
          failures.set(key, (e as Error).message.split('\n')[0]!);
          process.stderr.write(`round ${round + 1} ${key}: failed: ${failures.get(key)}\n`);
        } finally {
          await stop(child, 'SIGTERM', 3000);
        }
      }
    }
  }
  await stop(backendProc, 'SIGTERM', 2000);
  if (cpuMode) {
    report(cpuUs, rss, failures, peers, sizes, rounds, seconds);
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);
  const cell = (key: string): string => {
    const v = rps.get(key);
    return v === undefined ? `n/a (${failures.get(key) ?? 'no result'})` : Math.round(median(v)).toLocaleString('en-US');
  };
  process.stdout.write(`\n${new Date().toISOString()}  node ${process.version}  rounds ${rounds} x ${seconds}s, proxy on CPU ${PROXY_CPU}, wrk + backend on CPU ${LOAD_CPU}, nginx sendfile ${sendfile ? 'on' : 'off'}\n`);
  process.stdout.write('| proxy | HIT 1 KiB req/s | HIT 1 MiB req/s | peak RSS 1 KiB run MiB | peak RSS 1 MiB run MiB |\n|---|---:|---:|---:|---:|\n');
  for (const peer of peers) {
    const peak = (s: string): string => (rss.get(`${peer}/${s}`) === undefined ? 'n/a' : mib(Math.max(...rss.get(`${peer}/${s}`)!)));
    process.stdout.write(`| ${peer} | ${cell(`${peer}/1k`)} | ${cell(`${peer}/1m`)} | ${peak('1k')} | ${peak('1m')} |\n`);
  }
  for (const size of sizes) {
    const ts = rps.get(`tsproxy/${size.id}`);
    const ng = rps.get(`nginx/${size.id}`);
    if (ts === undefined || ng === undefined) continue;
    const ratio = median(ts) / median(ng);
    process.stdout.write(`tsproxy / nginx, HIT ${size.id}: ${ratio.toFixed(2)}x (target >= ${size.target}x: ${ratio >= size.target ? 'met' : 'NOT met'})\n`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** CPU mode's table: per build and size, the median µs of proxy CPU per HIT, each round's, and the peak RSS. */
function report(cpuUs: Map<string, number[]>, rss: Map<string, number[]>, failures: Map<string, string>, builds: readonly string[], sizes: readonly Size[], rounds: number, seconds: number): void {
  process.stdout.write(`\n${new Date().toISOString()}  node ${process.version}  rounds ${rounds} x ${seconds}s, wrk -t1 -c50, proxy on CPU ${PROXY_CPU}, wrk + backend on CPU ${LOAD_CPU}\n`);
  process.stdout.write('| build | size | µs CPU per HIT (median) | min | each round | peak RSS MiB |\n|---|---|---:|---:|---|---:|\n');
  for (const build of builds) {
    for (const size of sizes) {
      const key = `${build}/${size.id}`;
      const v = cpuUs.get(key);
      const peak = rss.get(key);
      const cell = v === undefined ? `n/a (${failures.get(key) ?? 'no result'}) | ` : `${median(v).toFixed(1)} | ${Math.min(...v).toFixed(1)}`;
      const each = v === undefined ? '' : v.map((x) => x.toFixed(1)).join(' ');
      process.stdout.write(`| ${build} | ${size.id} | ${cell} | ${each} | ${peak === undefined ? 'n/a' : (Math.max(...peak) / 1024 / 1024).toFixed(1)} |\n`);
    }
  }
}

if (process.argv[2] === '--backend') {
  // The origin: asked once per proxy instance (the rest are HITs), so its speed does not matter.
  const bodies: Record<string, Buffer> = { '/1k': Buffer.alloc(1024, 'k'), '/1m': Buffer.alloc(1024 * 1024, 'm') };
  const server = http.createServer((req, res) => {
    const body = bodies[req.url ?? ''];
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }).end(body);
  });
  server.listen(0, LOOPBACK, () => process.stdout.write(`${(server.address() as import('node:net').AddressInfo).port}\n`));
} else {
  await main();
}
