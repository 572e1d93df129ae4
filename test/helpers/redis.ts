/**
 * A real redis-server (Debian's redis-server package) for the Redis-fed upstream tests: started on
 * a free port of 127.0.0.1 (redis-server has no `--port 0`), without persistence (`--save ''
 * --appendonly no`), its files in a temp dir, keyspace notifications on unless told otherwise;
 * stopped after the test (onTestFinished). `kill()` and `restart()` keep the port, so a proxy
 * configured with it sees an outage and a recovery. `cli(...args)` is redis-cli against it: the
 * changes the tests make are the ones an operator would type.
 *
 * `REDIS_SERVER` is the binary, null when it is not installed: tests skip with
 * `describe.skipIf(NO_REDIS)` outside CI; in CI (.ci/run installs it) a missing binary fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { freePort, waitForPort } from './cli.js';

function findBinary(name: string): string | null {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/usr/sbin']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

export const REDIS_SERVER: string | null = findBinary('redis-server');
const REDIS_CLI: string | null = findBinary('redis-cli');
/** Skip Redis tests only where redis-server is missing outside CI. */
export const NO_REDIS: boolean = (REDIS_SERVER === null || REDIS_CLI === null) && process.env.CI === undefined;

export interface RedisServer {
  readonly port: number;
  /** "127.0.0.1:PORT", as a `server` line of a `redis` block takes it. */
  readonly address: string;
  /** redis-cli with these arguments; its output trimmed. */
  cli(...args: string[]): Promise<string>;
  /** SIGKILL: no goodbye to the clients (an outage). */
  kill(): Promise<void>;
  /** Start again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface RedisOptions {
  /** notify-keyspace-events (default "Klg": the list and generic commands of keys). '' turns them off. */
  readonly notify?: string;
  /** Stop it when the test finishes (default true). */
  readonly autoStop?: boolean;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  if (REDIS_SERVER === null || REDIS_CLI === null) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-redis-'));
  const port = await freePort();
  const notify = options.notify ?? 'Klg';
  let child: ChildProcess | null = null;
  let output = '';
  const launch = async (): Promise<void> => {
    output = '';
    const c = spawn(REDIS_SERVER, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--notify-keyspace-events', notify, '--logfile', '', '--daemonize', 'no',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child = c;
    await waitForPort(port, c, () => output, 'redis-server');
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };
  await launch();
  const server: RedisServer = {
    port,
    address: `127.0.0.1:${port}`,
    cli: (...args) => new Promise((resolve, reject) => {
      execFile(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
    }),
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGKILL');
      await launch();
    },
    stop: async () => {
      await halt('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
    get running() {
      return child !== null;
    },
  };
  if (options.autoStop !== false) onTestFinished(() => server.stop());
  return server;
}

