/**
 * Listening sockets keyed by ListenConfig.key. A reload diffs the keys (nginx `ls.remain`):
 * unchanged keys keep their socket so no connection is refused during a reload, new keys are
 * bound before the swap (a bind failure fails the reload), removed keys close after the swap.
 */
import cluster from 'node:cluster';
import type dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import { TsproxyError, systemErrorText } from '../errors.js';
import type { ListenConfig } from '../config/types.js';
import { connectionStats } from '../core/connection-stats.js';
import { ListenStats } from '../core/status/server-stats.js';
import { closeDatagramListener, datagramAddress, openDatagramListener } from './udp-listener.js';

/** `reusePort` came in Node 22.12 / 23.1; older versions ignore the option. */
function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
export const REUSE_PORT = nodeHasReusePort();

export type ConnectionDispatch = (socket: net.Socket, key: string) => void;
/** A datagram of a `udp` listen: `via` is the listening socket (replies go out through it). */
export type DatagramDispatch = (msg: Buffer, rinfo: dgram.RemoteInfo, via: dgram.Socket, key: string) => void;

export interface Listener {
  readonly key: string;
  /** The TCP server; null for a `udp` listen. */
  readonly server: net.Server | null;
  /** The datagram socket of a `udp` listen (udp-listener.ts), else null. */
  readonly udp: dgram.Socket | null;
  /** Sockets accepted by this listener and still open (for drain and fast stop). */
  readonly sockets: Set<net.Socket>;
}

function socketOnError(): void {
  // Handlers attach their own error listeners; this one only guarantees an early reset
  // (before the handler runs) can never crash the process.
}

/** `stats`: the status counters of the address (kept across reloads by the runtime's StatusRegistry). */
export function openListener(listen: ListenConfig, dispatch: ConnectionDispatch, datagrams: DatagramDispatch, stats: ListenStats = new ListenStats()): Promise<Listener> {
  if (listen.udp === true) return openDatagramListener(listen, datagrams);
  const sockets = new Set<net.Socket>();
  // so_keepalive= is applied by the server to every accepted socket (TCP_KEEPIDLE from keepidle;
  // Node sets no keepintvl / keepcnt of its own choosing: README).
  const keepalive = listen.socket?.keepalive ?? null;
  const server = net.createServer(keepalive?.enabled === true
    ? { noDelay: true, keepAlive: true, keepAliveInitialDelay: keepalive.idleMs ?? 0 }
    : { noDelay: true });
  const listener: Listener = { key: listen.key, server, udp: null, sockets };
  // One listener per listening socket, not a once() wrapper and closure per connection (~250
  // bytes each, kept as long as the connection: idle WebSockets live for hours).
  function socketOnClose(this: net.Socket): void {
    sockets.delete(this);
    connectionStats.active--;
    stats.active--;
  }
  server.on('connection', (socket) => {
    socket.on('error', socketOnError);
    sockets.add(socket);
    // stub_status: every accepted connection, http and stream (nginx's ngx_stat_accepted / active).
    connectionStats.accepted++;
    connectionStats.active++;
    stats.accepted++;
    stats.active++;
    socket.on('close', socketOnClose);
    dispatch(socket, listen.key);
  });
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new TsproxyError('TSP_ERR_LISTEN', `bind() to ${listen.key} failed (${systemErrorText(err)})`, { cause: err }));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      server.on('error', (err) => {
        // A listening server only errors on accept problems (EMFILE); keep serving.
        process.stderr.write(`tsproxy: [alert] accept on ${listen.key} failed: ${err.message}\n`);
      });
      resolve(listener);
    };
    const a = listen.address;
    if (a.kind === 'unix') {
      // A stale socket file from a crashed run would make bind fail with EADDRINUSE.
      try {
        if (fs.statSync(a.path).isSocket()) fs.unlinkSync(a.path);
      } catch {
        // absent: nothing to clean
      }
      server.listen({ path: a.path, backlog: listen.backlog ?? 511 }, done);
    } else {
      const host = a.host === '*' ? undefined : a.host;
      // ipv6only= applies to IPv6 addresses only (nginx); without it `[::]` also takes IPv4.
      const ipv6 = a.host.includes(':');
      const ipv6Only = ipv6 ? (listen.socket?.ipv6only ?? (a.host === '::' ? false : undefined)) : undefined;
      // reuseport with worker processes: each worker binds its own socket and the kernel spreads
      // connections over them (nginx). Without Node's reusePort, workers share the primary's socket.
      const ownSocket = listen.reuseport && REUSE_PORT && cluster.isWorker && a.port !== 0;
      server.listen({ host, port: a.port, backlog: listen.backlog ?? 511, ipv6Only, ...(ownSocket ? { reusePort: true, exclusive: true } : {}) }, done);
    }
  });
}

export function closeListener(listener: Listener): Promise<void> {
  if (listener.udp !== null) return closeDatagramListener(listener.udp);
  return new Promise((resolve) => listener.server!.close(() => resolve()));
}

/** The address a listener really bound (the ephemeral port for `listen 127.0.0.1:0`). */
export function boundAddress(listener: Listener): net.AddressInfo | string {
  if (listener.udp !== null) return datagramAddress(listener.udp) ?? listener.key;
  const addr = listener.server!.address();
  return addr ?? listener.key;
}
