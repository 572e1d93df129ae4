/**
 * The scenarios. Each measures one row once and returns its column values; the runner interleaves
 * rows round by round. Load generators and the backend share the load core, the proxy has the
 * other one to itself.
 */
import os from 'node:os';
import path from 'node:path';
import type { Peer, BenchContext, Instance } from './peers.js';
import type { Column } from './report.js';
import { checkWrk, parseWrk } from './report.js';
import { cpuSecondsPrecise, firstLine, httpBody, rssBytes, run, sleep, start, stop, LOOPBACK } from './procs.js';

export interface Settings {
  quick: boolean;
  rounds: number;
  /** wrk duration per measurement, seconds (integer: wrk takes whole seconds). */
  httpSeconds: number;
  latencySeconds: number;
  tcpSeconds: number;
  /** Client-bound 64-byte messages per WS CPU measurement (`wsBurst` per backend write), over `wsConns` sockets. */
  wsMessages: number;
  wsBurst: number;
  /** The same with one backend write per message. */
  wsMessagesSingle: number;
  wsConns: number;
  /** Idle WebSockets at the last of the `idleSteps` equal steps. */
  idleConns: number;
  idleSteps: number;
  /** Reload scenario: wrk seconds per run (with and without reloads) and reloads per run. */
  reloadSeconds: number;
  reloads: number;
  configServers: number;
  /** CPU list for wrk, clients and the backend. */
  loadCpus: string;
  ticksPerS: number;
}

export interface Env {
  ctx: BenchContext;
  settings: Settings;
  /** Generated 10,000-server config, for the config-test scenario. */
  configFile: string;
}

export interface Scenario {
  id: string;
  columns: Column[];
  /** Restart the row before each measurement (memory must be measured on a fresh process). */
  fresh?: boolean;
  /** Rounds override (one round is enough for a deterministic count). */
  rounds?: (s: Settings) => number;
  /** Whether the row takes part. */
  applies(peer: Peer): boolean;
  /** Shown as its own small table (rows that take part only) instead of columns of the main one. */
  separate?: { title: string; note: string };
  measure(peer: Peer, env: Env): Promise<Record<string, number>>;
}

const isProxy = (p: Peer) => p.id !== 'direct' && p.spec.server !== true;

async function wrk(env: Env, args: string[], seconds: number, o: { cpus?: string; check?: boolean } = {}) {
  const r = await run('wrk', [...args, '-d', `${seconds}s`, '--timeout', '2s'], { cpus: o.cpus ?? env.settings.loadCpus, timeoutMs: (seconds + 15) * 1000 });
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  const res = parseWrk(r.stdout);
  if (o.check !== false) checkWrk(res);
  return res;
}

const url = (port: number, p: string) => `http://${LOOPBACK}:${port}${p}`;

export const httpSmall: Scenario = {
  id: 'small',
  columns: [{ id: 'small', title: 'HTTP small req/s', digits: 0, better: 'higher' }],
  applies: () => true,
  async measure(peer, env) {
    const r = await wrk(env, ['-t1', '-c50', url(peer.endpoint.http, '/small')], env.settings.httpSeconds);
    return { small: r.requestsPerSec };
  },
};

export const http64k: Scenario = {
  id: '64k',
  columns: [{ id: '64k', title: 'HTTP 64 KiB req/s', digits: 0, better: 'higher' }],
  applies: () => true,
  async measure(peer, env) {
    const r = await wrk(env, ['-t1', '-c50', url(peer.endpoint.http, '/64k')], env.settings.httpSeconds);
    return { '64k': r.requestsPerSec };
  },
};

export const latency: Scenario = {
  id: 'latency',
  columns: [
    { id: 'p50', title: 'c1 p50 ms', digits: 3, better: 'lower' },
    { id: 'p99', title: 'c1 p99 ms', digits: 3, better: 'lower' },
  ],
  applies: () => true,
  async measure(peer, env) {
    const r = await wrk(env, ['-t1', '-c1', '--latency', url(peer.endpoint.http, '/small')], env.settings.latencySeconds);
    if (r.p50Ms === null || r.p99Ms === null) throw new Error('wrk printed no latency distribution');
    return { p50: r.p50Ms, p99: r.p99Ms };
  },
};

function wsClient(env: Env, args: string[]) {
  const script = path.join(env.ctx.root, 'bench/procs/ws-client.mjs');
  return start('node', [script, ...args], { cpus: env.settings.loadCpus, nofile: env.ctx.nofile });
}

/**
 * Proxy CPU time (user + system of every thread of the row, /proc/PID/task/TID/schedstat) per
 * 64-byte message of a client-bound stream: the backend pushes messages through the proxy to 10
 * raw-socket clients as fast as the path takes them. Two variants:
 *   ws   bursts of `wsBurst` messages per backend write (an app flushing a batch per tick), so the
 *        proxy finds several messages per read: the proxy's per-message cost;
 *   ws1  one write per message: the proxy wakes, reads and writes once per message, so this is the
 *        per-read/write (syscall and wakeup) cost, about equal for every row.
 * The earlier echo method (10 sockets x 8 in flight, a reply awaited before the next send) was the
 * second kind with twice the wakeups: ~20 us for every row.
 */
export const wsStream: Scenario = {
  id: 'ws',
  columns: [
    { id: 'ws', title: 'WS CPU us/msg', digits: 2, better: 'lower' },
    { id: 'ws1', title: 'WS us/msg 1/write', digits: 2, better: 'lower' },
  ],
  applies: (p) => isProxy(p) && p.spec.ws,
  async measure(peer, env) {
    const s = env.settings;
    return { ws: await wsCpuPerMessage(peer, env, s.wsMessages, s.wsBurst), ws1: await wsCpuPerMessage(peer, env, s.wsMessagesSingle, 1) };
  },
};

async function wsCpuPerMessage(peer: Peer, env: Env, messages: number, burst: number): Promise<number> {
  const s = env.settings;
  const pids = peer.endpoint.pids!;
  const client = wsClient(env, ['stream', `ws://${LOOPBACK}:${peer.wsPort}/ws/stream`, String(s.wsConns), String(messages), '-', String(burst)]);
  try {
    if ((await firstLine(client, 15_000)) !== 'ready') throw new Error('ws client not ready');
    const tree = pids();
    const before = cpuSecondsPrecise(tree, s.ticksPerS);
    client.stdin!.write('go\n');
    const done = JSON.parse(await firstLine(client, 120_000)) as { messages: number };
    const used = cpuSecondsPrecise(tree, s.ticksPerS) - before;
    return (used * 1e6) / done.messages;
  } finally {
    await stop(client, 'SIGKILL', 100);
  }
}

/**
 * RSS after a pause, once it stops moving: V8 collects the handshakes' garbage a few seconds after
 * allocation stops (its memory reducer), with no inspector or --expose-gc needed. Stable = four
 * reads 200 ms apart within 32 KiB; at most `maxMs`.
 */
export async function settledRss(read: () => number, maxMs = 5000, pause: (ms: number) => Promise<unknown> = sleep): Promise<number> {
  const STABLE_BYTES = 32 * 1024;
  const STABLE_READS = 4;
  let last = read();
  let stable = 0;
  for (let waited = 0; waited < maxMs; waited += 200) {
    await pause(200);
    const now = read();
    stable = Math.abs(now - last) <= STABLE_BYTES ? stable + 1 : 0;
    last = now;
    if (stable >= STABLE_READS) break;
  }
  return last;
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

/**
 * RSS per idle WebSocket held open through a fresh proxy: the slope of settled RSS over the
 * number of open sockets, sampled after each of `idleSteps` equal batches (so fixed costs such as
 * the first heap growth cancel instead of being divided by N).
 */
export const wsIdle: Scenario = {
  id: 'idle',
  columns: [{ id: 'idle', title: 'idle WS KiB/conn', digits: 1, better: 'lower' }],
  fresh: true,
  // Opening thousands of sockets is slow and RSS does not drift with CPU speed: two rounds do.
  rounds: (s) => Math.min(s.rounds, 2),
  applies: (p) => isProxy(p) && p.spec.ws,
  async measure(peer, env) {
    const { idleConns, idleSteps } = env.settings;
    const tree = peer.endpoint.pids!;
    const read = () => rssBytes(tree());
    const wsUrl = `ws://${LOOPBACK}:${peer.wsPort}/ws`;
    // A first small batch loads the upgrade code paths, so the baseline is not the cold process.
    const warm = wsClient(env, ['idle', wsUrl, '20']);
    try {
      await firstLine(warm, 15_000);
    } finally {
      await stop(warm, 'SIGKILL', 100);
    }
    const batch = Math.round(idleConns / idleSteps);
    const counts: number[] = [0];
    const rss: number[] = [await settledRss(read)];
    const clients = [];
    try {
      for (let i = 1; i <= idleSteps; i++) {
        const client = wsClient(env, ['idle', wsUrl, String(batch)]);
        clients.push(client);
        const opened = JSON.parse(await firstLine(client, 120_000)) as { open: number };
        if (opened.open !== batch) throw new Error(`only ${opened.open} of ${batch} opened`);
        counts.push(i * batch);
        rss.push(await settledRss(read));
      }
      // The first batch also pays one-time growth (heap pages, socket tables): fit from batch 1 on.
      return { idle: slope(counts.slice(1), rss.slice(1)) / 1024 };
    } finally {
      for (const c of clients) await stop(c, 'SIGKILL', 100);
    }
  },
};

export const tcpStream: Scenario = {
  id: 'tcp',
  columns: [{ id: 'tcp', title: 'raw TCP Gbit/s', digits: 2, better: 'higher' }],
  applies: (p) => p.spec.tcp,
  async measure(peer, env) {
    const port = peer.endpoint.tcp;
    if (port === null) throw new Error('no TCP port');
    const s = env.settings;
    const script = path.join(env.ctx.root, 'bench/procs/tcp-sink.mjs');
    const r = await run('node', [script, String(port), String(s.tcpSeconds)], { cpus: s.loadCpus, timeoutMs: (s.tcpSeconds + 15) * 1000 });
    if (r.code !== 0) throw new Error(r.stderr.trim() || `sink exited ${r.code}`);
    return { tcp: (JSON.parse(r.stdout.trim().split('\n').pop()!) as { gbps: number }).gbps };
  },
};

/** Wall time of `-t` on the generated config (the same file for both), on the proxy core. */
export const configTest: Scenario = {
  id: 'configtest',
  columns: [{ id: 'configtest', title: '-t 10k servers s', digits: 2, better: 'lower' }],
  // Seconds of CPU each, so three rounds keep the full run inside its time box.
  rounds: (s) => Math.min(s.rounds, 3),
  applies: (p) => p.id === 'nginx' || p.id === 'tsproxy',
  async measure(peer, env) {
    const { ctx } = env;
    const dir = path.join(ctx.work, `configtest-${peer.id}`);
    const [cmd, args] =
      peer.id === 'nginx'
        ? ['nginx', ['-t', '-q', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', env.configFile, '-g', `pid ${dir}/nginx.pid;`]]
        : ['node', [ctx.tsproxyCli, '-t', '-q', '-p', dir, '-c', env.configFile]];
    await run('mkdir', ['-p', dir], { cpus: ctx.proxyCpus, timeoutMs: 5000 });
    const t0 = process.hrtime.bigint();
    const r = await run(cmd, args as string[], { cpus: ctx.proxyCpus, timeoutMs: 60_000 });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr.trim().split('\n').slice(0, 2).join(' ')}`);
    return { configtest: secs };
  },
};

const RELOAD_PATH = '/small';

/**
 * Reload under load: on a fresh instance of the row, wrk -c50 keep-alive on the small response for
 * `reloadSeconds` without reloads, then again while the config is changed and reloaded `reloads`
 * times at even intervals (nginx SIGHUP, HAProxy master-worker SIGUSR2, tsproxy SIGHUP). Reports
 * failed requests (wrk socket errors + non-2xx during the reload run) and req/s during reloads as
 * a ratio to req/s without. Checks afterwards that the last generation is served.
 */
export const reloadUnderLoad: Scenario = {
  id: 'reload',
  columns: [
    { id: 'reloadFails', title: 'reload: failed req', digits: 0, better: 'lower', noRatio: true },
    { id: 'reloadRatio', title: 'reload: req/s vs none', digits: 2, better: 'higher', noRatio: true },
  ],
  rounds: (s) => Math.min(s.rounds, 3),
  applies: (p) => p.spec.workers === true,
  async measure(peer, env) {
    const s = env.settings;
    const inst = await peer.instance();
    try {
      const ep = inst.endpoint;
      const reload = ep.reload;
      if (reload === null) throw new Error('row cannot reload');
      const target = url(ep.http, RELOAD_PATH);
      await waitIdle(ep.pids!);
      await wrk(env, ['-t1', '-c50', target], 1); // warm-up (JIT of the Node row)
      const quiet = await wrk(env, ['-t1', '-c50', target], s.reloadSeconds);
      const loaded = wrk(env, ['-t1', '-c50', target], s.reloadSeconds, { check: false });
      const every = (s.reloadSeconds * 1000) / s.reloads;
      await sleep(every / 2);
      for (let g = 1; g <= s.reloads; g++) {
        reload(g);
        if (g < s.reloads) await sleep(every);
      }
      const r = await loaded;
      await expectGeneration(ep.http, s.reloads);
      return { reloadFails: r.socketErrors + r.non2xx, reloadRatio: r.requestsPerSec / quiet.requestsPerSec };
    } finally {
      await inst.stop();
    }
  },
};

async function expectGeneration(port: number, generation: number): Promise<void> {
  const want = `generation ${generation}`;
  let got = '';
  for (let i = 0; i < 30; i++) {
    got = await httpBody(port, '/gen');
    if (got === want) return;
    await sleep(100);
  }
  throw new Error(`after the reloads /gen answered "${got}", not "${want}"`);
}

/**
 * `worker_processes auto` against 1. Nothing is pinned (the proxy, wrk -t2 and the backend share
 * every core), so req/s says what more workers buy when the load generator competes for the same
 * CPUs, not what dedicated cores would give. Two figures do not depend on that competition and say
 * whether throughput can scale with the cores: the proxy's CPU per request (all its processes; it
 * should not grow with workers) and the busiest process's share of that CPU (1/N when the kernel
 * spreads connections evenly over N workers).
 */
export const workerScaling: Scenario = {
  id: 'scale',
  columns: [
    { id: 'scale1', title: '1 worker req/s', digits: 0, better: 'higher' },
    { id: 'scaleN', title: 'auto req/s', digits: 0, better: 'higher' },
    { id: 'scale', title: 'scaling auto/1', digits: 2, better: 'higher', noRatio: true },
    { id: 'cpu1', title: 'CPU us/req, 1 worker', digits: 1, better: 'lower' },
    { id: 'cpuN', title: 'CPU us/req, auto', digits: 1, better: 'lower' },
    { id: 'busiest', title: 'busiest process, % of CPU (auto)', digits: 0, better: 'lower', noRatio: true },
  ],
  applies: (p) => p.spec.workers === true,
  separate: {
    title: `worker_processes auto (${os.cpus().length} here) against 1 (small response)`,
    note: 'unpinned: the proxy, wrk -t2 -c50 and the backend all share every core; CPU us/req counts every process of the proxy (primary/master included); "busiest" is the share of the proxy\'s CPU used by its busiest process during the auto run',
  },
  async measure(peer, env) {
    // os.cpus(), not availableParallelism(): the runner pins itself to the load CPUs.
    const all = `0-${os.cpus().length - 1}`;
    const measure = async (workers: number | 'auto') => {
      let inst: Instance | null = null;
      try {
        inst = await peer.instance({ workers, cpus: all });
        // The first worker answering is not all of them: a Node worker still loading would eat CPU
        // in the measurement. Wait until the whole tree is idle, then warm every worker's JIT up.
        await waitIdle(inst.endpoint.pids!);
        await wrk(env, ['-t2', '-c50', url(inst.endpoint.http, '/small')], 2, { cpus: all }); // warm-up
        const tree = inst.endpoint.pids!();
        const before = tree.map((pid) => cpuSecondsPrecise([pid], env.settings.ticksPerS));
        const r = await wrk(env, ['-t2', '-c50', url(inst.endpoint.http, '/small')], env.settings.httpSeconds, { cpus: all });
        const used = tree.map((pid, k) => cpuSecondsPrecise([pid], env.settings.ticksPerS) - before[k]!);
        const total = used.reduce((a, b) => a + b, 0);
        return { rps: r.requestsPerSec, cpuUs: (total * 1e6) / r.requests, busiest: (100 * Math.max(...used)) / total };
      } finally {
        await inst?.stop();
      }
    };
    const one = await measure(1);
    const n = await measure('auto');
    return { scale1: one.rps, scaleN: n.rps, scale: n.rps / one.rps, cpu1: one.cpuUs, cpuN: n.cpuUs, busiest: n.busiest };
  },
};

/** Waits until a process tree uses under 2% of a CPU over 300 ms (at most `maxMs`). */
async function waitIdle(pids: () => number[], maxMs = 15_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  let last = cpuSecondsPrecise(pids());
  while (Date.now() < deadline) {
    await sleep(300);
    const now = cpuSecondsPrecise(pids());
    if (now - last < 0.006) return;
    last = now;
  }
}

export const SCENARIOS: readonly Scenario[] = [httpSmall, http64k, latency, wsStream, wsIdle, tcpStream, configTest, reloadUnderLoad, workerScaling];
