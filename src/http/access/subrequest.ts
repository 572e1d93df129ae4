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
import { BODY_NONE, HttpRequest } from '../request.js';
import type { VirtualHosts } from '../router.js';
import type { HttpSite } from '../site.js';
import type { ClientTransport, Exchange } from '../transport.js';

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
  exchange: Exchange | null = null;
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
  readonly readingBody = false;
  readonly passesChunked = true;
  readonly output = NO_OUTPUT;
  readonly upgradable = null;

  status(code: number): void {
    this.answered = code;
  }

  field(name: string, value: string): void {
    if (this.authenticate === null && name.length === 16 && name.toLowerCase() === 'www-authenticate') this.authenticate = value;
  }

  sendHead(): number {
    return 0;
  }

  data(): boolean {
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
  replay(): void {}
  requestsLeft(_plan: LocationPlan | null): boolean {
    return false;
  }

  /** The main request's client went away: stop the subrequest's work (its upstream request). */
  cancel(): void {
    const ex = this.exchange;
    this.#ended = true;
    this.exchange = null;
    ex?.clientClosed();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.exchange = null;
    this.#onEnd(this.request!);
  }

  /** A response that cannot be completed (an upstream failing mid-body): the status stands if a head went out. */
  abort(): void {
    if (this.answered === 0) this.answered = 500;
    this.end();
  }
}

/**
 * A subrequest of `r` answered over `t`: the main request's head (no body), client address,
 * server and host, as nginx's subrequests share them; not logged (`parent`), and `internal`
 * locations may answer it.
 */
export function subrequestOf(r: HttpRequest, t: SubrequestTransport): HttpRequest {
  const sub = new HttpRequest(r.head, 0, t, r.connectionRequests, BODY_NONE);
  t.request = sub;
  sub.parent = r;
  sub.internal = true;
  sub.remoteAddr = r.remoteAddr;
  sub.remotePort = r.remotePort;
  sub.server = r.server;
  sub.host = r.host;
  sub.serverName = r.serverName;
  return sub;
}
