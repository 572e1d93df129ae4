/**
 * Server-side TLS session caches (`ssl_session_cache`). Node resumes a session it is handed: a
 * tls.Server's 'newSession' gives each new session (id, serialized) and 'resumeSession' asks for
 * one by id. Those are wired to a SessionStore by context.ts:
 * - `builtin[:n]`: a store of the handshake server's own (this process, this config; nginx's
 *   builtin cache is OpenSSL's, per worker and per context, so it too starts empty on reload);
 * - `shared:name:size`: the zone `name` of the runtime's SessionZones, which outlives reloads and,
 *   with worker processes, lives in the primary (runtime/tls-session-ipc.ts), so a session made
 *   in one worker resumes in another.
 * Entries expire after ssl_session_timeout; a store holds at most its size in bytes of ids and
 * sessions (the oldest go first), a builtin one at most its number of sessions.
 */

/** Where sessions are kept; get answers through a callback (a store may be in another process). */
export interface SessionStore {
  set(id: Buffer, session: Buffer, timeoutMs: number): void;
  get(id: Buffer, answer: (session: Buffer | null) => void): void;
}

/** The shared zones of the process (or of the primary, for a worker): one store per name. */
export interface SessionZones {
  zone(name: string, sizeBytes: number): SessionStore;
  /**
   * Random bytes made once per start (with workers: by the primary, sent to each worker): default
   * ticket keys are derived from it, so a ticket one worker issued resumes on another.
   */
  readonly ticketSecret: Buffer;
}

/** Bytes an entry costs beyond its id and session (the map entry and its bookkeeping). */
const ENTRY_OVERHEAD_BYTES = 64;

interface Entry {
  readonly session: Buffer;
  readonly expiresAt: number;
  readonly bytes: number;
}

/** A bounded, expiring map of sessions in this process (Map order = insertion order = age). */
export class MemorySessionStore implements SessionStore {
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;
  #maxBytes: number;
  #maxEntries: number;

  constructor(limits: { maxBytes?: number; maxEntries?: number }) {
    this.#maxBytes = limits.maxBytes ?? Infinity;
    this.#maxEntries = limits.maxEntries ?? Infinity;
  }

  /** A reload may give a zone another size: the store keeps its sessions and its new bound. */
  resize(maxBytes: number): void {
    // Called for every handshake message a worker sends: nothing to do when the size is the same.
    if (maxBytes === this.#maxBytes) return;
    this.#maxBytes = maxBytes;
    this.#evict();
  }

  set(id: Buffer, session: Buffer, timeoutMs: number): void {
    const key = id.toString('hex');
    this.#delete(key);
    const bytes = id.length + session.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.#maxBytes || this.#maxEntries === 0) return;
    this.#entries.set(key, { session, expiresAt: Date.now() + timeoutMs, bytes });
    this.#bytes += bytes;
    this.#evict();
  }

  get(id: Buffer, answer: (session: Buffer | null) => void): void {
    answer(this.lookup(id));
  }

  lookup(id: Buffer): Buffer | null {
    const key = id.toString('hex');
    const e = this.#entries.get(key);
    if (e === undefined) return null;
    if (e.expiresAt <= Date.now()) {
      this.#delete(key);
      return null;
    }
    return e.session;
  }

  get size(): number {
    return this.#entries.size;
  }

  #delete(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }

  /** Drop expired and then the oldest entries until within bounds. */
  #evict(): void {
    const now = Date.now();
    for (const [key, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes && this.#entries.size <= this.#maxEntries && e.expiresAt > now) break;
      this.#delete(key);
    }
  }
}

/** Zones kept in this process: a single-process tsproxy, and the primary for its workers. */
export class LocalSessionZones implements SessionZones {
  readonly #zones = new Map<string, MemorySessionStore>();
  readonly ticketSecret: Buffer;

  constructor(ticketSecret: Buffer) {
    this.ticketSecret = ticketSecret;
  }

  zone(name: string, sizeBytes: number): MemorySessionStore {
    let z = this.#zones.get(name);
    if (z === undefined) this.#zones.set(name, (z = new MemorySessionStore({ maxBytes: sizeBytes })));
    else z.resize(sizeBytes);
    return z;
  }
}
