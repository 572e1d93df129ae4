/**
 * Issue 18's "cost as work grows" (not a test; 127.0.0.1 only, bounded in time):
 *
 * (a) small-response cost of a 10,000-server config (10,000 server_names + wildcards, 1,000 regex
 *     locations: bench/gen-config.ts) against the one-server config made of the same target
 *     server block, same build, interleaved rounds: proxy CPU per request (utime+stime / requests,
 *     robust to other load) and req/s, wrk -c50 keep-alive with `Host:` the target server's name.
 * (b) reload of the 10,000-server config under steady keep-alive load: a fixed request rate over
 *     CONNS connections, every request's latency recorded from its scheduled send time (no
 *     coordinated omission), first with no reload, then while the config is reloaded RELOADS
 *     times (alternating a file change, seen by the watcher, and SIGHUP; each reload changes the
 *     target's /generation answer, so it is a real change). Prints p50/p99/max and failures of
 *     both phases and each reload's durationMs.
 *
 *   npx tsx bench/big-config.ts [--part a|b|ab] [--servers 10000] [--regex-every 10]
 *     [--rounds 3] [--seconds 4] [--reloads 10] [--rate 2000] [--conns 16] [--workers 1]
 *     [--cli dist/cli.js] [--cli-b OTHER/dist/cli.js] [--node-args="--import ./bench/procs/loop-stall.mjs"]
 * --node-args=...: node options the proxy starts with (split on spaces; worker processes inherit them).
 * With bench/procs/loop-stall.mjs among them, (b) points its LOOP_STALL_LOG at a file of its own
 * and prints the serving thread's stalls: the largest of the quiet phase, and per reload the
 * largest from its trigger until one second after its summary line (every process's, by pid).
 * Targets (issue 18): (a) ratio big/one within 10% (CPU per request <= 1.1x); (b) no failed
 * request, p99 with reloads - p99 without < 50 ms. --cli-b runs (b) for a second build too (A/B).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bigConfigText, serverName } from './gen-config.js';
import { freePort } from './lib/procs.js';

const { values } = parseArgs({
  options: {
    part: { type: 'string', default: 'ab' },
    servers: { type: 'string', default: '10000' },
    'regex-every': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    reloads: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    conns: { type: 'string', default: '16' },
    workers: { type: 'string', default: '1' },
    cli: { type: 'string', default: 'dist/cli.js' },
    'cli-b': { type: 'string' },
    'node-args': { type: 'string', default: '' },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const SERVERS = Number(values.servers);
const REGEX_EVERY = Number(values['regex-every']);
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const RELOADS = Number(values.reloads);
const RATE = Number(values.rate);
const SLOW_LOG = process.env.BENCH_SLOW_LOG;
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 20);
const CONNS = Number(values.conns);
const WORKERS = Number(values.workers);
const TARGET = Math.floor(SERVERS / 2);
const HOST = serverName(TARGET);
const CLK_TCK = 100;
const TASKSET = fs.existsSync('/usr/bin/taskset') && os.cpus().length >= 2;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-bench-big-'));
const say = (line: string) => process.stdout.write(`${line}\n`);

function pinned(cpu: number, cmd: string, args: string[]): [string, string[]] {
  return TASKSET ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

/** The bench backend (bench/procs/backend.mjs: realistic ~250-byte heads), pinned beside the load. */
async function startBackend(): Promise<{ port: number; child: ChildProcess }> {
  const [cmd, args] = pinned(1, process.execPath, [path.join(ROOT, 'bench/procs/backend.mjs')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString().split('\n')[0]!)));
  return { port: (JSON.parse(line) as { http: number }).http, child };
}

function configText(servers: number, listen: string, backendPort: number, generation: number): string {
  const one = servers === 1;
  return bigConfigText({
    servers: one ? 1 : servers,
    regexEvery: one ? 1 : REGEX_EVERY,
    listen,
    mainPrelude: `pid off;\nerror_log stderr notice;\nworker_processes ${WORKERS};\n`,
    httpPrelude: '    access_log off;\n    keepalive_requests 1000000;\n    server_names_hash_max_size 32768;\n',
    target: { index: one ? 0 : TARGET, backendPort, generation },
  }).replace(one ? serverName(0) : '\0', HOST);
}

interface Proxy {
  child: ChildProcess;
  pid: number;
  /** 'configuration reloaded' records seen (with durationMs), and reload failures. */
  reloads: number[];
  failures: string[];
  stop(): Promise<void>;
}

const NODE_ARGS = values['node-args'].split(' ').filter((a) => a !== '');

async function startProxy(cli: string, conf: string, port: number, env: NodeJS.ProcessEnv = process.env): Promise<Proxy> {
  const [cmd, args] = pinned(0, process.execPath, [...NODE_ARGS, path.resolve(ROOT, cli), '-c', conf]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const p: Proxy = {
    child,
    pid: child.pid!,
    reloads: [],
    failures: [],
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
  let buffered = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.includes('configuration reloaded')) p.reloads.push(Number(/durationMs: (\d+)/.exec(line)?.[1] ?? -1));
      else if (/reload failed|\[(emerg|alert|crit|error)\]/.test(line)) p.failures.push(line);
    }
  });
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`proxy exited: ${p.failures.join('\n')}`);
    if (Date.now() > end) throw new Error('proxy did not start in 60 s');
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The proxy's utime+stime in clock ticks (with its worker processes, when there are any). */
function cpuTicks(pid: number): number {
  let total = 0;
  const pids = [pid];
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) if (line !== '') pids.push(Number(line));
  } catch {
    // no children file: the primary alone
  }
  for (const p of pids) {
    const f = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    total += Number(fields[11]) + Number(fields[12]);
  }
  return total;
}

function wrk(port: number, seconds: number): Promise<{ requests: number; errors: string }> {
  const [cmd, args] = pinned(1, 'wrk', ['-t1', '-c50', `-d${seconds}s`, '-H', `Host: ${HOST}`, `http://127.0.0.1:${port}/small`]);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const errors = [/Non-2xx or 3xx responses: \d+/.exec(out)?.[0], /Socket errors: .*/.exec(out)?.[0]].filter(Boolean).join('; ');
      resolve({ requests, errors });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function partA(backendPort: number): Promise<void> {
  say(`(a) small responses, ${SERVERS} servers (${Math.ceil(SERVERS / REGEX_EVERY)} regex locations) vs one server; Host: ${HOST}; wrk -c50 ${SECONDS}s x ${ROUNDS} rounds, interleaved`);
  const results: Record<'one' | 'big', { us: number[]; rps: number[] }> = { one: { us: [], rps: [] }, big: { us: [], rps: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    const order: ('one' | 'big')[] = round % 2 === 0 ? ['one', 'big'] : ['big', 'one'];
    for (const which of order) {
      const port = await freePort();
      const conf = path.join(dir, `${which}.conf`);
      fs.writeFileSync(conf, configText(which === 'one' ? 1 : SERVERS, `127.0.0.1:${port}`, backendPort, 0));
      const proxy = await startProxy(values.cli, conf, port);
      await wrk(port, 1); // warm-up
      const t0 = cpuTicks(proxy.pid);
      const w = await wrk(port, SECONDS);
      const t1 = cpuTicks(proxy.pid);
      await proxy.stop();
      if (w.errors !== '' || w.requests === 0) say(`  ${which}: wrk reported ${w.errors || 'no requests'}`);
      results[which].us.push(((t1 - t0) * 1e6) / CLK_TCK / Math.max(1, w.requests));
      results[which].rps.push(w.requests / SECONDS);
    }
  }
  for (const which of ['one', 'big'] as const) {
    const r = results[which];
    say(`  ${which.padEnd(4)} CPU/request median ${median(r.us).toFixed(1)} us (${r.us.map((x) => x.toFixed(1)).join(' ')}), req/s median ${median(r.rps).toFixed(0)} (${r.rps.map((x) => x.toFixed(0)).join(' ')})`);
  }
  say(`  big/one: CPU per request ${(median(results.big.us) / median(results.one.us)).toFixed(3)}x, req/s ${(median(results.big.rps) / median(results.one.rps)).toFixed(3)}x (target: within 10%)`);
}

interface Phase {
  latencies: number[];
  failures: number;
  sent: number;
}

/**
 * Fixed-rate keep-alive load on raw sockets (a node:http client could not keep a steady rate on a
 * loaded machine): each of CONNS connections sends its share of RATE requests per second on a
 * schedule, one at a time; a request is timed from its scheduled time, so a stall counts in full
 * for every request that should have gone out during it. A connection that fails is reopened.
 */
function steadyLoad(port: number): { phase(): Phase; stop(): Promise<void> } {
  let current: Phase = { latencies: [], failures: 0, sent: 0 };
  let running = true;
  const intervalMs = (1000 * CONNS) / RATE;
  const request = Buffer.from(`GET /small HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: big-config-bench\r\n\r\n`, 'latin1');
  const loop = async (k: number) => {
    let next = performance.now() + (k * intervalMs) / CONNS;
    let socket: net.Socket | null = null;
    let pending: ((ok: boolean) => void) | null = null;
    let buffered: Buffer = Buffer.alloc(0);
    const open = () => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => {
        if (socket === s) socket = null;
        pending?.(false);
        pending = null;
      });
      s.on('data', (d: Buffer) => {
        buffered = buffered.length === 0 ? d : Buffer.concat([buffered, d]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.toString('latin1', 0, end);
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        const done = pending;
        pending = null;
        done?.(head.startsWith('HTTP/1.1 200'));
      });
      return s;
    };
    while (running) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const scheduled = next;
      next += intervalMs;
      const phase = current;
      phase.sent++;
      socket ??= open();
      buffered = Buffer.alloc(0);
      const ok = await new Promise<boolean>((resolve) => {
        pending = resolve;
        socket!.write(request);
      });
      if (ok) {
        const latency = performance.now() - scheduled;
        phase.latencies.push(latency);
        // BENCH_SLOW_LOG: each slow request as `<epoch ms it was due> <latency ms> <connection>`,
        // to lay beside the proxy's stall log on one timeline
        if (SLOW_LOG !== undefined && latency >= SLOW_MS) fs.appendFileSync(SLOW_LOG, `${(performance.timeOrigin + scheduled).toFixed(1)} ${latency.toFixed(1)} ${k}\n`);
      } else phase.failures++;
    }
    socket?.destroy();
  };
  const loops = Array.from({ length: CONNS }, (_, k) => loop(k));
  return {
    phase() {
      const done = current;
      current = { latencies: [], failures: 0, sent: 0 };
      return done;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

function describe(p: Phase): string {
  const l = [...p.latencies].sort((a, b) => a - b);
  const at = (q: number) => (l.length === 0 ? NaN : l[Math.min(l.length - 1, Math.floor(q * l.length))]!);
  return `${p.sent} requests, ${p.failures} failed, latency ms p50 ${at(0.5).toFixed(2)} p99 ${at(0.99).toFixed(2)} p99.9 ${at(0.999).toFixed(2)} max ${at(1).toFixed(2)}`;
}

async function partB(backendPort: number, cli: string): Promise<void> {
  say(`(b) ${cli}: reload of ${SERVERS} servers under ${RATE} req/s over ${CONNS} keep-alive connections, worker_processes ${WORKERS}`);
  const port = await freePort();
  const conf = path.join(dir, 'reload.conf');
  fs.writeFileSync(conf, configText(SERVERS, `127.0.0.1:${port}`, backendPort, 0));
  const stallLog = !NODE_ARGS.some((a) => a.includes('loop-stall')) ? null : process.env.LOOP_STALL_LOG !== undefined ? process.env.LOOP_STALL_LOG : path.join(dir, `stalls-${path.basename(path.dirname(path.dirname(path.resolve(cli))))}-${Date.now()}.txt`);
  const proxy = await startProxy(cli, conf, port, stallLog === null ? process.env : { ...process.env, LOOP_STALL_LOG: stallLog });
  const load = steadyLoad(port);
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  load.phase();
  const quietFrom = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const quiet = load.phase();
  const quietTo = Date.now();
  const windows: [number, number][] = [];
  const started = Date.now();
  for (let i = 1; i <= RELOADS && Date.now() - started < 120_000; i++) {
    const before = proxy.reloads.length + proxy.failures.length;
    const from = Date.now();
    fs.writeFileSync(conf, configText(SERVERS, `127.0.0.1:${port}`, backendPort, i));
    if (i % 2 === 0) proxy.child.kill('SIGHUP');
    const end = Date.now() + 30_000;
    while (proxy.reloads.length + proxy.failures.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    // let the load run between reloads (a second of traffic each)
    await new Promise((r) => setTimeout(r, 1000));
    windows.push([from, Date.now()]);
  }
  const reloading = load.phase();
  await load.stop();
  const generation = await new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/generation', headers: { host: HOST } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', (e) => resolve(String(e)));
  });
  await proxy.stop();
  say(`  without reloads: ${describe(quiet)}`);
  say(`  with reloads:    ${describe(reloading)}`);
  say(`  reloads: ${proxy.reloads.length} done (durationMs ${proxy.reloads.join(' ')}), ${proxy.failures.length} failure lines; last answer "${generation}"`);
  for (const f of proxy.failures.slice(0, 3)) say(`    ${f.slice(0, 300)}`);
  if (stallLog !== null) reportStalls(stallLog, [quietFrom, quietTo], windows);
}

/** The serving threads' stalls (bench/procs/loop-stall.mjs lines `<epoch ms> <stall ms> pid=N`). */
function reportStalls(file: string, quiet: [number, number], reloads: [number, number][]): void {
  const stalls = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => {
    const [at, ms, pid] = l.split(' ');
    // the line is written when the stall ended: it began `ms` earlier
    return { at: Number(at), ms: Number(ms), pid: pid!.slice(4) };
  }) : [];
  const within = ([from, to]: [number, number]) => stalls.filter((s) => s.at >= from && s.at <= to).sort((a, b) => b.ms - a.ms);
  const top = (list: typeof stalls, n: number) => list.slice(0, n).map((s) => `${s.ms.toFixed(0)}`).join(' ') || '-';
  say(`  stalls >= 10 ms, quiet phase: ${within(quiet).length}, largest ${top(within(quiet), 3)} ms`);
  reloads.forEach((w, i) => {
    const list = within(w);
    const sum = list.reduce((n, s) => n + s.ms, 0);
    say(`  reload ${i + 1}: ${list.length} stalls >= 10 ms (sum ${sum.toFixed(0)} ms), largest ${top(list, 5)} ms`);
  });
}

async function main(): Promise<void> {
  const backend = await startBackend();
  try {
    if (values.part.includes('a')) await partA(backend.port);
    if (values.part.includes('b')) {
      await partB(backend.port, values.cli);
      if (values['cli-b'] !== undefined) await partB(backend.port, values['cli-b']);
    }
  } finally {
    backend.child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
