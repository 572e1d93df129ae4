/**
 * The client side of an explained request: a ClientTransport with no socket. It records the
 * answer the engine would write (status and header lines) and tells the explanation when the
 * request got one; it never reads or writes anything.
 */
import type { ClientTransport, Exchange } from '../../http/transport.js';
import type { HttpSite } from '../../http/site.js';
import type { VirtualHosts } from '../../http/router.js';
import type { LocationPlan } from '../../http/plan.js';

export interface LocalAnswer {
  readonly status: number;
  readonly head: readonly string[];
}

export class ExplainTransport implements ClientTransport {
  readonly id = 1;
  readonly http2 = false;
  readonly tls = null;
  readonly proxyProtocolAddr = null;
  readonly proxyProtocolPort = null;
  readonly passesChunked = true;
  readonly output = { writableLength: 0 };
  readonly upgradable = null;
  readonly readingBody = false;
  exchange: Exchange | null = null;
  closed = false;
  #status = 0;
  #fields: string[] = [];
  readonly site: HttpSite;
  readonly vhosts: VirtualHosts;
  readonly remoteAddr: string;
  readonly remotePort = 50000;
  readonly serverAddr: string;
  readonly serverPort: number;
  /** Called once: the answer, or null when the connection would be closed without one. */
  readonly #done: (answer: LocalAnswer | null) => void;

  constructor(site: HttpSite, vhosts: VirtualHosts, addrs: { remoteAddr: string; serverAddr: string; serverPort: number }, done: (answer: LocalAnswer | null) => void) {
    this.site = site;
    this.vhosts = vhosts;
    this.remoteAddr = addrs.remoteAddr;
    this.serverAddr = addrs.serverAddr;
    this.serverPort = addrs.serverPort;
    this.#done = done;
  }

  status(code: number): void {
    this.#status = code;
    this.#fields = [];
  }

  field(name: string, value: string): void {
    this.#fields.push(`${name}: ${value}`);
  }

  sendHead(): number {
    this.#finish({ status: this.#status, head: this.#fields });
    return 0;
  }

  data(): boolean {
    return true;
  }

  end(): void {
    this.#finish(null);
  }

  abort(): void {
    this.#finish(null);
  }

  #finish(answer: LocalAnswer | null): void {
    if (this.closed) return;
    this.closed = true;
    this.#done(answer);
  }

  requestsLeft(_plan: LocationPlan | null): boolean {
    return true;
  }

  stopBody(): boolean {
    return true;
  }

  sendContinue(): void {}
  cork(): void {}
  uncork(): void {}
  bodyComplete(): void {}
  setTimeout(): void {}
  pause(): void {}
  resume(): void {}
  replay(): void {}
}
