/**
 * `s`, njs's NginxStreamRequest: what a stream script sees of its session. One per session,
 * made at the first script call. Data handed to `upload` handlers is a byte string (one char per
 * byte, as njs's), so binary protocols (a TLS ClientHello) read as they are.
 */
import type { Logger } from 'pino';
import { scriptError, scriptStack, scriptTypeError } from '../core/js/script-errors.js';
import type { FetchSettings } from '../core/js/fetch.js';
import { setActiveRequest, type ScriptContext } from '../core/js/globals.js';
import type { SessionInfo } from './stream-vars.js';
import type { SessionState } from './stream-session.js';

/** No verdict yet (the phase goes on while an `upload` handler waits for data). */
export const VERDICT_NONE = -1;
/** allow() / done() / decline(): the session goes on. */
export const VERDICT_PASS = 0;
/** deny(): the session closes with 403 (nginx's NGX_STREAM_FORBIDDEN). */
const VERDICT_DENY = 403;
const VERDICT_ERROR = 500;

/** What a session object needs of its config's scripting (StreamScripts). */
export interface SessionLink {
  readonly logger: Logger;
  readonly writable: ReadonlySet<string>;
  readonly readVariable: (s: SessionInfo, name: string) => string | undefined;
  readonly fetchSettings: FetchSettings;
}

type DataHandler = (data: string, flags: { last: boolean }) => void;

/** Where js_filter's s.send goes: the tunnel's two directions (FilterTunnel, stream-js.ts). */
export interface FilterSink {
  passUp(bytes: Buffer): void;
  passDown(bytes: Buffer): void;
  destroy(): void;
}

const UP = 0;
const DOWN = 1;

/** A string as bytes: a byte string stays its bytes, other text is UTF-8 (njs's). */
function bytesOf(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const text = String(data);
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u00ff]*$/.test(text) ? Buffer.from(text, 'latin1') : Buffer.from(text, 'utf8');
}

export class JsSession implements ScriptContext {
  readonly #s: SessionState;
  readonly #link: SessionLink;
  verdict = VERDICT_NONE;
  #upload: DataHandler | null = null;
  #download: DataHandler | null = null;
  /** js_filter's tunnel (null before it runs), and the direction whose handler runs now. */
  #sink: FilterSink | null = null;
  #dir = UP;
  #variables: Record<string, string | undefined> | null = null;

  constructor(s: SessionState, link: SessionLink) {
    this.#s = s;
    this.#link = link;
  }

  get remoteAddress(): string {
    return this.#s.remoteAddress;
  }

  get status(): number {
    return this.#s.status;
  }

  /** s.variables: read any variable; write the js_var ones. */
  get variables(): Record<string, string | undefined> {
    if (this.#variables !== null) return this.#variables;
    const s = this.#s;
    const link = this.#link;
    this.#variables = new Proxy({} as Record<string, string | undefined>, {
      get: (_, name) => (typeof name === 'string' ? link.readVariable(s, name) : undefined),
      set: (_, name, value) => {
        if (typeof name !== 'string' || !link.writable.has(name)) throw scriptTypeError(`variable "${String(name)}" is not writable`);
        (s.vars ??= new Map()).set(name, String(value));
        return true;
      },
    });
    return this.#variables;
  }

  allow(): void {
    this.verdict = VERDICT_PASS;
  }

  done(): void {
    this.verdict = VERDICT_PASS;
  }

  decline(): void {
    this.verdict = VERDICT_PASS;
  }

  deny(): void {
    this.verdict = VERDICT_DENY;
  }

  on(event: unknown, handler: unknown): void {
    if (typeof handler !== 'function') throw scriptTypeError('callback is not a function');
    if (event !== 'upload' && event !== 'download') throw scriptTypeError(`unknown event "${String(event)}"`);
    if ((event === 'upload' ? this.#upload : this.#download) !== null) throw scriptTypeError(`event handler "${event}" is already set`);
    if (event === 'upload') this.#upload = handler as DataHandler;
    else this.#download = handler as DataHandler;
  }

  off(event: unknown): void {
    if (event === 'upload') this.#upload = null;
    else if (event === 'download') this.#download = null;
  }

  /** In a js_filter handler: the data goes on in the direction it came (njs's s.send). */
  send(data: unknown): void {
    if (this.#dir === UP) this.#filterSink().passUp(bytesOf(data));
    else this.#filterSink().passDown(bytesOf(data));
  }

  sendUpstream(data: unknown): void {
    this.#filterSink().passUp(bytesOf(data));
  }

  sendDownstream(data: unknown): void {
    this.#filterSink().passDown(bytesOf(data));
  }

  /** Sending is js_filter's: in a phase or a js_set njs 0.7.9 throws this Error (checked with nginx, TCP and UDP). */
  #filterSink(): FilterSink {
    if (this.#sink === null) throw scriptError('cannot send buffer in this handler');
    return this.#sink;
  }

  /** ngx.fetch from this session's scripts: stream {}'s js_fetch_* settings. */
  get fetchSettings(): FetchSettings {
    return this.#link.fetchSettings;
  }

  // nginx + njs 0.7.9 write s.log / ngx.log lines as `*N js: ...`, no client or server after them (checked with nginx).
  log(message: unknown): void {
    this.#link.logger.info({ connection: this.#s.connection }, `js: ${String(message)}`);
  }

  warn(message: unknown): void {
    this.#link.logger.warn({ connection: this.#s.connection }, `js: ${String(message)}`);
  }

  error(message: unknown): void {
    this.#link.logger.error({ connection: this.#s.connection }, `js: ${String(message)}`);
  }

  /** Call a script function with this session as the one running (ngx.log / ngx.fetch know it). */
  call(fn: (s: JsSession) => unknown): unknown {
    setActiveRequest(this);
    try {
      return fn(this);
    } finally {
      setActiveRequest(null);
    }
  }

  /** Call an upload / download handler with this session as the one running. */
  #callHandler(handler: DataHandler, chunk: Buffer, last: boolean): void {
    setActiveRequest(this);
    try {
      handler(chunk.toString('latin1'), { last });
    } finally {
      setActiveRequest(null);
    }
  }

  /** An error-log line with the session's context. */
  logError(message: string): void {
    this.#link.logger.error({ ...this.#s.errorContext(), code: 'TSP_ERR_JS' }, message);
  }

  /** A script failed: njs's "js exception" line; the phase ends with 500. */
  fail(err: unknown, what = 'js exception'): void {
    this.logError(`${what}: ${scriptStack(err)}`);
    this.verdict = VERDICT_ERROR;
  }

  startPhase(): void {
    this.verdict = VERDICT_NONE;
    this.#upload = null;
  }

  /**
   * The phase's outcome (0: go on); its upload handler is dropped. A function that ended without
   * a verdict (nothing pending) fails the session: njs 0.7.9 closes it with 500 (checked with nginx).
   */
  endPhase(): number {
    const v = this.verdict;
    this.verdict = VERDICT_NONE;
    this.#upload = null;
    return v === VERDICT_NONE ? VERDICT_ERROR : v;
  }

  /** js_filter: the function registers its handlers; data then flows through them (true: a handler is set). */
  startFilter(fn: (s: JsSession) => unknown, sink: FilterSink): boolean {
    this.#upload = null;
    this.#download = null;
    try {
      this.call(fn);
    } catch (e) {
      this.fail(e);
      return false;
    }
    this.#sink = sink;
    return true;
  }

  /** A piece (or, `last`, the FIN) of one direction through its handler; false: no handler, pass it as is. */
  filter(up: boolean, chunk: Buffer, last: boolean): boolean {
    const handler = up ? this.#upload : this.#download;
    if (handler === null) return false;
    this.#dir = up ? UP : DOWN;
    try {
      this.#callHandler(handler, chunk, last);
    } catch (e) {
      this.fail(e);
      this.#sink?.destroy();
    }
    return true;
  }

  hasUpload(): boolean {
    return this.#upload !== null;
  }

  /** Hand the client's next bytes to the upload handler; a throw ends the phase (500). */
  feedUpload(chunk: Buffer, last: boolean): void {
    const handler = this.#upload;
    if (handler === null) return;
    try {
      this.#callHandler(handler, chunk, last);
    } catch (e) {
      this.fail(e);
    }
  }
}
