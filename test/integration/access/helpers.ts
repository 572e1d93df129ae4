/**
 * Shared pieces of the access-phase tests: tsproxy in-process with its error log written in
 * nginx's text layout to a file (the lines compared with nginx's own, time and pid aside), and a
 * small request helper.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { Runtime } from '../../../src/runtime/runtime.js';
import { tempDir } from '../../helpers/cli.js';
import { configFrom } from '../../helpers/proxy.js';

export interface AccessProxy {
  readonly runtime: Runtime;
  readonly port: number;
  readonly dir: string;
  /** Error-log lines so far as `[level] message, client: ...` (time, pid and *connection removed). */
  lines(): string[];
}

/** Start tsproxy on `text` (`DIR` in it is replaced by a temp directory the test may fill first). */
export async function startAccessProxy(text: string, fill?: (dir: string) => void): Promise<AccessProxy> {
  const dir = tempDir('tsproxy-access-');
  fill?.(dir);
  const log = path.join(dir, 'error.log');
  const logger = createLogger([{ target: log, level: 'info' }]);
  const runtime = await Runtime.start(configFrom(text.replaceAll('DIR', dir)), { logger });
  onTestFinished(() => runtime.stop({ graceful: false }));
  const port = runtime.port([...runtime.addresses().keys()][0]!);
  return {
    runtime,
    port,
    dir,
    lines: () => {
      let t = '';
      try {
        t = fs.readFileSync(log, 'utf8');
      } catch {
        return [];
      }
      return t.split('\n').filter((l) => l !== '').map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#0: (\*\d+ )?/, '$1 '));
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function request(port: number, urlPath: string, opts: { method?: string; headers?: Record<string, string>; body?: string; auth?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'example', ...opts.headers };
    if (opts.auth !== undefined) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: opts.method ?? 'GET', headers, agent: opts.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
