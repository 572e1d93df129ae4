/**
 * The client side of an auth_request subrequest: a ClientTransport that is no socket. The
 * subrequest runs through the engine's phases like any request (its location's rewrite, proxy,
 * `return`, error pages), and what it "sends" lands here: the status and the header fields are
 * kept, the body is dropped (nginx sets header_only on auth subrequests). When the engine ends
 * the response, `onEnd` gets the subrequest back.
 *
 * The connection's facts (addresses, TLS, $connection, the virtual hosts) are the main request's
 * transport's. The subrequest has no body, never keeps anything alive, and never tunnels.
 */
import type { TlsInfo } from '../../tls/info.js';
import type { LocationPlan } from '../plan.js';
import type { VirtualHosts } from '../router.js';
import type { HttpSite } from '../site.js';
import type { ClientTransport, Exchange } from '../transport.js';
import { HttpRequest, type BodyFraming } from '../request.js';
import type { RequestHead } from '../../wire/http1-request.js';

const NO_OUTPUT = { writableLength: 0 } as const;

export class SubrequestTransport implements ClientTransport {
  readonly #main: ClientTransport;
  readonly #onEnd: (sub: HttpRequest) => void;
  /** The subrequest whose answer this collects (set right after both are made). */
  request: HttpRequest | null = null;
  /** The status of the head sent, 0 before. */
  answered = 0;
  /** The WWW-Authenticate field of the head sent, null when none. */
  authenticate: string | null = null;
  #exchange: Exchange | null = null;
  #ended = false;

  constructor(main: ClientTransport, onEnd: (sub: HttpRequest) => void) {
    this.#main = main;
    this.#onEnd = onEnd;
  }

  get remoteAddr(): string { return this.#main.remoteAddr; }
  get remotePort(): number { return this.#main.remotePort; }
  get serverAddr(): string { return this.#main.serverAddr; }
  get serverPort(): number { return this.#main.serverPort; }
  get tls(): TlsInfo | null { return this.#main.tls; }
  get proxyProtocolAddr(): string | null { return this.#main.proxyProtocolAddr; }
  get proxyProtocolPort(): number | null { return this.#main.proxyProtocolPort; }
  get id(): number { return this.#main.id; }
  get http2(): boolean { return this.#main.http2; }
  get site(): HttpSite { return this.#main.site; }
  get vhosts(): VirtualHosts { return this.#main.vhosts; }
  /** The main request's client left: the subrequest's work is for nobody. */
  get closed(): boolean { return this.#ended || this.#main.closed; }
  get exchange(): Exchange | null { return this.#exchange; }
  set exchange(ex: Exchange | null) {
    this.#exchange = ex;
    if (ex !== null) this.attached(ex);
  }

  /** A handler took the subrequest (a subclass hands it a body). */
  protected attached(_ex: Exchange): void {}

  get readingBody(): boolean { return false; }
  get passesChunked(): boolean { return true; }
  readonly output = NO_OUTPUT;
  readonly upgradable = null;

  status(code: number): void {
    this.answered = code;
  }

  field(name: string, value: string): void {
    if (this.authenticate === null && name.length === 16 && name.toLowerCase() === 'www-authenticate') this.authenticate = value;
  }

  sendHead(_keepAlive: boolean, _body: string | null, _last: boolean): number {
    return 0;
  }

  data(_chunk: Buffer): boolean {
    return true;
  }

  sendContinue(): void {}
  cork(): void {}
  uncork(): void {}
  bodyComplete(): void {}
  stopBody(): boolean {
    return true;
  }
  setTimeout(): void {}
  pause(): void {}
  resume(): void {}
  replay(_chunk: Buffer): void {}
  requestsLeft(_plan: LocationPlan | null): boolean {
    return false;
  }

  /** The main request's client went away: stop the subrequest's work (its upstream request). */
  cancel(): void {
    const ex = this.#exchange;
    this.#ended = true;
    this.#exchange = null;
    ex?.clientClosed();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#exchange = null;
    this.#onEnd(this.request!);
  }

  /** A response that cannot be completed (an upstream failing mid-body): the status stands if a head went out. */
  abort(): void {
    if (this.answered === 0) this.answered = 500;
    this.end();
  }
}

/**
 * The subrequest of `r` to `uri` over `t`: an internal request with the main request's connection
 * facts and server, sharing its variables (nginx's subrequests share them too).
 */
export function makeSubrequest(r: HttpRequest, t: SubrequestTransport, head: RequestHead, body: BodyFraming, uri: string): HttpRequest {
  const sub = new HttpRequest(head, 0, t, r.connectionRequests, body);
  t.request = sub;
  sub.parent = r;
  sub.internal = true;
  sub.remoteAddr = r.remoteAddr;
  sub.remotePort = r.remotePort;
  sub.server = r.server;
  sub.host = r.host;
  sub.serverName = r.serverName;
  sub.uri = uri;
  sub.vars = r.vars ??= new Map();
  return sub;
}
