/**
 * The scenarios. Each measures one row once and returns its column values; the runner interleaves
 * rows round by round. Load generators and the backend share the load core, the proxy has the
 * other one to itself.
 */
import path from 'node:path';
import type { Peer, BenchContext } from './peers.js';
import type { Column } from './report.js';
import { checkWrk, parseWrk } from './report.js';
import { cpuSeconds, firstLine, rssBytes, run, sleep, start, stop, LOOPBACK } from './procs.js';

export interface Settings {
  quick: boolean;
  rounds: number;
  /** wrk duration per measurement, seconds (integer: wrk takes whole seconds). */
  httpSeconds: number;
  latencySeconds: number;
  tcpSeconds: number;
  wsMessages: number;
  wsConns: number;
  idleConns: number;
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
  measure(peer: Peer, env: Env): Promise<Record<string, number>>;
}

const isProxy = (p: Peer) => p.id !== 'direct' && p.spec.server !== true;

async function wrk(env: Env, args: string[], seconds: number) {
  const r = await run('wrk', [...args, '-d', `${seconds}s`, '--timeout', '2s'], { cpus: env.settings.loadCpus, timeoutMs: (seconds + 15) * 1000 });
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  const res = parseWrk(r.stdout);
  checkWrk(res);
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

/** Proxy CPU time (user + system, all processes of the row) per 64-byte echo round trip. */
export const wsEcho: Scenario = {
  id: 'ws',
  columns: [{ id: 'ws', title: 'WS CPU us/msg', digits: 2, better: 'lower' }],
  applies: (p) => isProxy(p) && p.spec.ws,
  async measure(peer, env) {
    const s = env.settings;
    const pids = peer.endpoint.pids!;
    const client = wsClient(env, ['echo', `ws://${LOOPBACK}:${peer.wsPort}/ws`, String(s.wsConns), String(s.wsMessages), '8']);
    try {
      if ((await firstLine(client, 15_000)) !== 'ready') throw new Error('ws client not ready');
      const tree = pids();
      const before = cpuSeconds(tree, s.ticksPerS);
      client.stdin!.write('go\n');
      const done = JSON.parse(await firstLine(client, 120_000)) as { messages: number };
      const used = cpuSeconds(tree, s.ticksPerS) - before;
      return { ws: (used * 1e6) / done.messages };
    } finally {
      await stop(client, 'SIGKILL', 100);
    }
  },
};

async function settledRss(pids: number[]): Promise<number> {
  let last = rssBytes(pids);
  for (let i = 0; i < 8; i++) {
    await sleep(250);
    const now = rssBytes(pids);
    if (Math.abs(now - last) < last * 0.005) return now;
    last = now;
  }
  return last;
}

/** RSS growth of a fresh proxy process per idle WebSocket held open through it. */
export const wsIdle: Scenario = {
  id: 'idle',
  columns: [{ id: 'idle', title: 'idle WS KiB/conn', digits: 1, better: 'lower' }],
  fresh: true,
  // Opening thousands of sockets is slow and RSS does not drift with CPU speed: two rounds do.
  rounds: (s) => Math.min(s.rounds, 2),
  applies: (p) => isProxy(p) && p.spec.ws,
  async measure(peer, env) {
    const n = env.settings.idleConns;
    const tree = peer.endpoint.pids!;
    const wsUrl = `ws://${LOOPBACK}:${peer.wsPort}/ws`;
    // A first small batch loads the upgrade code paths, so the baseline is not the cold process.
    const warm = wsClient(env, ['idle', wsUrl, '20']);
    try {
      await firstLine(warm, 15_000);
    } finally {
      await stop(warm, 'SIGKILL', 100);
    }
    await sleep(300);
    const before = await settledRss(tree());
    const client = wsClient(env, ['idle', wsUrl, String(n)]);
    try {
      const opened = JSON.parse(await firstLine(client, 120_000)) as { open: number };
      if (opened.open !== n) throw new Error(`only ${opened.open} of ${n} opened`);
      const after = await settledRss(tree());
      return { idle: (after - before) / n / 1024 };
    } finally {
      await stop(client, 'SIGKILL', 100);
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

export const SCENARIOS: readonly Scenario[] = [httpSmall, http64k, latency, wsEcho, wsIdle, tcpStream, configTest];

/** Columns that are placeholders for scenarios not built yet. */
export const PENDING: readonly Column[] = [{ id: 'reload', title: 'reload under load', digits: 0, better: 'lower' }];
