/**
 * `ssl_session_cache shared:` with worker processes: the zones live in the primary (which serves
 * no traffic and outlives every worker and reload), workers store and look sessions up over the
 * cluster IPC channel. A store is fire-and-forget; a lookup is answered by request id (the
 * handshake waits for it: Node's 'resumeSession' takes a callback). The primary also makes the
 * ticket secret once and sends it with `start`, so every worker derives the same default ticket
 * keys and a ticket resumes on any worker.
 */
import type { LocalSessionZones, SessionStore, SessionZones } from '../tls/sessions.js';

/** What a worker asks the primary (part of WorkerMessage). */
export type SessionRequest =
  | { type: 'tlsSessionSet'; zone: string; sizeBytes: number; id: Uint8Array; session: Uint8Array; timeoutMs: number }
  | { type: 'tlsSessionGet'; reqId: number; zone: string; sizeBytes: number; id: Uint8Array };

/** The primary's answer to a lookup (part of PrimaryMessage). */
export interface SessionAnswer {
  type: 'tlsSession';
  reqId: number;
  session: Uint8Array | null;
}

/** Structured clone delivers Buffers as plain Uint8Arrays; Node's TLS wants Buffers. */
function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** A worker's view of the primary's zones. */
export class WorkerSessionZones implements SessionZones {
  readonly ticketSecret: Buffer;
  readonly #send: (msg: SessionRequest) => void;
  readonly #waiting = new Map<number, (session: Buffer | null) => void>();
  #nextId = 1;

  constructor(ticketSecret: Uint8Array, send: (msg: SessionRequest) => void) {
    this.ticketSecret = asBuffer(ticketSecret);
    this.#send = send;
  }

  zone(name: string, sizeBytes: number): SessionStore {
    return {
      set: (id, session, timeoutMs) => this.#send({ type: 'tlsSessionSet', zone: name, sizeBytes, id, session, timeoutMs }),
      get: (id, answer) => {
        const reqId = this.#nextId++;
        this.#waiting.set(reqId, answer);
        this.#send({ type: 'tlsSessionGet', reqId, zone: name, sizeBytes, id });
      },
    };
  }

  /** The primary answered a lookup. */
  answered(msg: SessionAnswer): void {
    const answer = this.#waiting.get(msg.reqId);
    if (answer === undefined) return;
    this.#waiting.delete(msg.reqId);
    answer(msg.session === null ? null : asBuffer(msg.session));
  }
}

/** The primary's side: apply a worker's request to its zones; a lookup's answer goes to `reply`. */
export function serveSessionRequest(zones: LocalSessionZones, msg: SessionRequest, reply: (answer: SessionAnswer) => void): void {
  const store = zones.zone(msg.zone, msg.sizeBytes);
  if (msg.type === 'tlsSessionSet') store.set(asBuffer(msg.id), asBuffer(msg.session), msg.timeoutMs);
  else reply({ type: 'tlsSession', reqId: msg.reqId, session: store.lookup(asBuffer(msg.id)) });
}
