/**
 * njs's request object (NginxHTTPRequest) over an HttpRequest: made at the first script call of
 * a request and kept on it (r.js), each part (headersIn, headersOut, args, variables) made when a
 * script first reads it. A content handler's answer goes out through the engine's local answers
 * (phases.ts respond): r.return as nginx's `return`, r.send/r.finish gathered and sent at finish
 * with a Content-Length (njs streams them chunked).
 */
import { parse as parseQuery } from 'node:querystring';
import type { HttpRequest } from '../request.js';
import { NO_FIELDS, REDIRECT_CODES, absoluteLocation, errorResponse, redirectResponse, type LocalResponse } from '../respond.js';
import { canKeepAlive, respond } from '../phases.js';
import { continueAfterWait } from '../phase-waits.js';
import { requestLogContext } from '../upstream-log.js';
import type { JsRuntime } from './runtime.js';
import { startSubrequest, type SubrequestOptions, type SubrequestReply } from './subrequest.js';
import { TsproxyError } from '../../errors.js';
import { scriptStack } from '../../core/js/script-errors.js';

/** What a script call is for: the answer of r.return differs (an access check refuses with it). */
export const MODE_CONTENT = 0;
export const MODE_ACCESS = 1;
export const MODE_VARIABLE = 2;
/** js_header_filter / js_body_filter: r.return and r.send do nothing, r.sendBuffer passes data on. */
export const MODE_FILTER = 3;

type HeaderValue = string | string[];

type Level = 'info' | 'warn' | 'error';

export class JsRequest {
  readonly #r: HttpRequest;
  readonly #rt: JsRuntime;
  mode = MODE_VARIABLE;
  /** The request has its answer (return, finish, internalRedirect, or a failure's 500). */
  answered = false;
  /** js_access: the status r.return gave (0: none). */
  accessStatus = 0;
  /** The async js_set values were awaited (phase content runs once more after the wait). */
  prefetched = false;
  /** The request body js_content read (body.ts), null when none was read. */
  body: Buffer | null = null;
  #status = 0;
  #headersIn: Record<string, string | undefined> | null = null;
  #headersOut: Map<string, [string, HeaderValue]> | null = null;
  #headersOutView: Record<string, HeaderValue | undefined> | null = null;
  /** js_body_filter: what r.sendBuffer passed on during the current call. */
  filtered: Buffer[] | null = null;
  /** js_body_filter: r.done() was called (the rest of the body passes untouched). */
  filterDone = false;
  #args: Record<string, unknown> | null = null;
  #variables: Record<string, string | undefined> | null = null;
  #chunks: string[] | null = null;

  constructor(r: HttpRequest, rt: JsRuntime) {
    this.#r = r;
    this.#rt = rt;
  }

  get method(): string { return this.#r.method; }
  get uri(): string { return this.#r.uri; }
  get httpVersion(): string { return this.#r.httpVersion; }
  get remoteAddress(): string { return this.#r.remoteAddr; }
  get requestLine(): string { return `${this.#r.method} ${this.#r.rawTarget} HTTP/${this.#r.httpVersion}`; }
  /** The request body, read before js_content runs (undefined for other calls, or without a body). */
  get requestText(): string | undefined { return this.body?.toString('utf8'); }
  get requestBuffer(): Buffer | undefined { return this.body ?? undefined; }
  /** A subrequest's parent request object (njs 0.7.9 gives it only within one VM: undefined in a subrequest's js_content). */
  get parent(): JsRequest | undefined { return this.#r.parent?.js ?? undefined; }

  /**
   * njs's r.subrequest(uri[, options | args][, callback]): a Promise of the reply, or undefined
   * with a callback or `detached`.
   */
  subrequest(uri: string, options?: SubrequestOptions | string | ((reply: SubrequestReply) => void), callback?: (reply: SubrequestReply) => void): Promise<SubrequestReply> | undefined {
    let opts: SubrequestOptions = {};
    if (typeof options === 'string') opts = { args: options };
    else if (typeof options === 'function') callback = options;
    else if (options !== undefined && options !== null) opts = options;
    const p = startSubrequest(this.#r, String(uri), opts, this.body, parseArgs);
    if (opts.detached === true) {
      p.catch(() => {});
      return undefined;
    }
    if (callback === undefined) return p;
    const cb = callback;
    p.then((reply) => {
      try {
        cb(reply);
      } catch (e) {
        this.fail(e);
      }
    }, (e: unknown) => this.fail(e));
    return undefined;
  }

  get status(): number { return this.#status === 0 ? this.#r.status : this.#status; }
  set status(v: number) { this.#status = Number(v); }

  get args(): Record<string, unknown> {
    return (this.#args ??= parseArgs(this.#r.args));
  }

  get headersIn(): Record<string, string | undefined> {
    if (this.#headersIn !== null) return this.#headersIn;
    const headers = this.#r.headers;
    return (this.#headersIn = new Proxy(Object.create(null) as Record<string, string | undefined>, {
      get: (_t, name) => (typeof name === 'string' ? headerIn(headers, name.toLowerCase()) : undefined),
      has: (_t, name) => typeof name === 'string' && headerIn(headers, name.toLowerCase()) !== undefined,
      ownKeys: () => [...new Set(headers.filter((_, i) => i % 2 === 0))],
      getOwnPropertyDescriptor: (_t, name) => {
        const value = typeof name === 'string' ? headerIn(headers, name.toLowerCase()) : undefined;
        return value === undefined ? undefined : { value, enumerable: true, configurable: true, writable: false };
      },
    }));
  }

  /** js_header_filter: headersOut starts as the response's fields (a repeated name: an array). */
  loadHeadersOut(fields: readonly string[]): void {
    const map = this.#outMap();
    map.clear();
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const l = name.toLowerCase();
      const had = map.get(l);
      if (had === undefined) map.set(l, [name, fields[i + 1]!]);
      else had[1] = [...(Array.isArray(had[1]) ? had[1] : [had[1]]), fields[i + 1]!];
    }
  }

  /** headersOut as fields, in order (an array value: one field each). */
  headersOutFields(): string[] {
    const out: string[] = [];
    for (const [name, value] of this.#outMap().values()) {
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
    return out;
  }

  #outMap(): Map<string, [string, HeaderValue]> {
    if (this.#headersOut === null) void this.headersOut;
    return this.#headersOut!;
  }

  get headersOut(): Record<string, HeaderValue | undefined> {
    if (this.#headersOutView !== null) return this.#headersOutView;
    const map = (this.#headersOut = new Map<string, [string, HeaderValue]>());
    return (this.#headersOutView = new Proxy(Object.create(null) as Record<string, HeaderValue | undefined>, {
      get: (_t, name) => (typeof name === 'string' ? map.get(name.toLowerCase())?.[1] : undefined),
      set: (_t, name, value) => {
        if (typeof name !== 'string') return false;
        if (value === undefined || value === null) map.delete(name.toLowerCase());
        else map.set(name.toLowerCase(), [name, Array.isArray(value) ? value.map(String) : String(value)]);
        return true;
      },
      deleteProperty: (_t, name) => {
        if (typeof name === 'string') map.delete(name.toLowerCase());
        return true;
      },
      has: (_t, name) => typeof name === 'string' && map.has(name.toLowerCase()),
      ownKeys: () => [...map.values()].map((e) => e[0]),
      getOwnPropertyDescriptor: (_t, name) => {
        const e = typeof name === 'string' ? map.get(name.toLowerCase()) : undefined;
        return e === undefined ? undefined : { value: e[1], enumerable: true, configurable: true, writable: true };
      },
    }));
  }

  get variables(): Record<string, string | undefined> {
    if (this.#variables !== null) return this.#variables;
    const r = this.#r;
    const rt = this.#rt;
    return (this.#variables = new Proxy(Object.create(null) as Record<string, string | undefined>, {
      get: (_t, name) => (typeof name === 'string' ? rt.readVariable(r, name) : undefined),
      set: (_t, name, value) => {
        if (typeof name !== 'string' || !rt.writable.has(name)) throw new TsproxyError('TSP_ERR_JS', `variable "${String(name)}" is not writable`);
        (r.vars ??= new Map()).set(name, String(value));
        return true;
      },
    }));
  }

  /** r.rawVariables: the values as Buffers (njs: byte strings). */
  get rawVariables(): Record<string, Buffer | undefined> {
    const r = this.#r;
    const rt = this.#rt;
    return new Proxy(Object.create(null) as Record<string, Buffer | undefined>, {
      get: (_t, name) => {
        const v = typeof name === 'string' ? rt.readVariable(r, name) : undefined;
        return v === undefined ? undefined : Buffer.from(v, 'utf8');
      },
      set: (_t, name, value) => {
        this.variables[name as string] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
        return true;
      },
    });
  }

  log(message: unknown): void { this.#log('info', message); }
  warn(message: unknown): void { this.#log('warn', message); }
  error(message: unknown): void { this.#log('error', message); }

  #log(level: Level, message: unknown): void {
    // nginx + njs 0.7.9 write these with the connection number and no request context (checked with ask-nginx)
    this.#rt.logger[level]({ connection: this.#r.connectionId }, `js: ${String(message)}`);
  }

  /** nginx's `return`: a redirect with a URL, a text body, or the built-in page of the status. */
  return(status: number, body?: string | Buffer): void {
    status = Number(status);
    if (this.mode === MODE_FILTER) return;
    if (this.mode === MODE_ACCESS) {
      this.accessStatus = status;
      return;
    }
    if (this.answered) return;
    this.answered = true;
    this.#status = status;
    const text = body === undefined ? undefined : typeof body === 'string' ? body : body.toString('utf8');
    let res: LocalResponse;
    const r = this.#r;
    if (REDIRECT_CODES.has(status) && text !== undefined) res = redirectResponse(status, absoluteLocation(text, r.scheme, r.host, r.serverPort));
    else if (text === undefined && status >= 300) res = errorResponse(status, this.#fields());
    else res = { status, contentType: this.#contentType(), body: text ?? '', headers: this.#fields() };
    this.#answer(res, text === undefined && status >= 400);
  }

  /** js_body_filter: pass `data` on (njs: `flags.last` ends the body; the engine ends it anyway). */
  sendBuffer(data: string | Buffer | Uint8Array, _flags?: { last?: boolean }): void {
    if (this.filtered === null) return;
    this.filtered.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** js_body_filter: the filter is not called again; the rest of the body passes as it is. */
  done(): void {
    this.filterDone = true;
  }

  sendHeader(): void {
    this.#chunks ??= [];
  }

  send(chunk: string | Buffer): void {
    if (this.answered) return;
    (this.#chunks ??= []).push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
  }

  finish(): void {
    if (this.answered) return;
    this.answered = true;
    const status = this.#status === 0 ? 200 : this.#status;
    this.#answer({ status, contentType: this.#contentType(), body: (this.#chunks ?? []).join(''), headers: this.#fields() }, false);
  }

  /** After the handler returns (njs), the request goes on at `uri` (`@name`: a named location). */
  internalRedirect(uri: string): void {
    if (this.answered) return;
    this.answered = true;
    const r = this.#r;
    const q = uri.indexOf('?');
    queueMicrotask(() => {
      // The request starts over: the next handler answers it.
      this.answered = false;
      this.#args = null;
      continueAfterWait(r, uri.startsWith('@')
      ? { kind: 'named', name: uri.slice(1) }
        : { kind: 'redirect', uri: q === -1 ? uri : uri.slice(0, q), args: q === -1 ? '' : uri.slice(q + 1) });
    });
  }

  /** A script failed: njs's "js exception" line; a content handler that had not answered gives 500. */
  fail(err: unknown, what = 'js exception', answer = this.mode === MODE_CONTENT): void {
    this.logError(`${what}: ${scriptStack(err)}`);
    if (!answer || this.answered) return;
    this.answered = true;
    this.#answer(errorResponse(500), true);
  }

  /** An error-log line with the request's context. */
  logError(message: string): void {
    this.#rt.logger.error({ ...requestLogContext(this.#r), code: 'TSP_ERR_JS' }, message);
  }

  #answer(res: LocalResponse, errorPage: boolean): void {
    const r = this.#r;
    if (r.transport.closed) return;
    // A body read whole leaves the connection reusable, as a request without one.
    const keepAlive = this.body !== null ? r.head.keepAlive && r.transport.requestsLeft(r.plan) : canKeepAlive(r, r.plan);
    respond(r, res, keepAlive, errorPage);
  }

  #contentType(): string {
    const v = this.#headersOut?.get('content-type')?.[1];
    return v === undefined ? 'text/plain' : Array.isArray(v) ? v[0] ?? 'text/plain' : v;
  }

  /** headersOut as header fields (Content-Type and Content-Length are the engine's). */
  #fields(): readonly string[] {
    const map = this.#headersOut;
    if (map === null || map.size === 0) return NO_FIELDS;
    const out: string[] = [];
    for (const [lower, [name, value]] of map) {
      if (lower === 'content-type' || lower === 'content-length') continue;
      if (Array.isArray(value)) for (const v of value) out.push(name, v);
      else out.push(name, value);
    }
    return out;
  }
}

function parseArgs(args: string): Record<string, string | string[]> {
  return { ...parseQuery(args) } as Record<string, string | string[]>;
}

/**
 * A request header's value, undefined when absent. Several are joined as njs 0.7.9 joins them: ","
 * and ";" for Cookie, no space (checked with ask-nginx: `one,two`, `a=1;b=2`).
 */
function headerIn(headers: readonly string[], lname: string): string | undefined {
  let out: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== lname) continue;
    out = out === undefined ? headers[i + 1]! : out + (lname === 'cookie' ? ';' : ',') + headers[i + 1]!;
  }
  return out;
}

