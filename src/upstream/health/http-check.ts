/**
 * What `check_keepalive_requests N` needs for type=http checks: a reader that consumes a whole
 * response (head and body, so the next check on the same connection starts on a clean byte
 * stream) and the idle connections kept between checks, one per peer.
 */
import type { Socket } from 'node:net';
import type { Peer } from '../peer.js';

/** A check reply head longer than this is not worth reading. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A chunk-size or trailer line longer than this is a broken stream, not a health signal. */
const MAX_LINE_BYTES = 4 * 1024;

export interface CheckResponseHead {
  readonly status: number;
  readonly versionMinor: number;
}

type BodyState =
  | { kind: 'none' }
  | { kind: 'length'; remaining: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; remaining: number }
  | { kind: 'chunk-crlf'; seen: number }
  | { kind: 'trailer' }
  // no length and not chunked: the body runs until the peer closes (RFC 9112 6.3 item 8)
  | { kind: 'until-close' };

/** Whether a raw check request asks to close the connection after its response. */
export function requestClosesConnection(request: string): boolean {
  const head = request.split('\r\n\r\n', 1)[0] ?? '';
  const lines = head.split('\r\n');
  const http10 = /HTTP\/1\.0$/.test(lines[0] ?? '');
  const tokens = connectionTokens(lines.slice(1));
  return tokens.has('close') || (http10 && !tokens.has('keep-alive'));
}

function connectionTokens(headerLines: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== 'connection') continue;
    for (const t of line.slice(colon + 1).split(',')) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

/**
 * Incremental reader of one check response. feed() returns a failure reason only for a head that
 * cannot be judged; a body whose framing breaks just makes the connection not reusable.
 */
export class CheckResponseReader {
  readonly #requestIsHead: boolean;
  #pending: Buffer = Buffer.alloc(0);
  #body: BodyState | null = null;
  #line = '';
  /** Set once the head is parsed. */
  head: CheckResponseHead | null = null;
  /** Once the head is parsed: whether another request may follow on this connection. */
  reusable = false;
  /** True once the whole response (head and body) was read. */
  complete = false;
  /** Bytes received after the end of the response (the peer said more than it was asked). */
  excess = 0;

  constructor(requestIsHead: boolean) {
    this.#requestIsHead = requestIsHead;
  }

  feed(chunk: Buffer): string | null {
    if (this.complete) {
      this.excess += chunk.length;
      return null;
    }
    if (this.head === null) {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      const eol = this.#pending.indexOf('\r\n');
      // judge the status line as soon as it is there: a non-HTTP peer fails fast
      if (eol !== -1 && !/^HTTP\/\d\.\d \d{3}/.test(this.#pending.toString('latin1', 0, eol))) {
        return 'invalid status line in check response';
      }
      const end = this.#pending.indexOf('\r\n\r\n');
      if (end === -1) return this.#pending.length > MAX_HEAD_BYTES ? 'check response head too large' : null;
      const reason = this.#parseHead(this.#pending.toString('latin1', 0, end));
      if (reason !== null) return reason;
      const rest = this.#pending.subarray(end + 4);
      this.#pending = Buffer.alloc(0);
      this.#scanBody(rest);
      return null;
    }
    this.#scanBody(chunk);
    return null;
  }

  #parseHead(text: string): string | null {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.(\d) (\d{3})/.exec(lines[0]!);
    if (m === null) return 'invalid status line in check response';
    const versionMinor = Number(m[1]);
    const status = Number(m[2]);
    this.head = { status, versionMinor };
    const headers = lines.slice(1);
    const tokens = connectionTokens(headers);
    const keepAlive = versionMinor >= 1 ? !tokens.has('close') : tokens.has('keep-alive');
    let lengths: string[] = [];
    let te: string | null = null;
    for (const line of headers) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') lengths = lengths.concat(value.split(',').map((v) => v.trim()));
      else if (name === 'transfer-encoding') te = te === null ? value : `${te}, ${value}`;
    }
    if (status < 200) {
      // an interim reply is followed by the final one; the connection is in no state to reuse
      this.#body = { kind: 'none' };
      this.reusable = false;
      return null;
    }
    if (this.#requestIsHead || status === 204 || status === 304) this.#body = { kind: 'none' };
    else if (te !== null) {
      const codings = te.toLowerCase().split(',').map((c) => c.trim());
      this.#body = codings[codings.length - 1] === 'chunked' ? { kind: 'chunk-size' } : { kind: 'until-close' };
    } else if (lengths.length > 0) {
      const distinct = new Set(lengths);
      const only = lengths[0]!;
      this.#body =
        distinct.size === 1 && /^\d{1,15}$/.test(only) ? { kind: 'length', remaining: Number(only) } : { kind: 'until-close' };
    } else this.#body = { kind: 'until-close' };
    this.reusable = keepAlive && this.#body.kind !== 'until-close';
    return null;
  }

  #scanBody(data: Buffer): void {
    let i = 0;
    while (!this.complete) {
      const body = this.#body!;
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
          if (body.remaining === 0) this.complete = true;
          else return;
          break;
        }
        case 'chunk-data': {
          const take = Math.min(body.remaining, data.length - i);
          body.remaining -= take;
          i += take;
          if (body.remaining > 0) return;
          this.#body = { kind: 'chunk-crlf', seen: 0 };
          break;
        }
        case 'chunk-crlf': {
          if (i >= data.length) return;
          if (data[i] !== (body.seen === 0 ? 0x0d : 0x0a)) return this.#broken();
          i++;
          if (++body.seen === 2) this.#body = { kind: 'chunk-size' };
          break;
        }
        case 'chunk-size':
        case 'trailer': {
          const line = this.#takeLine(data, i);
          if (line === null) {
            if (this.#line.length > MAX_LINE_BYTES) return this.#broken();
            return;
          }
          i = line.next;
          if (body.kind === 'trailer') {
            if (line.text === '') this.complete = true;
            break;
          }
          const m = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line.text);
          if (m === null) return this.#broken();
          const size = parseInt(m[1]!, 16);
          this.#body = size === 0 ? { kind: 'trailer' } : { kind: 'chunk-data', remaining: size };
          break;
        }
      }
    }
    this.excess += data.length - i;
  }

  /** Collect one CRLF-terminated line across feeds; null when it is not complete yet. */
  #takeLine(data: Buffer, from: number): { text: string; next: number } | null {
    const lf = data.indexOf(0x0a, from);
    if (lf === -1) {
      this.#line += data.toString('latin1', from);
      return null;
    }
    const text = (this.#line + data.toString('latin1', from, lf)).replace(/\r$/, '');
    this.#line = '';
    return { text, next: lf + 1 };
  }

  #broken(): void {
    this.reusable = false;
    this.complete = true;
  }
}

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
