/**
 * The socket of a `listen ... udp` (stream): one datagram socket per listen key, kept across
 * reloads like a TCP listener (listeners.ts diffs the keys). Each datagram goes to the dispatch
 * with the socket itself, through which the session's replies go back to the client.
 *
 * Worker processes: without `reuseport` every worker reads the one socket the primary bound
 * (Node cluster's shared handle for dgram, as nginx workers share one UDP socket), so datagrams of
 * one client may reach different workers, each with a session of its own. With `reuseport` (Node
 * >= 22.12) each worker binds its own socket and the kernel keeps a client on one worker.
 */
import cluster from 'node:cluster';
import dgram from 'node:dgram';
import { TsproxyError, systemErrorText } from '../errors.js';
import type { ListenConfig } from '../config/types.js';
import { addressKey } from '../config/units.js';
import type { DatagramDispatch, Listener } from './listeners.js';
import { REUSE_PORT } from './listeners.js';

export function openDatagramListener(listen: ListenConfig, dispatch: DatagramDispatch): Promise<Listener> {
  const a = listen.address;
  if (a.kind === 'unix') throw new TsproxyError('TSP_ERR_INTERNAL', `udp listen on ${listen.key}`);
  const host = a.host === '*' ? undefined : a.host;
  const ipv6 = a.host.includes(':');
  const ownSocket = listen.reuseport && REUSE_PORT && cluster.isWorker && a.port !== 0;
  const o = listen.socket;
  const socket = dgram.createSocket({
    type: ipv6 ? 'udp6' : 'udp4',
    ...(ipv6 ? { ipv6Only: o?.ipv6only ?? (a.host !== '::') } : {}),
    ...(o?.rcvbufBytes != null ? { recvBufferSize: o.rcvbufBytes } : {}),
    ...(o?.sndbufBytes != null ? { sendBufferSize: o.sndbufBytes } : {}),
    ...(ownSocket ? { reusePort: true } : {}),
  });
  const key = listen.key;
  socket.on('message', (msg, rinfo) => dispatch(msg, rinfo, socket, key));
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      socket.close();
      reject(new TsproxyError('TSP_ERR_LISTEN', `bind() to ${addressKey(a)} failed (${systemErrorText(err)})`, { cause: err }));
    };
    socket.once('error', onError);
    socket.bind({ port: a.port, ...(host !== undefined ? { address: host } : {}), exclusive: ownSocket }, () => {
      socket.off('error', onError);
      socket.on('error', (err) => {
        // A bound datagram socket errors only on what the system refuses a send or receive; keep serving.
        process.stderr.write(`tsproxy: [alert] udp on ${addressKey(a)}: ${err.message}\n`);
      });
      resolve({ key, server: null, udp: socket, sockets: new Set() });
    });
  });
}

export function closeDatagramListener(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** The address it bound; null once closed. */
export function datagramAddress(socket: dgram.Socket): { address: string; family: string; port: number } | null {
  try {
    return socket.address();
  } catch {
    return null;
  }
}
