/**
 * Run the real tsproxy command line as a child process: the current source, transpiled at the
 * start of the test run (built-cli.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { onTestFinished } from 'vitest';

export const ROOT = path.resolve(import.meta.dirname, '../..');
// The source as JavaScript, transpiled once for this run (built-cli.ts, vitest's globalSetup);
// through tsx when a test file is run some other way.
const BUILT = process.env.TSPROXY_TEST_CLI;
const CLI = BUILT ?? path.join(ROOT, 'src/cli.ts');
// By absolute URL: the child may run in a directory with no node_modules (tests of -p and cwd).
const TSX = BUILT !== undefined ? [] : ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX, CLI, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tsproxy ${args.join(' ')} did not exit; stderr:\n${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RunningCli {
  child: ChildProcess;
  /** Everything written to stderr and stdout so far. */
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** Start a long-running tsproxy; it is killed when the test ends. */
export function startCli(args: readonly string[], options: { cwd?: string } = {}): RunningCli {
  const child = spawn(process.execPath, [...TSX, CLI, ...args], { cwd: options.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Wait for the exit too: a process still dying can create a file in a temp dir the next
  // cleanup removes (rmdir then fails with ENOTEMPTY).
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  });
  return { child, output: () => out, exited };
}

/** A temporary directory (readable by other users, for `user nobody` tests), removed after the test. */
export function tempDir(prefix = 'tsproxy-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  // Retries: a process the test started may still be writing a log file into it as it dies.
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return dir;
}

/**
 * A port that was free a moment ago. Only for configs that must name a fixed port across a
 * restart of the process; everything else listens on 127.0.0.1:0 (this can race, rarely).
 */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once `port` on 127.0.0.1 accepts; throws when `child` exits first or after 15 s (`name` in the message). */
export async function waitForPort(port: number, child: ChildProcess, output: () => string, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => resolve(false));
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ERROR_LINE = /^(\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) \[([a-z]+)\] (\d+)#0: (?:\*(\d+) )?(.*)$/;
const FIELD_SPLIT = /, (?=[A-Za-z_]+: )/;

/**
 * One error-log line in nginx's text layout as a record: time, level, pid, connection, msg and
 * each `, key: value` context field (quoted values unquoted). null for any other line.
 */
export function parseErrorLine(line: string): Record<string, string> | null {
  const m = ERROR_LINE.exec(line);
  if (m === null) return null;
  const [msg, ...fields] = m[5]!.split(FIELD_SPLIT);
  const rec: Record<string, string> = { time: m[1]!, level: m[2]!, pid: m[3]!, msg: msg! };
  if (m[4] !== undefined) rec.connection = m[4];
  for (const f of fields) {
    const colon = f.indexOf(': ');
    const value = f.slice(colon + 2);
    rec[f.slice(0, colon)] = value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1).replace(/\\(["\\])/g, '$1') : value;
  }
  return rec;
}

/** The error-log records (nginx's text layout) a running tsproxy wrote to stderr/stdout so far. */
export function logRecords(run: RunningCli): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const line of run.output().split('\n')) {
    const rec = parseErrorLine(line);
    if (rec !== null) out.push(rec);
  }
  return out;
}
