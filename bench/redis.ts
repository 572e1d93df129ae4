/**
 * Redis-fed upstreams (issue 17), not a test: a redis-server on a free port, a node:http backend
 * and tsproxy in separate processes, then
 *  1. requests per second through a Redis-fed group (`redis_peers`, Host fed.test) against a
 *     static group of the same backend (Host static.test), wrk -t1 -c50 keep-alive, the two
 *     alternated over `--rounds` rounds, medians and their ratio (target >= 0.95: the table is
 *     in memory, no Redis round trip per request);
 *  2. update latency: the time from sending `RPUSH` of a second backend (as redis-cli would, on a
 *     connection of its own) to the first request routed to it (a client asking back to back on a
 *     keep-alive connection), median and p99 over
 *     `--changes` changes (the backend is removed again between changes, not timed).
 *   npx tsx bench/redis.ts [--seconds N] [--rounds N] [--changes N]
 * Defaults: 5 s, 3 rounds, 100 changes. wrk and redis-server are Debian packages (apt-get install wrk redis-server).
 * The proxy runs on CPU 0, wrk, the backends and redis-server on CPU 1 (as bench/run.ts).
 *
 * CPU per request (for A/B of builds on a machine that is not quiet, where req/s means little):
 *   npx tsx bench/redis.ts --cpu [--seconds N] [--rounds N] [--pairs N] CLI_A [CLI_B ...]   (each a built dist/cli.js)
 * Per round each build in turn (alternating order) starts, serves the same two groups (one
 * worker, pinned as above), is warmed up, then the static and the fed group get `--pairs` wrk
 * runs each of `--seconds` (defaults 4 x 2 s), alternated; the proxy's utime+stime over a run
 * divided by the requests served is its CPU µs per request. Prints per build the medians over
 * all runs (default 3 rounds) and the median of the fed - static differences of the pairs (one
 * process served both: steadier than the difference of the medians).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { announcedPort } from './lib/procs.js';
import { serveInlineConfig } from './lib/inline-proxy.js';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), '..');
const mode = process.argv[2];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

/** The two groups over one backend: `static` written out, `fed` the Redis list at frontend:$host. */
function groupsConfig(redisPort: string, backendPort: string, listen: string): string {
  return `
redis r { server 127.0.0.1:${redisPort}; }
http {
  access_log off; keepalive_requests 1000000;
  upstream static { server 127.0.0.1:${backendPort}; keepalive 64; }
  upstream fed { redis_peers r key=frontend:$host; keepalive 64; }
  server { listen ${listen}; server_name static.test; location / { proxy_pass http://static; } }
  server { listen ${listen}; server_name fed.test; location / { proxy_pass http://fed; } }
}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The proxy on CPU 0; wrk, the backends and Redis on CPU 1 (bench/run.ts does the same). */
const PROXY_CPU = '0';
const LOAD_CPU = '1';

function pinned(cpus: string, cmd: string, args: readonly string[], stdio: 'ignore' | 'pipe' = 'pipe'): ChildProcess {
  return spawn('taskset', ['-c', cpus, cmd, ...args], { cwd: root, stdio: ['ignore', stdio, 'inherit'] });
}

/** wrk against one Host: requests per second and requests served. */
function wrkRun(port: number, host: string, seconds: number): { rate: number; requests: number } {
  const out = spawnSync('taskset', ['-c', LOAD_CPU, 'wrk', '-t1', '-c50', `-d${seconds}s`, '-H', `Host: ${host}`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out.stdout);
  if (errors) process.stdout.write(`  wrk (${host}): ${errors[0]}\n`);
  return { rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out.stdout)?.[1] ?? 0), requests: Number(/(\d+) requests in/.exec(out.stdout)?.[1] ?? 0) };
}

function wrk(port: number, host: string, seconds: number): number {
  return wrkRun(port, host, seconds).rate;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function cli(port: number, ...args: string[]): string {
  return spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
}

/** A command on a raw connection to Redis (RESP), resolving with the reply line: no process start in the timings. */
function command(socket: net.Socket, ...args: string[]): Promise<string> {
  return new Promise((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString('latin1').trim()));
    socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

/** One GET with Host fed.test on a keep-alive agent: the backend that answered. */
function ask(port: number, agent: http.Agent): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'fed.test' }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-backend'] ?? res.statusCode)));
    });
    req.on('error', () => resolve('error'));
  });
}

function requireTools(): void {
  for (const tool of ['wrk', 'redis-server', 'redis-cli', 'taskset']) {
    if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is missing (apt-get install wrk redis-server util-linux)`);
  }
}

/** Stop the children, newest first, and remove the scratch directory. */
async function stopAll(children: ChildProcess[], dir: string): Promise<void> {
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGINT');
    await new Promise((r) => {
      const t = setTimeout(() => c.kill('SIGKILL'), 3000);
      c.once('exit', () => r(clearTimeout(t)));
    });
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

async function startRedis(children: ChildProcess[], dir: string): Promise<number> {
  const redisPort = await freePort();
  children.push(pinned(LOAD_CPU, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--notify-keyspace-events', 'Klg'], 'ignore'));
  for (let i = 0; i < 100 && cli(redisPort, 'ping') !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 50));
  return redisPort;
}

/** redis-server and two node:http backends (a, b) on the load CPU, `frontend:fed.test` = [fed, a]. */
async function startRedisAndBackends(children: ChildProcess[], dir: string): Promise<{ redisPort: number; a: number; b: number }> {
  const redisPort = await startRedis(children, dir);
  const backendA = pinned(LOAD_CPU, process.execPath, ['--import', 'tsx', self, '--backend', 'a']);
  const backendB = pinned(LOAD_CPU, process.execPath, ['--import', 'tsx', self, '--backend', 'b']);
  children.push(backendA, backendB);
  const [a, b] = await Promise.all([announcedPort(backendA), announcedPort(backendB)]);
  cli(redisPort, 'rpush', 'frontend:fed.test', 'fed', `http://127.0.0.1:${a}`);
  return { redisPort, a, b };
}

/**
 * utime + stime in microseconds: of the whole process (`task` null), or of one thread of it (the
 * main thread: `task` = pid), which leaves out V8's compiler and GC helper threads, whose work
 * right after a start would otherwise be charged to the few requests a loaded machine lets through.
 */
function cpuMicros(pid: number, task: number | null): number {
  const file = task === null ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`;
  const fields = fs.readFileSync(file, 'utf8').replace(/^.*\) /, '').split(' ');
  // after "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based) -> indices 11, 12
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Requests per host before measuring: the JIT has settled (time alone is not enough on a loaded machine). */
const WARM_REQUESTS = 30_000;

async function waitListening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`the proxy exited (${child.exitCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(true));
      s.on('error', () => resolve(false));
      s.on('connect', () => s.destroy());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the proxy did not listen on ${port}`);
}

/** `--cpu`: proxy CPU µs per request, static vs fed, for each built CLI given. */
async function cpuPerRequest(): Promise<void> {
  const seconds = option('seconds', 2);
  const rounds = option('rounds', 3);
  const pairs = option('pairs', 4);
  const clis = process.argv.slice(3).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
  if (clis.length === 0) throw new Error('usage: bench/redis.ts --cpu [--seconds N] [--rounds N] [--pairs N] CLI_A [CLI_B ...]');
  requireTools();
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-redis-'));
  const results = clis.map(() => ({ static: { process: [] as number[], main: [] as number[] }, fed: { process: [] as number[], main: [] as number[] } }));
  try {
    // the raw-socket backend of bench/run.ts: the cheaper the backend, the less the load CPU waits on it
    const redisPort = await startRedis(children, dir);
    const backend = pinned(LOAD_CPU, process.execPath, [path.join(root, 'bench/procs/backend.mjs')]);
    children.push(backend);
    const a = await new Promise<number>((resolve, reject) => {
      backend.stdout!.once('data', (d: Buffer) => resolve(Number(JSON.parse(d.toString().split('\n')[0]!).http)));
      backend.once('exit', () => reject(new Error('the backend exited')));
    });
    cli(redisPort, 'rpush', 'frontend:fed.test', 'fed', `http://127.0.0.1:${a}`);
    for (let r = 0; r < rounds; r++) {
      // every other round in reverse: whoever runs first must not always be the one the machine drifted on
      const order = clis.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) {
        const port = await freePort();
        const conf = path.join(dir, `cpu-${i}.conf`);
        fs.writeFileSync(conf, `daemon off;\nworker_processes 1;\nevents {}\n${groupsConfig(String(redisPort), String(a), `127.0.0.1:${port}`)}\n`);
        const proxy = pinned(PROXY_CPU, process.execPath, [path.resolve(clis[i]!), '-c', conf], 'ignore');
        try {
          await waitListening(port, proxy);
          // warm-up (and the fed key's first read), at most 8 s per host
          for (const host of ['static.test', 'fed.test']) {
            for (let n = 0, t = 0; n < WARM_REQUESTS && t < 8; t++) n += wrkRun(port, host, 1).requests;
          }
          const hosts: string[] = [];
          for (let k = 0; k < pairs; k++) hosts.push(...((r + k) % 2 === 0 ? ['static.test', 'fed.test'] : ['fed.test', 'static.test']));
          for (const host of hosts) {
            const pid = proxy.pid!;
            const [p0, m0] = [cpuMicros(pid, null), cpuMicros(pid, pid)];
            const { requests } = wrkRun(port, host, seconds);
            const n = Math.max(1, requests);
            const into = results[i]![host === 'fed.test' ? 'fed' : 'static'];
            into.process.push((cpuMicros(pid, null) - p0) / n);
            into.main.push((cpuMicros(pid, pid) - m0) / n);
          }
        } finally {
          proxy.kill('SIGTERM');
          await new Promise((res) => (proxy.exitCode !== null ? res(null) : proxy.once('exit', res)));
        }
      }
    }
  } finally {
    await stopAll(children, dir);
  }
  process.stdout.write(`proxy CPU µs per request, median of ${rounds} rounds x ${pairs} pairs x ${seconds} s (each run in brackets); main: the main thread only\n`);
  clis.forEach((c, i) => {
    process.stdout.write(`${c}\n`);
    for (const what of ['process', 'main'] as const) {
      const st = results[i]!.static[what];
      const fe = results[i]!.fed[what];
      const [s, f] = [median(st), median(fe)];
      const each = (v: number[]) => v.map((x) => x.toFixed(1)).join(' ');
      // a pair was served by one process, one run after the other: steadier than the medians' difference
      const diffs = st.map((x, k) => fe[k]! - x);
      process.stdout.write(`  ${what.padEnd(7)} static ${s.toFixed(1)} [${each(st)}]  fed ${f.toFixed(1)} [${each(fe)}]  fed - static ${median(diffs).toFixed(1)} µs [${each(diffs)}]\n`);
    }
  });
}

async function main(): Promise<void> {
  const seconds = option('seconds', 5);
  const rounds = option('rounds', 3);
  const changes = option('changes', 100);
  requireTools();
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-redis-'));
  try {
    const { redisPort, a, b } = await startRedisAndBackends(children, dir);
    const proxy = pinned(PROXY_CPU, process.execPath, ['--import', 'tsx', self, '--proxy', String(redisPort), String(a)]);
    children.push(proxy);
    const port = await announcedPort(proxy);
    // 1. throughput, the two groups alternated
    wrk(port, 'static.test', 1);
    wrk(port, 'fed.test', 1);
    const statics: number[] = [];
    const feds: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['static.test', 'fed.test'] : ['fed.test', 'static.test'];
      for (const host of order) (host === 'fed.test' ? feds : statics).push(wrk(port, host, seconds));
    }
    const s = median(statics);
    const f = median(feds);
    process.stdout.write(`static group     : ${s.toFixed(0)} req/s (median of ${rounds})\n`);
    process.stdout.write(`Redis-fed group  : ${f.toFixed(0)} req/s (median of ${rounds}); ${(f / s).toFixed(3)}x static (target >= 0.95)\n`);

    // 2. update latency: RPUSH b, then ask back to back until b answers
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const conn = net.connect({ host: '127.0.0.1', port: redisPort });
    await new Promise((r) => conn.once('connect', r));
    const latencies: number[] = [];
    const entryB = `http://127.0.0.1:${b}`;
    for (let i = 0; i < changes; i++) {
      const t0 = performance.now();
      await command(conn, 'RPUSH', 'frontend:fed.test', entryB);
      for (;;) {
        if ((await ask(port, agent)) === 'b') break;
        if (performance.now() - t0 > 5000) throw new Error('no request reached the new backend within 5 s');
      }
      latencies.push(performance.now() - t0);
      await command(conn, 'LREM', 'frontend:fed.test', '0', entryB);
      // wait until b is gone (not timed)
      for (let gone = 0; gone < 4;) gone = (await ask(port, agent)) === 'a' ? gone + 1 : 0;
    }
    agent.destroy();
    conn.destroy();
    process.stdout.write(`update latency   : median ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms over ${changes} changes (RPUSH sent to the first request routed to the new backend)\n`);
  } finally {
    await stopAll(children, dir);
  }
}

// last: the top-level awaits need every constant above initialised
if (mode === '--backend') {
  const name = process.argv[3] ?? 'a';
  const server = http.createServer((_req, res) => {
    res.setHeader('x-backend', name);
    res.end('hello world\n');
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as net.AddressInfo).port}\n`));
} else if (mode === '--proxy') {
  await serveInlineConfig(groupsConfig(process.argv[3]!, process.argv[4]!, '127.0.0.1:0'), 'bench-redis.conf');
} else if (mode === '--cpu') {
  await cpuPerRequest();
} else {
  await main();
}
