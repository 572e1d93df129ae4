/**
 * Wires a StreamSite to real listeners on 127.0.0.1:0 the way the runtime does (a net.Server per
 * listen key handing accepted sockets to site.handler(key)), with StreamConfig objects built
 * directly, so the tcp layer can be tested on its own.
 */
import net from 'node:net';
import { onTestFinished } from 'vitest';
import { pino } from 'pino';
import { sslSettings } from '../helpers/settings.js';
import type {
  ListenConfig,
  ServerName,
  StreamConfig,
  StreamHandler,
  StreamServerConfig,
  UpstreamConfig,
} from '../../src/config/types.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { StreamSite } from '../../src/tcp/stream-site.js';

export const loc = { file: 'test.conf', line: 1, column: 1 };

export function listen(key: string, extra: Partial<ListenConfig> = {}): ListenConfig {
  return {
    address: { kind: 'tcp', host: '127.0.0.1', port: 0 },
    key,
    defaultServer: false,
    reuseport: false,
    backlog: null,
    proxyProtocol: false,
    ssl: false,
    http2: false,
    loc,
    ...extra,
  };
}

export function names(...list: string[]): ServerName[] {
  return list.map((n): ServerName => {
    if (n.startsWith('~')) return { kind: 'regex', source: n.slice(1), loc };
    if (n.startsWith('*.')) return { kind: 'leadingWildcard', suffix: n.slice(1), loc };
    if (n.endsWith('.*')) return { kind: 'trailingWildcard', prefix: n.slice(0, -1), loc };
    return { kind: 'exact', name: n, loc };
  });
}

export function proxyTo(upstream: string): StreamHandler {
  return { kind: 'proxy', target: { scheme: 'tcp', upstream, uri: null, dynamic: false, raw: upstream, loc } };
}

export function server(over: Partial<StreamServerConfig> & Pick<StreamServerConfig, 'listens' | 'handler'>): StreamServerConfig {
  return {
    serverNames: [],
    proxyConnectTimeoutMs: 2000,
    proxyTimeoutMs: 600_000,
    proxyHalfClose: false,
    proxyNextUpstream: true,
    proxyNextUpstreamTries: 0,
    proxyNextUpstreamTimeoutMs: 0,
    proxyProtocolVersion: 0,
    tcpNodelay: true,
    soKeepalive: false,
    sslPreread: false,
    prereadTimeoutMs: 30_000,
    accessLogs: [],
    accessRules: [],
    ssl: sslSettings(),
    setRealIpFrom: [],
    loc,
    ...over,
  };
}

export function upstream(name: string, ...addresses: string[]): UpstreamConfig {
  return {
    name,
    method: { kind: 'round_robin' },
    servers: addresses.map((address) => {
      const i = address.lastIndexOf(':');
      return {
        address,
        target: { kind: 'tcp', host: address.slice(0, i), port: Number(address.slice(i + 1)) },
        weight: 1,
        maxFails: 1,
        failTimeoutMs: 10_000,
        maxConns: 0,
        backup: false,
        down: false,
        loc,
      };
    }),
    check: null,
    keepalive: 0,
    keepaliveTimeoutMs: 60_000,
    keepaliveRequests: 1000,
    keepaliveTimeMs: 3_600_000,
    implicit: false,
    loc,
  };
}

export interface StartedStream {
  readonly site: StreamSite;
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  /** Access log lines written so far, per path. */
  readonly logs: Map<string, string[]>;
  port(key: string): number;
}

export async function startStream(stream: StreamConfig): Promise<StartedStream> {
  const registry = new PeerRegistry();
  const groups = new Map<string, UpstreamGroup>();
  for (const u of stream.upstreams) groups.set(u.name, await UpstreamGroup.create(u, registry));
  const logs = new Map<string, string[]>();
  const site = new StreamSite(stream, {
    groups,
    logger: pino({ level: 'silent' }),
    openAccessLog: (path) => ({
      write: (line) => {
        const list = logs.get(path) ?? [];
        list.push(line);
        logs.set(path, list);
      },
    }),
  });
  const ports = new Map<string, number>();
  const keys = new Set(stream.servers.flatMap((s) => s.listens.map((l) => l.key)));
  for (const key of keys) {
    // As the runtime's listener: no allowHalfOpen, so the site must handle half-close itself.
    const srv = net.createServer({ noDelay: true });
    const sockets = new Set<net.Socket>();
    const handle = site.handler(key);
    srv.on('connection', (s) => {
      s.on('error', () => {});
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      handle(s);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    ports.set(key, (srv.address() as net.AddressInfo).port);
    onTestFinished(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    });
  }
  onTestFinished(() => {
    site.close();
    site.destroySessions();
  });
  return {
    site,
    groups,
    logs,
    port: (key) => {
      const p = ports.get(key);
      if (p === undefined) throw new Error(`no listener for ${key}`);
      return p;
    },
  };
}

export function streamConfig(upstreams: UpstreamConfig[], servers: StreamServerConfig[]): StreamConfig {
  return { upstreams, servers, logFormats: [], maps: [] };
}

/** A net server on 127.0.0.1:0 closed when the test ends. */
export async function tcpServer(onConnection: (s: net.Socket) => void, options: net.ServerOpts = {}): Promise<{ server: net.Server; port: number; address: string }> {
  const srv = net.createServer(options, (s) => {
    s.on('error', () => {});
    onConnection(s);
  });
  const sockets = new Set<net.Socket>();
  srv.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => srv.close(r));
  });
  const port = (srv.address() as net.AddressInfo).port;
  return { server: srv, port, address: `127.0.0.1:${port}` };
}

/** A port nothing listens on (bound then released). */
export async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Connect to 127.0.0.1:port and collect everything received until the peer ends. */
export function connect(port: number): { socket: net.Socket; received: () => Buffer; ended: Promise<void>; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const ended = new Promise<void>((r) => socket.once('end', () => r()));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  onTestFinished(() => void socket.destroy());
  return { socket, received: () => Buffer.concat(chunks), ended, closed };
}

/** The bytes a real node:tls client sends first (its ClientHello), captured on a plain TCP server. */
export async function captureClientHello(options: import('node:tls').ConnectionOptions): Promise<Buffer> {
  const tls = await import('node:tls');
  const { parseClientHello } = await import('../../src/wire/tls-client-hello.js');
  let resolveHello!: (b: Buffer) => void;
  const got = new Promise<Buffer>((r) => (resolveHello = r));
  const srv = await tcpServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (parseClientHello(buf).kind !== 'incomplete') {
        s.destroy();
        resolveHello(buf);
      }
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port: srv.port, rejectUnauthorized: false, ...options });
  client.on('error', () => {});
  onTestFinished(() => void client.destroy());
  return got;
}
