/**
 * Real backends for HTTP integration tests, on 127.0.0.1 port 0, closed when the test ends.
 */
import http from 'node:http';
import net from 'node:net';
import { onTestFinished } from 'vitest';

export interface HttpBackend {
  readonly port: number;
  readonly server: http.Server;
  /** Sockets ever accepted (keep-alive reuse shows as requests > sockets). */
  sockets: number;
  requests: number;
  /** Heads of the requests seen, in order. */
  readonly seen: { method: string; url: string; headers: http.IncomingHttpHeaders; rawHeaders: string[] }[];
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, backend: HttpBackend) => void;

/**
 * A node:http backend answering `name` in an x-backend header (and as the body by default), on
 * 127.0.0.1 port 0 unless `at` says where (e.g. ::1 on the port of another backend).
 */
export async function startHttpBackend(name: string, handler?: Handler, at = { host: '127.0.0.1', port: 0 }): Promise<HttpBackend> {
  const server = http.createServer({ keepAliveTimeout: 30_000 });
  const backend: HttpBackend = {
    port: 0,
    server,
    sockets: 0,
    requests: 0,
    seen: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => backend.sockets++);
  server.on('request', (req, res) => {
    backend.requests++;
    backend.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    res.setHeader('x-backend', name);
    if (handler !== undefined) return handler(req, res, backend);
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  (backend as { port: number }).port = (server.address() as net.AddressInfo).port;
  onTestFinished(() => backend.close());
  return backend;
}

export interface RawBackend {
  readonly port: number;
  /** Bytes received on each accepted connection, in accept order. */
  readonly received: string[];
  readonly server: net.Server;
}

/** A raw `net` backend: `onData` decides what to write back (per connection). */
export async function startRawBackend(onData: (socket: net.Socket, all: string, index: number) => void): Promise<RawBackend> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const index = received.length;
    received.push('');
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d) => {
      received[index] += d.toString('latin1');
      onData(socket, received[index]!, index);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, received, server };
}

/** Count complete request heads in raw bytes (a smuggled request shows as a second one). */
export function countRequests(raw: string): number {
  return (raw.match(/(^|\r\n)[A-Z]+ \S+ HTTP\/1\.[01]\r\n/g) ?? []).length;
}

/**
 * Write `data` on a fresh connection to 127.0.0.1:port and collect what comes back until the
 * server closes, or until nothing arrived for `idleMs` (then we close). `later` is written
 * `afterMs` after the connect (a request body sent after its head).
 */
export function rawExchange(port: number, data: string | Buffer, idleMs = 400, later?: { data: string; afterMs: number }): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let out = '';
    let timer: NodeJS.Timeout | null = null;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    };
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(data);
      if (later !== undefined) setTimeout(() => socket.write(later.data), later.afterMs);
      arm();
    });
    socket.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    socket.on('close', () => {
      if (timer) clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Status codes of every response in a raw byte stream (responses to pipelined requests). */
export function statuses(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}

/** One request with node:http and a fresh agent-less socket; resolves status, headers and body. */
export function request(
  url: string,
  opts: http.RequestOptions & { body?: string | Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A backend for cache tests: each URL is answered (after `?delay=` ms) with a body of `bodyBytes`
 * naming how often the URL was asked, `x-count` saying it too, `x-got-range` the Range it got (it
 * ignores Range) and `Accept-Ranges: bytes`.
 */
/**
 * A backend that counts the requests per URL and answers `body N`. `?delay=MS` answers late;
 * `?hold=N` keeps the URL's N-th request unanswered until the test calls `release(url)` (a window
 * that does not depend on the machine's speed).
 */
export async function startCountingBackend(
  bodyBytes = 108,
): Promise<{ backend: HttpBackend; counts: Map<string, number>; release(url: string): void }> {
  const counts = new Map<string, number>();
  const held = new Map<string, Array<() => void>>();
  const backend = await startHttpBackend('b', (req, res) => {
    req.resume();
    const url = req.url ?? '/';
    const n = (counts.get(url) ?? 0) + 1;
    counts.set(url, n);
    const params = new URL(url, 'http://x').searchParams;
    const delay = Number(params.get('delay') ?? 0);
    const body = `body ${n} `.padEnd(bodyBytes - 1, 'x') + '\n';
    const answer = () => {
      res.writeHead(200, { 'x-count': String(n), 'x-got-range': req.headers.range ?? '-', 'accept-ranges': 'bytes', 'content-length': String(body.length) });
      res.end(body);
    };
    if (Number(params.get('hold')) === n) held.set(url, [...(held.get(url) ?? []), answer]);
    else setTimeout(answer, delay);
  });
  const release = (url: string) => {
    for (const answer of held.get(url) ?? []) answer();
    held.delete(url);
  };
  return { backend, counts, release };
}
