/**
 * r.subrequest(uri[, options][, callback]): njs's subrequest, an HttpRequest of its own run
 * through the engine's phases from the server rewrite phase on (as auth_request's), over a
 * transport that is no socket: it keeps the status, the header fields and the body the
 * subrequest "sends", and settles the script's Promise (or calls its callback) with them.
 *
 * nginx + njs 0.7.9's rules (checked with ask-nginx): the method is GET unless `method`; the
 * body is `body`, else the parent's request body; the headers are the parent's (Content-Length
 * follows the body); `uri` is taken as it is (a `?` in it is not split off: `args` gives the
 * arguments); `detached` runs it for nobody (the call returns undefined).
 */
import type { RequestHead } from '../../wire/http1-request.js';
import { makeSubrequest, SubrequestTransport } from '../access/subrequest.js';
import { PHASE_SERVER_REWRITE, runPhases } from '../phases.js';
import { BODY_LENGTH, BODY_NONE, type HttpRequest } from '../request.js';
import type { ClientTransport } from '../transport.js';
import { scriptError } from '../../core/js/script-errors.js';

/** What a subrequest answered: njs's reply object (the subrequest's request object there). */
export class SubrequestReply {
  readonly status: number;
  readonly uri: string;
  readonly method: string;
  readonly args: Record<string, string | string[]>;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly responseBuffer: Buffer;
  readonly headersOut: Record<string, string | string[] | undefined>;

  constructor(sub: HttpRequest, status: number, fields: readonly string[], body: Buffer, args: Record<string, string | string[]>) {
    this.status = status;
    this.uri = sub.uri;
    this.method = sub.method;
    this.args = args;
    this.httpVersion = sub.httpVersion;
    this.remoteAddress = sub.remoteAddr;
    this.responseBuffer = body;
    this.headersOut = headersView(fields);
  }

  get responseText(): string { return this.responseBuffer.toString('utf8'); }
  /** njs's older name. */
  get responseBody(): string { return this.responseText; }
}

/** Response fields by name, any case (a repeated one: an array). */
function headersView(fields: readonly string[]): Record<string, string | string[] | undefined> {
  const map = new Map<string, string | string[]>();
  const names = new Map<string, string>();
  for (let i = 0; i < fields.length; i += 2) {
    const l = fields[i]!.toLowerCase();
    const had = map.get(l);
    if (had === undefined) {
      map.set(l, fields[i + 1]!);
      names.set(l, fields[i]!);
    } else map.set(l, [...(Array.isArray(had) ? had : [had]), fields[i + 1]!]);
  }
  return new Proxy(Object.create(null) as Record<string, string | string[] | undefined>, {
    get: (_t, name) => (typeof name === 'string' ? map.get(name.toLowerCase()) : undefined),
    has: (_t, name) => typeof name === 'string' && map.has(name.toLowerCase()),
    ownKeys: () => [...names.values()],
    getOwnPropertyDescriptor: (_t, name) => {
      const value = typeof name === 'string' ? map.get(name.toLowerCase()) : undefined;
      return value === undefined ? undefined : { value, enumerable: true, configurable: true, writable: false };
    },
  });
}

/**
 * The client side of a script's subrequest: auth_request's transport that also keeps the header
 * fields and the body, and hands the handler the subrequest's own body.
 */
class JsSubrequestTransport extends SubrequestTransport {
  readonly fields: string[] = [];
  readonly parts: Buffer[] = [];
  /** The request body not yet handed to the handler (null: none or handed). */
  #body: Buffer | null;

  constructor(main: ClientTransport, body: Buffer | null, onEnd: (sub: HttpRequest) => void) {
    super(main, onEnd);
    this.#body = body;
  }

  override get readingBody(): boolean { return this.#body !== null; }
  /** The body bytes are wanted, not the chunk framing: a chunked upstream body is decoded. */
  override get passesChunked(): boolean { return false; }

  /** The handler that takes the request gets its body (it is all there already). */
  protected override attached(): void {
    if (this.#body !== null) queueMicrotask(() => this.#feed());
  }

  #feed(): void {
    const body = this.#body;
    const ex = this.exchange;
    if (body === null || ex === null || this.closed) return;
    this.#body = null;
    if (body.length > 0) ex.clientData(body);
  }

  override field(name: string, value: string): void {
    this.fields.push(name, value);
  }

  override sendHead(_keepAlive: boolean, body: string | null): number {
    if (body !== null && body.length > 0) this.parts.push(Buffer.from(body, 'latin1'));
    return 0;
  }

  override data(chunk: Buffer): boolean {
    // Copied: an upstream's read buffer is reused.
    if (chunk.length > 0) this.parts.push(Buffer.from(chunk));
    return true;
  }

  override stopBody(): boolean {
    this.#body = null;
    return true;
  }

  override replay(chunk: Buffer): void {
    this.exchange?.clientData(chunk);
  }
}

export interface SubrequestOptions {
  args?: string;
  body?: string | Buffer;
  method?: string;
  detached?: boolean;
}

const FRAMING = new Set(['content-length', 'transfer-encoding', 'expect']);

/** The subrequest's head: the parent's headers, the method, Content-Length after the body. */
function subrequestHead(parent: RequestHead, method: string, body: Buffer | null): RequestHead {
  const headers: string[] = [];
  const lnames: string[] = [];
  for (let i = 0; i < parent.lnames.length; i++) {
    const l = parent.lnames[i]!;
    if (FRAMING.has(l)) continue;
    headers.push(parent.headers[2 * i]!, parent.headers[2 * i + 1]!);
    lnames.push(l);
  }
  if (body !== null) {
    headers.push('Content-Length', String(body.length));
    lnames.push('content-length');
  }
  return { ...parent, method, headers, lnames, contentLength: body === null ? -1 : body.length, chunked: false, expectContinue: false };
}

/**
 * Start a subrequest of `r`: resolves with its reply when it ends (null for a detached one,
 * which nobody waits for). `parentBody` is the request body js_content read.
 */
export function startSubrequest(r: HttpRequest, uri: string, options: SubrequestOptions, parentBody: Buffer | null,
  parseArgs: (args: string) => Record<string, string | string[]>): Promise<SubrequestReply> {
  if (uri === '') return Promise.reject(scriptError('uri is empty'));
  const method = (options.method ?? 'GET').toUpperCase();
  const body = options.body !== undefined ? (typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body) : parentBody;
  return new Promise((resolve) => {
    const t: JsSubrequestTransport = new JsSubrequestTransport(r.transport, body, (sub) => {
      resolve(new SubrequestReply(sub, t.answered, t.fields, t.parts.length === 1 ? t.parts[0]! : Buffer.concat(t.parts), parseArgs(sub.args)));
    });
    const sub = makeSubrequest(r, t, subrequestHead(r.head, method, body), body === null ? BODY_NONE : BODY_LENGTH, uri);
    sub.ownHead = true;
    sub.args = options.args ?? '';
    runPhases(sub, PHASE_SERVER_REWRITE);
  });
}
