/**
 * Child processes for the benchmark: every one is started pinned to a CPU set, in its own process
 * group, and remembered, so that a crash or Ctrl-C anywhere still kills all of them (nginx workers
 * outlive a SIGKILLed master, hence groups rather than pids). Also reads CPU time and RSS of a
 * process tree from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import readline from 'node:readline';

export const LOOPBACK = '127.0.0.1';

export interface SpawnOptions {
  /** taskset CPU list, e.g. "0" or "1". */
  cpus: string;
  /** Raise the open-files limit (idle WebSocket scenario). */
  nofile?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every process group still running; safe to call from an 'exit' handler (synchronous). */
export function killAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

let trapped = false;
/** Installs the kill-everything trap once: normal exit, signals, and uncaught errors. */
export function installTrap(): void {
  if (trapped) return;
  trapped = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    killAll();
    process.exit(1);
  });
}

/** Starts `cmd args` pinned to `opts.cpus`; the returned child's pid is the command itself (exec). */
export function start(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const limit = opts.nofile !== undefined ? `ulimit -n ${opts.nofile} 2>/dev/null || ulimit -n $(ulimit -Hn); ` : '';
  const child = spawn('bash', ['-c', `${limit}exec taskset -c ${opts.cpus} "$@"`, 'bench', cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  child.on('exit', () => live.delete(child));
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.on('error', () => {});
  return child;
}

/** Collects a child's output so a failure can say why. */
export function tail(child: ChildProcess, max = 2000): () => string {
  let text = '';
  const add = (d: string) => {
    text = (text + d).slice(-max);
  };
  child.stderr?.on('data', add);
  child.stdout?.on('data', add);
  return () => text.trim();
}

/** Resolves with the first stdout line, rejects if the child exits first or the time runs out. */
export function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const done = (fn: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      fn();
    };
    const onData = (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) done(() => resolve(buf.slice(0, nl)));
    };
    const onErr = (d: string) => {
      err = (err + d).slice(-500);
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`exited ${code}: ${err.trim() || buf.trim()}`)));
    const timer = setTimeout(() => done(() => reject(new Error(`no output in ${timeoutMs} ms: ${err.trim()}`))), timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** Runs a command to completion (killed after `timeoutMs`). */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { timeoutMs: number }): Promise<RunResult> {
  const child = start(cmd, args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: string) => (stdout += d));
  child.stderr?.on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Stops a long-running child: `signal` to its group, SIGKILL after `graceMs`. */
export async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, signal);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // Workers (nginx) may still be finishing after the master left.
  killGroup(child, 'SIGKILL');
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, LOOPBACK, () => resolve());
  });
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET with a fresh connection; resolves with the status code (0 on a connection error). */
export function httpStatus(port: number, path: string, timeoutMs = 2000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: LOOPBACK, port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** One GET with a fresh connection; resolves with the body as text ('' on any error). */
export function httpBody(port: number, path: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: LOOPBACK, port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

/** Polls until GET `path` answers 200 (bounded by `timeoutMs`). */
export async function waitHttp(port: number, path: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (child !== undefined && !alive(child)) throw new Error(`exited with ${child.exitCode ?? child.signalCode}`);
    last = await httpStatus(port, path, 1000);
    if (last === 200) return;
    await sleep(100);
  }
  throw new Error(last === 0 ? `port ${port} not answering` : `GET ${path} answered ${last}`);
}

/** Polls until a TCP connection to `port` succeeds. */
export async function waitTcp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, LOOPBACK);
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} not accepting`);
}

// ---- /proc readers ----------------------------------------------------------------------------

interface ProcStat {
  ppid: number;
  ticks: number;
  rssPages: number;
}

/** Fields of /proc/PID/stat after the command name (which may contain spaces and parentheses). */
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
  return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), rssPages: Number(f[21]) };
}

/** `pid` and all its descendants (nginx master + workers). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p) || p <= 0) continue;
    const st = readStat(p);
    if (st === null) continue;
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [p]);
    else list.push(p);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.pop()!;
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

export const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux; the harness checks `getconf CLK_TCK` at start
const PAGE_BYTES = 4096;

/** CPU seconds (user + system) used so far by a process tree. */
export function cpuSeconds(pids: readonly number[], ticksPerS = CLOCK_TICKS_PER_S): number {
  let ticks = 0;
  for (const p of pids) ticks += readStat(p)?.ticks ?? 0;
  return ticks / ticksPerS;
}

/**
 * CPU seconds used so far by a process tree, in nanoseconds' resolution: the sum of
 * /proc/PID/task/TID/schedstat (time on CPU) over every thread. A short run is a few ticks of
 * /proc/PID/stat's 10 ms clock; this has no such granularity. Falls back to `cpuSeconds` when
 * schedstat is missing (kernel without CONFIG_SCHEDSTATS). Threads that exited are not counted.
 */
export function cpuSecondsPrecise(pids: readonly number[], ticksPerS = CLOCK_TICKS_PER_S): number {
  if (!fs.existsSync('/proc/self/schedstat')) return cpuSeconds(pids, ticksPerS);
  let ns = 0;
  for (const p of pids) {
    let tids: string[];
    try {
      tids = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // the process is gone
    }
    for (const t of tids) {
      try {
        ns += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        // the thread is gone
      }
    }
  }
  return ns / 1e9;
}

/** Resident set size in bytes of a process tree. */
export function rssBytes(pids: readonly number[]): number {
  let pages = 0;
  for (const p of pids) pages += readStat(p)?.rssPages ?? 0;
  return pages * PAGE_BYTES;
}

/** The port a child process announces on its stdout as a `PORT n` line (bench scripts' children). */
export function announcedPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}
