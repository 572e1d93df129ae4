/**
 * Reading ahead on an accepted socket without losing bytes: a PROXY header, a TLS ClientHello or
 * an HTTP head is judged from what has arrived before anything else happens to the connection
 * (TLS accept, stream sessions choosing a server, nginx's preread phase). Lives below tcp/ and
 * next to the TLS accept path, which both use it.
 */
import type net from 'node:net';
import { decodeProxyHeader, type ProxyDecodeResult } from '../wire/proxy-protocol.js';

export type PrereadOutcome<T> =
  | { readonly kind: 'done'; readonly value: T; readonly buffer: Buffer }
  /** preread_timeout passed first. */
  | { readonly kind: 'timeout'; readonly buffer: Buffer }
  /** The client closed (or half-closed) before the parser was satisfied. */
  | { readonly kind: 'closed'; readonly buffer: Buffer };

/**
 * Read from `socket` until `parse` returns a value (undefined means "need more"), then pause the
 * socket: the bytes read stay in `buffer` for the caller (written to the upstream before a stream
 * pipe starts, put back for a TLS handshake or the HTTP engine).
 */
export function preread<T>(
  socket: net.Socket,
  initial: Buffer,
  timeoutMs: number,
  parse: (buf: Buffer) => T | undefined,
): Promise<PrereadOutcome<T>> {
  const first = parse(initial);
  if (first !== undefined) return Promise.resolve({ kind: 'done', value: first, buffer: initial });
  return new Promise((resolve) => {
    let buffer = initial;
    const finish = (outcome: PrereadOutcome<T>): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      const value = parse(buffer);
      if (value !== undefined) finish({ kind: 'done', value, buffer });
    };
    const onGone = (): void => finish({ kind: 'closed', buffer });
    const timer = setTimeout(() => finish({ kind: 'timeout', buffer }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.resume();
  });
}

/** The PROXY protocol header at the start of a connection (`listen ... proxy_protocol`), decoded or refused. */
export function prereadProxyHeader(socket: net.Socket, initial: Buffer, timeoutMs: number): Promise<PrereadOutcome<Exclude<ProxyDecodeResult, { kind: 'incomplete' }>>> {
  return preread(socket, initial, timeoutMs, wholeProxyHeader);
}

function wholeProxyHeader(b: Buffer): Exclude<ProxyDecodeResult, { kind: 'incomplete' }> | undefined {
  const d = decodeProxyHeader(b);
  return d.kind === 'incomplete' ? undefined : d;
}
