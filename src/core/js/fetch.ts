/**
 * ngx.fetch(): njs's HTTP/HTTPS client (Response / Headers of njs's Fetch API) on the engine's
 * own codecs (wire/: response heads, chunked framing) over plain sockets, with a keep-alive pool
 * of its own (njs 0.7.9 closes each connection: `Connection: close`; tsproxy keeps them, so a
 * script that fetches per request does not pay a handshake each time). Settings are the http {}
 * js_fetch_* directives (njs: per location too).
 *
 * Errors are njs's messages ("connect failed", "read timed out", "prematurely closed connection",
 * "unsupported URL prefix", "body stream already read"), checked against nginx 1.22 + njs 0.7.9.
 */
import net from 'node:net';
import { scriptError, scriptTypeError } from './script-errors.js';
import tls from 'node:tls';
import type { JsFetchConfig } from '../../config/js-types.js';
import { ChunkedDecoder, ChunkedScanner } from '../../wire/chunked.js';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, type HeadLimits } from '../../wire/head-accumulator.js';
import { parseResponseHead, type ResponseHead } from '../../wire/http1-response.js';

/** How long an idle pooled connection is kept (nginx's keepalive_timeout default). */
const IDLE_MS = 60_000;
/** Idle connections kept per origin. */
const IDLE_PER_ORIGIN = 16;

/** The js_fetch_* settings with the trusted certificates read (at config build). */
export interface FetchSettings extends JsFetchConfig {
  readonly trustedCertificate: string | null;
}

export interface FetchInit {
  method?: string;
  body?: string | Buffer | ArrayBuffer | Uint8Array;
  headers?: Record<string, string> | Headers | [string, string][];
  /** njs's per-call overrides. */
  buffer_size?: number;
  max_response_body_size?: number;
  verify?: boolean;
}

/** njs's Headers of a response: names any case, several values joined by ", " in get(). */
export class Headers {
  readonly #fields: string[];
  constructor(fields: string[] = []) {
    this.#fields = fields;
  }
  get(name: string): string | null {
    const all = this.getAll(name);
    return all.length === 0 ? null : all.join(', ');
  }
  getAll(name: string): string[] {
    const l = String(name).toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < this.#fields.length; i += 2) if (this.#fields[i]!.toLowerCase() === l) out.push(this.#fields[i + 1]!);
    return out;
  }
  has(name: string): boolean {
    return this.getAll(name).length > 0;
  }
  forEach(fn: (value: string, name: string) => void): void {
    for (let i = 0; i < this.#fields.length; i += 2) fn(this.#fields[i + 1]!, this.#fields[i]!.toLowerCase());
  }
  /** The fields as [name, value, name, value, ...]. */
  fields(): readonly string[] {
    return this.#fields;
  }
}

export class Response {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly url: string;
  readonly redirected = false;
  readonly type = 'basic';
  #body: Buffer | null;

  constructor(head: ResponseHead, url: string, body: Buffer) {
    this.status = head.status;
    this.statusText = head.reason;
    this.headers = new Headers(head.headers);
    this.url = url;
    this.#body = body;
  }

  get ok(): boolean { return this.status >= 200 && this.status < 300; }
  get bodyUsed(): boolean { return this.#body === null; }

  #take(): Promise<Buffer> {
    const b = this.#body;
    if (b === null) return Promise.reject(scriptError('body stream already read'));
    this.#body = null;
    return Promise.resolve(b);
  }

  text(): Promise<string> { return this.#take().then((b) => b.toString('utf8')); }
  json(): Promise<unknown> { return this.#take().then((b) => JSON.parse(b.toString('utf8')) as unknown); }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#take().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
  }
}

interface Origin {
  readonly key: string;
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly hostHeader: string;
}

/** Idle sockets per origin key (LIFO: the last used is the least likely to be closed by its peer). */
const idle = new Map<string, net.Socket[]>();

function onIdleEvent(this: net.Socket): void {
  // Closed or spoke while idle: it is no use any more.
  for (const [key, list] of idle) {
    const i = list.indexOf(this);
    if (i === -1) continue;
    list.splice(i, 1);
    if (list.length === 0) idle.delete(key);
    break;
  }
  this.destroy();
}

function takeIdle(key: string): net.Socket | null {
  const list = idle.get(key);
  const s = list?.pop() ?? null;
  if (list?.length === 0) idle.delete(key);
  if (s !== null) {
    s.off('error', onIdleEvent).off('data', onIdleEvent).off('end', onIdleEvent).off('close', onIdleEvent).off('timeout', onIdleEvent);
    s.ref();
  }
  return s;
}

function putIdle(key: string, s: net.Socket): void {
  let list = idle.get(key);
  if (list === undefined) idle.set(key, (list = []));
  if (list.length >= IDLE_PER_ORIGIN) {
    s.destroy();
    return;
  }
  // An idle socket that errs, speaks or closes is dropped.
  s.on('error', onIdleEvent).on('data', onIdleEvent).on('end', onIdleEvent).on('close', onIdleEvent).on('timeout', onIdleEvent);
  s.setTimeout(IDLE_MS);
  // An idle connection never keeps the process alive.
  s.unref();
  list.push(s);
}

/** Close every idle connection (tests, shutdown). */
export function closeIdleFetchConnections(): void {
  for (const list of idle.values()) for (const s of list) s.destroy();
  idle.clear();
}

function bodyBuffer(body: FetchInit['body']): Buffer | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(String(body), 'utf8');
}

function headerPairs(h: FetchInit['headers']): [string, string][] {
  if (h === undefined || h === null) return [];
  if (h instanceof Headers) {
    const f = h.fields();
    const out: [string, string][] = [];
    for (let i = 0; i < f.length; i += 2) out.push([f[i]!, f[i + 1]!]);
    return out;
  }
  if (Array.isArray(h)) return h.map(([n, v]) => [String(n), String(v)]);
  return Object.entries(h).map(([n, v]) => [n, String(v)]);
}

const UNSAFE = /[\r\n\0]/;

/** The request head: the script's headers first, then Host (unless given) and the framing (njs's order). */
function requestHead(method: string, target: string, origin: Origin, headers: [string, string][], body: Buffer | null): string {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  let host = false;
  for (const [name, value] of headers) {
    if (UNSAFE.test(name) || UNSAFE.test(value)) throw scriptTypeError(`invalid header "${name}"`);
    const l = name.toLowerCase();
    if (l === 'host') host = true;
    // Framing and the connection are the client's.
    if (l === 'content-length' || l === 'transfer-encoding' || l === 'connection') continue;
    head += `${name}: ${value}\r\n`;
  }
  if (!host) head += `Host: ${origin.hostHeader}\r\n`;
  if (body !== null || (method !== 'GET' && method !== 'HEAD')) head += `Content-Length: ${body?.length ?? 0}\r\n`;
  return `${head}\r\n`;
}

function originOf(url: URL, settings: FetchSettings, verify: boolean): Origin {
  const secure = url.protocol === 'https:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    key: `${url.protocol}//${url.host}|${secure ? `${verify ? 1 : 0}|${settings.trustedCertificatePath ?? ''}` : ''}`,
    secure,
    host,
    port,
    hostHeader: url.host,
  };
}

/** OpenSSL's verify result numbers (njs logs them) by Node's error code. */
const VERIFY_ERRORS: Readonly<Record<string, number>> = {
  CERT_HAS_EXPIRED: 10,
  DEPTH_ZERO_SELF_SIGNED_CERT: 18,
  SELF_SIGNED_CERT_IN_CHAIN: 19,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 20,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 21,
};

/** One request over one connection: resolves with the response or rejects with njs's message. */
class FetchExchange {
  readonly #settings: FetchSettings;
  readonly #origin: Origin;
  readonly #url: string;
  readonly #method: string;
  readonly #head: string;
  readonly #body: Buffer | null;
  readonly #maxBytes: number;
  readonly #limits: HeadLimits;
  readonly #verify: boolean;
  readonly #resolve: (r: Response) => void;
  readonly #reject: (e: Error) => void;
  /** The error log of the request that called ngx.fetch, when known. */
  readonly #log: ((message: string) => void) | null;
  #socket: net.Socket | null = null;
  #reused = false;
  #heads = new HeadAccumulator();
  #res: ResponseHead | null = null;
  #parts: Buffer[] = [];
  #bytes = 0;
  #scanner: ChunkedScanner | null = null;
  #decoder: ChunkedDecoder | null = null;
  #gotBytes = false;
  #settled = false;

  constructor(settings: FetchSettings, origin: Origin, url: string, method: string, head: string, body: Buffer | null, init: FetchInit,
    log: ((message: string) => void) | null, resolve: (r: Response) => void, reject: (e: Error) => void) {
    this.#log = log;
    this.#settings = settings;
    this.#origin = origin;
    this.#url = url;
    this.#method = method;
    this.#head = head;
    this.#body = body;
    this.#maxBytes = typeof init.max_response_body_size === 'number' ? init.max_response_body_size : settings.maxResponseBytes;
    const headBytes = Math.max(typeof init.buffer_size === 'number' ? init.buffer_size : settings.bufferBytes, 1024);
    this.#limits = { requestLineBytes: headBytes, headerLineBytes: headBytes, headBytes };
    this.#verify = typeof init.verify === 'boolean' ? init.verify : settings.verify;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const pooled = takeIdle(this.#origin.key);
    if (pooled !== null) {
      this.#reused = true;
      this.#attach(pooled);
      this.#send();
      return;
    }
    const o = this.#origin;
    const s = o.secure
      ? tls.connect({
        host: o.host, port: o.port, rejectUnauthorized: this.#verify,
        ...(net.isIP(o.host) === 0 ? { servername: o.host } : {}),
        ...(this.#settings.trustedCertificate !== null ? { ca: this.#settings.trustedCertificate } : {}),
      })
      : net.connect({ host: o.host, port: o.port });
    this.#attach(s);
    s.once(o.secure ? 'secureConnect' : 'connect', () => this.#send());
  }

  readonly #onError = (e: NodeJS.ErrnoException): void => this.#failed(e);
  readonly #onData = (d: Buffer): void => this.#data(d);
  readonly #onEnd = (): void => this.#end();
  readonly #onTimeout = (): void => this.#fail('read timed out');

  #attach(s: net.Socket): void {
    this.#socket = s;
    s.on('error', this.#onError).on('data', this.#onData).on('end', this.#onEnd).on('close', this.#onEnd).on('timeout', this.#onTimeout);
    s.setTimeout(this.#settings.timeoutMs);
  }

  /** The socket goes back to the pool: this exchange's listeners leave it. */
  #detach(s: net.Socket): void {
    s.off('error', this.#onError).off('data', this.#onData).off('end', this.#onEnd).off('close', this.#onEnd).off('timeout', this.#onTimeout);
  }

  #send(): void {
    const s = this.#socket!;
    if (this.#body === null) s.write(this.#head, 'latin1');
    else {
      s.cork();
      s.write(this.#head, 'latin1');
      s.write(this.#body);
      s.uncork();
    }
  }

  #failed(e: NodeJS.ErrnoException): void {
    if (this.#retryStale()) return;
    const code = e.code ?? '';
    const verify = VERIFY_ERRORS[code];
    if (verify !== undefined) {
      this.#log?.(`js http fetch SSL certificate verify error: (${verify}:${e.message}) while SSL handshaking to fetch target`);
      return this.#fail('connect failed');
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      this.#log?.(`js http fetch SSL certificate does not match "${this.#origin.host}" while SSL handshaking to fetch target`);
      return this.#fail('connect failed');
    }
    if (code === 'ECONNREFUSED') this.#log?.('recv() failed (111: Connection refused)');
    if (!this.#gotBytes && (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ECONNRESET' || (this.#socket?.connecting ?? false))) {
      return this.#fail('connect failed');
    }
    this.#fail('prematurely closed connection');
  }

  /** A pooled connection the peer closed meanwhile: once more on a new one. */
  #retryStale(): boolean {
    if (!this.#reused || this.#gotBytes || this.#settled) return false;
    this.#settled = true;
    this.#socket?.destroy();
    new FetchExchange(this.#settings, this.#origin, this.#url, this.#method, this.#head, this.#body,
      { max_response_body_size: this.#maxBytes, buffer_size: this.#limits.headBytes, verify: this.#verify }, this.#log, this.#resolve, this.#reject).start();
    return true;
  }

  #data(d: Buffer): void {
    if (this.#settled) return;
    this.#gotBytes = true;
    if (this.#res === null) {
      const rc = this.#heads.push(d, this.#limits);
      if (rc === HEAD_NEED_MORE) return;
      if (rc !== HEAD_READY) return this.#fail('upstream sent too long response header');
      const res = parseResponseHead(this.#heads.head, this.#method, this.#heads.bytes);
      if (res === null) return this.#fail('upstream sent invalid response');
      const rest = this.#heads.rest;
      this.#heads.reset();
      if (res.status < 200) {
        if (rest !== null) this.#data(rest);
        return;
      }
      this.#res = res;
      if (res.body === 'chunked') {
        this.#scanner = new ChunkedScanner();
        this.#decoder = new ChunkedDecoder();
      }
      if (res.body === 'none' || (res.body === 'length' && res.contentLength === 0)) return this.#complete(true);
      if (rest !== null) this.#body_(rest);
      return;
    }
    this.#body_(d);
  }

  #body_(d: Buffer): void {
    const res = this.#res!;
    if (this.#scanner !== null) {
      const n = this.#scanner.scan(d);
      if (n < 0) return this.#fail('upstream sent invalid chunked response');
      this.#decoder!.decode(n === d.length ? d : d.subarray(0, n), (p) => this.#keep(p));
      if (this.#scanner.done && !this.#settled) this.#complete(n === d.length);
      return;
    }
    if (res.body === 'length') {
      const want = res.contentLength - this.#bytes;
      this.#keep(d.length > want ? d.subarray(0, want) : d);
      if (!this.#settled && this.#bytes === res.contentLength) this.#complete(d.length === want);
      return;
    }
    this.#keep(d);
  }

  #keep(p: Buffer): void {
    if (this.#settled) return;
    this.#bytes += p.length;
    // njs 0.7.9's answer past js_fetch_max_response_buffer_size.
    if (this.#bytes > this.#maxBytes) return this.#fail('prematurely closed connection');
    this.#parts.push(Buffer.from(p));
  }

  #end(): void {
    if (this.#settled) return;
    if (this.#retryStale()) return;
    // Read to the close: the body ends with the connection.
    if (this.#res !== null && this.#res.body === 'close') return this.#complete(false);
    this.#fail('prematurely closed connection');
  }

  #complete(reusable: boolean): void {
    this.#settled = true;
    const s = this.#socket!;
    const res = this.#res!;
    if (reusable && res.keepAlive && !s.destroyed) {
      this.#detach(s);
      putIdle(this.#origin.key, s);
    } else s.destroy();
    this.#resolve(new Response(res, this.#url, this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts)));
  }

  #fail(message: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#socket?.destroy();
    this.#reject(scriptError(message));
  }
}

/** ngx.fetch(url[, init]) with the http {} js_fetch_* settings. */
export function fetchWith(settings: FetchSettings, resource: unknown, init: FetchInit = {}, log: ((message: string) => void) | null = null): Promise<Response> {
  return new Promise((resolve, reject) => {
    let url: URL;
    const text = String(resource);
    if (!/^https?:\/\//i.test(text)) throw scriptError('unsupported URL prefix');
    try {
      url = new URL(text);
    } catch {
      throw scriptError('invalid url');
    }
    const method = (init.method ?? 'GET').toUpperCase();
    const body = bodyBuffer(init.body);
    const verify = typeof init.verify === 'boolean' ? init.verify : settings.verify;
    const origin = originOf(url, settings, verify);
    const head = requestHead(method, `${url.pathname}${url.search}`, origin, headerPairs(init.headers), body);
    new FetchExchange(settings, origin, text, method, head, body, init, log, resolve, reject).start();
  });
}
