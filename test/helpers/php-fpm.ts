/**
 * A real PHP-FPM (Debian's php-fpm package) for FastCGI tests: a pool config written into a temp
 * dir (listen on 127.0.0.1 at a free port, pid and error log in the dir, `pm = static`), started
 * in the foreground, waited for until its port accepts, stopped after. Root needs `-R`.
 *
 * `PHP_FPM` is the binary (a glob of /usr/sbin/php-fpm*), null when none is installed: tests then
 * skip with `describe.skipIf(NO_PHP_FPM)`, except in CI (`CI` set), where .ci/run installs it and
 * a missing binary must fail (`requirePhpFpm` in a test makes it fail there).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './cli.js';

function findPhpFpm(): string | null {
  let names: string[];
  try {
    names = fs.readdirSync('/usr/sbin').filter((n) => /^php-fpm[\d.]*$/.test(n)).sort();
  } catch {
    return null;
  }
  const name = names.at(-1);
  return name === undefined ? null : path.join('/usr/sbin', name);
}

export const PHP_FPM: string | null = findPhpFpm();
/** Skip FastCGI tests only where php-fpm is missing outside CI. */
export const NO_PHP_FPM: boolean = PHP_FPM === null && process.env.CI === undefined;
/** Appended to a describe's name: why it is skipped, when it is. */
export const PHP_FPM_SKIP_NOTE: string = NO_PHP_FPM ? ' (skipped: no /usr/sbin/php-fpm*; apt-get install php-fpm)' : '';

export interface PhpFpm {
  readonly port: number;
  /** The document root: put scripts here with `script()`. */
  readonly root: string;
  /** php-fpm's own log (workers' output, slow scripts). */
  readonly errorLog: string;
  script(name: string, code: string): string;
  stop(): Promise<void>;
}

export interface PhpFpmOptions {
  readonly root: string;
  /** pm.max_children (static). */
  readonly children?: number;
}

/** Start php-fpm serving scripts from `root`; the caller stops it (onTestFinished / afterAll). */
export async function startPhpFpm(options: PhpFpmOptions): Promise<PhpFpm> {
  if (PHP_FPM === null) throw new Error('php-fpm is not installed (apt-get install php-fpm)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsproxy-fpm-'));
  const port = await freePort();
  const errorLog = path.join(dir, 'fpm.log');
  const conf = path.join(dir, 'php-fpm.conf');
  fs.writeFileSync(conf, [
    '[global]',
    `pid = ${path.join(dir, 'fpm.pid')}`,
    `error_log = ${errorLog}`,
    'daemonize = no',
    '[www]',
    `listen = 127.0.0.1:${port}`,
    'pm = static',
    `pm.max_children = ${options.children ?? 2}`,
    'clear_env = no',
    'catch_workers_output = yes',
    '',
  ].join('\n'));
  const args = ['-F', '-y', conf];
  if (process.getuid?.() === 0) args.push('-R');
  const child = spawn(PHP_FPM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = (): Promise<void> => stopChild(child).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  try {
    await waitForPort(port, child, () => output, 'php-fpm');
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    root: options.root,
    errorLog,
    script(name, code) {
      const file = path.join(options.root, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, code);
      return file;
    },
    stop,
  };
}


function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    // SIGQUIT: php-fpm's graceful stop; SIGTERM: at once.
    child.kill('SIGTERM');
  });
}
