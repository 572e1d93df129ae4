/**
 * `daemon on`: the command line starts itself again, detached in a session of its own, and
 * returns once that child wrote its pid file (so `tsproxy && tsproxy -s reload` works at once).
 *
 * The child is told it is the daemon through the environment, not with `-g "daemon off;"`: a
 * config that says `daemon on;` would make `-g "daemon off;"` a duplicate directive (an error, as
 * in nginx).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TsproxyError } from '../errors.js';

export const DAEMON_ENV = 'TSPROXY_DAEMONIZED';

export function isDaemonChild(): boolean {
  return process.env[DAEMON_ENV] === '1';
}

export interface DaemonizeOptions {
  /** The command line arguments to run again. */
  argv: readonly string[];
  /** Where the child writes its pid, null for `pid off` (then only a quick liveness check). */
  pidFile: string | null;
  /** The child's stderr goes here (appended); its tail explains a failed start. */
  stderrFile: string;
  timeoutMs?: number;
}

function tail(file: string, from: number): string {
  try {
    const text = fs.readFileSync(file, 'utf8').slice(from);
    return text.slice(-2000).trim();
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start the daemon; resolves with its pid once it is up, throws (with its stderr tail) when it is not. */
export async function daemonize(opts: DaemonizeOptions): Promise<number> {
  fs.mkdirSync(path.dirname(opts.stderrFile), { recursive: true });
  const fd = fs.openSync(opts.stderrFile, 'a');
  const from = fs.fstatSync(fd).size;
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...opts.argv], {
    detached: true,
    stdio: ['ignore', 'ignore', fd],
    env: { ...process.env, [DAEMON_ENV]: '1' },
  });
  fs.closeSync(fd);
  let exited: number | string | null = null;
  child.on('exit', (code, signal) => (exited = signal ?? code ?? 'unknown'));
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new TsproxyError('TSP_ERR_DAEMON', 'could not start the daemon process');
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  const settleUntil = Date.now() + 500;
  while (Date.now() < deadline) {
    if (exited !== null || !alive(pid)) {
      throw new TsproxyError('TSP_ERR_DAEMON', `the daemon process ${pid} exited (${exited ?? 'gone'}):\n${tail(opts.stderrFile, from)}`);
    }
    if (opts.pidFile === null ? Date.now() >= settleUntil : readPid(opts.pidFile) === pid) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  process.kill(pid, 'SIGTERM');
  throw new TsproxyError('TSP_ERR_DAEMON', `the daemon process ${pid} did not write its pid file in time:\n${tail(opts.stderrFile, from)}`);
}

function readPid(file: string): number | null {
  try {
    return Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
  } catch {
    return null;
  }
}
