/**
 * Real nginx (Debian's `nginx` package) with njs (`libnginx-mod-http-js`, `libnginx-mod-stream-js`), for tests that compare
 * tsproxy with nginx on the same config: started in the foreground under its own prefix
 * (`-p DIR -c FILE -g 'daemon off;'`), stopped by `stop()` (the caller decides when: one nginx may
 * serve a whole file of tests).
 *
 * `NO_NGINX_NJS` is true when nginx or the njs module is missing outside CI: tests skip with
 * `describe.skipIf(NO_NGINX_NJS)`; in CI (.ci/run installs both) a missing binary fails.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitForPort } from './cli.js';

function findBinary(name: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

export const NGINX: string | null = findBinary('nginx');
/** The module a config loads with `load_module` for the js_* directives. */
export const NJS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
/** The stream {} side (njs-examples' nginx.conf loads it with ngx_stream_module, its dependency). */
export const NJS_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_js_module.so';
export const NO_NGINX_NJS: boolean =
  (NGINX === null || !fs.existsSync(NJS_MODULE) || !fs.existsSync(NJS_STREAM_MODULE)) && process.env.CI === undefined;

export interface RunningNginx {
  /** The error log under the prefix (`logs/error.log`), as written so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/** Start nginx on `configFile` with prefix `dir` (which must hold `logs/`), once it listens on `port`. */
export async function startNginx(dir: string, configFile: string, port: number): Promise<RunningNginx> {
  if (NGINX === null) throw new Error('nginx is not installed (apt-get install nginx libnginx-mod-http-js libnginx-mod-stream-js)');
  if (!fs.existsSync(NJS_MODULE)) throw new Error(`${NJS_MODULE} is missing (apt-get install libnginx-mod-http-js)`);
  if (!fs.existsSync(NJS_STREAM_MODULE)) throw new Error(`${NJS_STREAM_MODULE} is missing (apt-get install libnginx-mod-stream-js)`);
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const child = spawn(NGINX, ['-p', `${dir}/`, '-c', configFile, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitForPort(port, child, () => output, 'nginx');
  return {
    errorLog: () => {
      try {
        return fs.readFileSync(path.join(dir, 'logs/error.log'), 'utf8');
      } catch {
        return '';
      }
    },
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
