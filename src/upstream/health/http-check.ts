/**
 * What `check_keepalive_requests N` needs for type=http checks: a reader that consumes a whole
 * response (head and body, so the next check on the same connection starts on a clean byte
 * stream; parsed as the proxy parses upstream responses) and the idle connections kept between
 * checks, one per peer.
 */
import type { Socket } from 'node:net';
import type { Peer } from '../peer.js';
import { ChunkedScanner } from '../../wire/chunked.js';
import { HEAD_READY, HeadAccumulator, type HeadLimits } from '../../wire/head-accumulator.js';
import { appendTokens } from '../../wire/headers.js';
import { parseResponseHead, readStatusLine, STATUS_LINE_INVALID, type StatusLine } from '../../wire/http1-response.js';

/** A check reply head longer than this is not worth reading. */
export const MAX_HEAD_BYTES = 16 * 1024;
const CHECK_HEAD_LIMITS: HeadLimits = { requestLineBytes: MAX_HEAD_BYTES, headerLineBytes: MAX_HEAD_BYTES, headBytes: MAX_HEAD_BYTES };

export type CheckResponseHead = StatusLine;

type BodyState =
  | { kind: 'none' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunked'; scanner: ChunkedScanner }
  // no length and not chunked: the body runs until the peer closes (RFC 9112 6.3 item 8)
  | { kind: 'until-close' };

const NO_BODY: BodyState = { kind: 'none' };
const UNTIL_CLOSE: BodyState = { kind: 'until-close' };

/** Whether a raw check request (check_http_send, our own config text) asks to close the connection after its response. */
export function requestClosesConnection(request: string): boolean {
  const lines = request.split('\n');
  const http10 = /HTTP\/1\.0\r?$/.test(lines[0] ?? '');
  const tokens: string[] = [];
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!;
    if (line === '' || line === '\r') break;
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'connection') appendTokens(tokens, line.slice(colon + 1));
  }
  return tokens.includes('close') || (http10 && !tokens.includes('keep-alive'));
}

/**
 * Incremental reader of one check response, with the engine's parsers (src/wire/). feed()
 * returns a failure reason only for a reply that cannot be judged (no HTTP/1.x status line, an
 * oversized head); a head or body the parsers refuse past a valid status line is judged by its
 * status, and makes the connection not reusable.
 */
export class CheckResponseReader {
  readonly #method: string;
  readonly #acc = new HeadAccumulator();
  #body: BodyState = NO_BODY;
  /** Set once the head (or at least its status line, when the rest is refused) is read. */
  head: CheckResponseHead | null = null;
  /** Once the head is parsed: whether another request may follow on this connection. */
  reusable = false;
  /** True once the whole response (head and body) was read. */
  complete = false;
  /** Bytes received after the end of the response (the peer said more than it was asked). */
  excess = 0;

  constructor(requestIsHead: boolean) {
    this.#method = requestIsHead ? 'HEAD' : 'GET';
  }

  feed(chunk: Buffer): string | null {
    if (this.complete) {
      this.excess += chunk.length;
      return null;
    }
    if (this.head !== null) {
      this.#scanBody(chunk);
      return null;
    }
    const rc = this.#acc.push(chunk, CHECK_HEAD_LIMITS);
    if (rc === HEAD_READY) return this.#readHead();
    if (rc === 414 || rc === 431) return 'check response head too large';
    // Judge the status line as soon as it is there: a non-HTTP peer fails fast.
    const pending = this.#acc.pending;
    if (pending === null) return null;
    const line = readStatusLine(pending);
    if (line === STATUS_LINE_INVALID) return 'invalid status line in check response';
    // 400: a bare CR in the head, which can never become valid.
    if (rc === 400 && typeof line !== 'number') this.#broken(line);
    return null;
  }

  #readHead(): string | null {
    const text = this.#acc.head;
    const line = readStatusLine(text);
    if (typeof line === 'number') return 'invalid status line in check response';
    const res = parseResponseHead(text, this.#method);
    if (res === null) {
      this.#broken(line);
      return null;
    }
    this.head = { status: res.status, versionMinor: res.versionMinor };
    if (res.status < 200) {
      // an interim reply is followed by the final one; the connection is in no state to reuse
      this.#broken(this.head);
      return null;
    }
    this.#body =
      res.body === 'none' ? NO_BODY
      : res.body === 'length' ? { kind: 'length', remaining: res.contentLength }
      : res.body === 'chunked' ? { kind: 'chunked', scanner: new ChunkedScanner() }
      : UNTIL_CLOSE;
    this.reusable = res.keepAlive && res.body !== 'close';
    const rest = this.#acc.rest;
    this.#acc.reset();
    this.#scanBody(rest ?? EMPTY);
    return null;
  }

  #scanBody(data: Buffer): void {
    let i = 0;
    const body = this.#body;
    switch (body.kind) {
      case 'none':
        this.complete = true;
        break;
      case 'until-close':
        return; // the caller stops reading: such a connection is never reused
      case 'length': {
        const take = Math.min(body.remaining, data.length - i);
        body.remaining -= take;
        i += take;
        if (body.remaining > 0) return;
        this.complete = true;
        break;
      }
      case 'chunked': {
        const n = body.scanner.scan(data, i);
        if (n < 0) return this.#broken(this.head!);
        i += n;
        if (!body.scanner.done) return;
        this.complete = true;
        break;
      }
    }
    this.excess += data.length - i;
  }

  /** The reply is judged by its status line, and the connection is not reused. */
  #broken(line: StatusLine): void {
    this.head = { status: line.status, versionMinor: line.versionMinor };
    this.reusable = false;
    this.complete = true;
  }
}

const EMPTY = Buffer.alloc(0);

interface IdleConnection {
  readonly socket: Socket;
  /** Checks already sent on it. */
  readonly uses: number;
  readonly forget: () => void;
}

/** A connection taken for a check: the socket and how many checks it carried before this one. */
export interface TakenConnection {
  readonly socket: Socket;
  readonly uses: number;
}

/**
 * Idle check connections, one per peer. An idle socket is unref()'d (it never keeps the process
 * alive), forgotten when the peer closes it, and destroyed if the peer sends anything unasked.
 */
export class CheckConnections {
  #idle = new Map<Peer, IdleConnection>();

  get size(): number {
    return this.#idle.size;
  }

  take(peer: Peer): TakenConnection | null {
    const idle = this.#idle.get(peer);
    if (idle === undefined) return null;
    this.#idle.delete(peer);
    idle.forget();
    if (idle.socket.destroyed) return null;
    idle.socket.ref();
    return { socket: idle.socket, uses: idle.uses };
  }

  /** Keep `socket` (which carried `uses` checks) for the next check of `peer`. */
  put(peer: Peer, socket: Socket, uses: number): void {
    this.drop(peer);
    const gone = (): void => {
      if (this.#idle.get(peer)?.socket === socket) this.#idle.delete(peer);
      socket.destroy();
    };
    const onError = (): void => gone();
    socket.on('data', gone);
    socket.on('end', gone);
    socket.on('close', gone);
    socket.on('error', onError);
    socket.unref();
    const forget = (): void => {
      socket.off('data', gone);
      socket.off('end', gone);
      socket.off('close', gone);
      socket.off('error', onError);
    };
    this.#idle.set(peer, { socket, uses, forget });
  }

  drop(peer: Peer): void {
    const idle = this.#idle.get(peer);
    if (idle === undefined) return;
    this.#idle.delete(peer);
    idle.socket.destroy();
  }

  closeAll(): void {
    for (const idle of this.#idle.values()) idle.socket.destroy();
    this.#idle.clear();
  }
}
