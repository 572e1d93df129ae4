/**
 * `proxy_ssl on` in stream servers: the connected upstream socket is wrapped in TLS with the
 * server's proxy_ssl_* settings (contexts, names and connect options are src/tls/upstream.ts,
 * shared with http's `proxy_pass https://`). The handshake is bounded by proxy_connect_timeout,
 * as nginx bounds connect + handshake; a failure is a failed try of that peer (502).
 */
import type net from 'node:net';
import tls from 'node:tls';
import { connectOptions, tlsTarget, type TlsTarget } from '../tls/upstream.js';
import type { StreamUpstreamTls } from './stream-compile.js';
import type { SessionInfo } from './stream-vars.js';

/** Most TLS sessions kept for proxy_ssl_session_reuse (per stream site); the oldest goes first. */
const MAX_SESSIONS = 1024;

export class UpstreamTlsSessions {
  readonly #sessions = new Map<string, Buffer>();

  get(key: string): Buffer | undefined {
    return this.#sessions.get(key);
  }

  set(key: string, session: Buffer): void {
    this.#sessions.delete(key);
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(key, session);
  }
}

/** The session's TLS target: fixed at build time, else from proxy_ssl_name or the proxy_pass value. */
export function sessionTlsTarget(u: StreamUpstreamTls, s: SessionInfo, upstream: string): TlsTarget {
  return u.target ?? tlsTarget(u.ctx, u.name !== null ? u.name(s) : upstream);
}

/**
 * Handshake over `raw` (connected). Resolves with the TLS socket once it is secure, or with the
 * reason it is not, in nginx's words ("upstream SSL handshake failed (...)", "upstream timed out
 * while SSL handshaking"); `raw` is destroyed then.
 */
export function secureUpstream(raw: net.Socket, t: TlsTarget, peerKey: string, sessions: UpstreamTlsSessions, timeoutMs: number): Promise<tls.TLSSocket | string> {
  const reuse = t.ctx.sessionReuse;
  const key = `${peerKey} ${t.poolKey}`;
  return new Promise((resolve) => {
    const socket = tls.connect({ ...connectOptions(t, reuse ? sessions.get(key) : undefined), socket: raw });
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      raw.destroy();
      resolve(reason);
    };
    const timer = timeoutMs > 0 ? setTimeout(fail, timeoutMs, 'upstream timed out while SSL handshaking') : undefined;
    // Stays for the socket's life: errors after the handshake are the Tunnel's to handle.
    socket.on('error', (err) => fail(`upstream SSL handshake failed (${err.message})`));
    if (reuse) socket.on('session', (session: Buffer) => sessions.set(key, session));
    socket.once('secureConnect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    });
  });
}
