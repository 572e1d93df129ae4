/**
 * Shared pieces of the upstream integration tests: a proxy whose log lines are captured, a
 * keep-alive client, the check_status JSON, and backends that can be killed and revived on the
 * same port.
 */
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { onTestFinished } from 'vitest';
import { Runtime } from '../../src/runtime/runtime.js';
import { createLogger } from '../../src/log.js';
import type { StatusDocument } from '../../src/core/status/document.js';
import type { HttpBackend } from '../helpers/backend.js';
import { configFrom } from '../helpers/proxy.js';

export interface LogLine {
  /** nginx's level name ("error", "notice", ...). */
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface LoggedProxy {
  runtime: Runtime;
  /** Port of the first listener (or of `listen` given to startLoggedProxy). */
  port: number;
  url(path?: string): string;
  /** Every log line written so far (parsed pino JSON). */
  readonly logs: LogLine[];
}

/** Start the runtime with a logger that writes JSON lines into `logs` (one listener expected). */
export async function startLoggedProxy(text: string, listen?: string): Promise<LoggedProxy> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const logger = createLogger({ level: 'info', stream: sink });
  const runtime = await Runtime.start(configFrom(text), { logger });
  onTestFinished(() => runtime.stop({ graceful: false }));
  const port = runtime.port(listen ?? [...runtime.addresses().keys()][0]!);
  return { runtime, port, url: (path = '/') => `http://127.0.0.1:${port}${path}`, logs };
}

export interface Reply {
  status: number;
  backend: string | undefined;
  body: string;
}

/** A keep-alive agent with a few sockets, destroyed when the test ends. */
export function keepAliveAgent(maxSockets = 4): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  onTestFinished(() => agent.destroy());
  return agent;
}

/** One request; a transport error resolves as status 0 so loops can count failures. */
export function send(url: string, opts: http.RequestOptions & { body?: string } = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, backend: res.headers['x-backend'] as string | undefined, body }));
      res.on('error', () => resolve({ status: 0, backend: undefined, body }));
    });
    req.on('error', (err) => resolve({ status: 0, backend: undefined, body: String(err) }));
    req.end(opts.body);
  });
}

/** Run `total` requests with `concurrency` workers; `between(i)` runs before request i. */
export async function loadLoop(
  total: number,
  concurrency: number,
  one: (i: number) => Promise<Reply>,
  between: (i: number) => Promise<void> | void = () => {},
): Promise<Reply[]> {
  const replies: Reply[] = new Array<Reply>(total);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      await between(i);
      replies[i] = await one(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replies;
}

export function countBy(replies: readonly Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) {
    const k = r.status === 200 ? (r.backend ?? '?') : `status ${r.status}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

export async function statusJson(url: string): Promise<StatusDocument> {
  const res = await send(url, { agent: false });
  return JSON.parse(res.body) as StatusDocument;
}

/** The state of one peer ("127.0.0.1:port") of one upstream in a status document. */
export function peerStateIn(doc: StatusDocument, upstream: string, port: number): string | undefined {
  return doc.upstreams.find((u) => u.name === upstream)?.peers.find((p) => p.key === `127.0.0.1:${port}`)?.state;
}

/** Kill a node:http backend the hard way (listener closed, every connection dropped). */
export function killBackend(b: HttpBackend): Promise<void> {
  return new Promise((resolve) => {
    b.server.close(() => resolve());
    b.server.closeAllConnections();
  });
}

/** Listen again on the same port after killBackend. */
export function reviveBackend(b: HttpBackend): Promise<void> {
  return new Promise((resolve, reject) => {
    b.server.once('error', reject);
    b.server.listen(b.port, '127.0.0.1', () => {
      b.server.off('error', reject);
      resolve();
    });
  });
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
