/**
 * nginx's stub_status counters of this process (ngx_stat_*): connections accepted and active
 * (every client connection, http and stream: runtime/listeners.ts), requests (http, each HTTP/2
 * stream one), requests in progress ("writing"), heads being read ("reading") and stream sessions
 * (which nginx counts as active but neither reading, writing nor waiting). Plain increments: the
 * counters cost nothing to keep. With worker processes the primary sums every worker's.
 */
export interface ConnectionCounters {
  accepted: number;
  active: number;
  requests: number;
  reading: number;
  writing: number;
  stream: number;
}

export const connectionStats: ConnectionCounters = { accepted: 0, active: 0, requests: 0, reading: 0, writing: 0, stream: 0 };

/** What stub_status and $connections_* show. */
export interface StatusCounts {
  readonly active: number;
  readonly accepts: number;
  readonly handled: number;
  readonly requests: number;
  readonly reading: number;
  readonly writing: number;
  readonly waiting: number;
}

/** This process's counts; waiting = open http connections doing neither (keep-alive, TLS handshakes). */
export function localCounts(c: ConnectionCounters = connectionStats): StatusCounts {
  return {
    active: c.active,
    accepts: c.accepted,
    // tsproxy drops no accepted connection (nginx: handled < accepts when worker_connections ran out).
    handled: c.accepted,
    requests: c.requests,
    reading: c.reading,
    writing: c.writing,
    waiting: Math.max(0, c.active - c.reading - c.writing - c.stream),
  };
}

export function sumCounts(all: readonly StatusCounts[]): StatusCounts {
  const s = { active: 0, accepts: 0, handled: 0, requests: 0, reading: 0, writing: 0, waiting: 0 };
  for (const c of all) {
    s.active += c.active;
    s.accepts += c.accepts;
    s.handled += c.handled;
    s.requests += c.requests;
    s.reading += c.reading;
    s.writing += c.writing;
    s.waiting += c.waiting;
  }
  return s;
}

/** nginx's page, byte for byte (checked with nginx 1.22: a space before each line end). */
export function renderStubStatus(c: StatusCounts): string {
  return `Active connections: ${c.active} \nserver accepts handled requests\n ${c.accepts} ${c.handled} ${c.requests} \n`
    + `Reading: ${c.reading} Writing: ${c.writing} Waiting: ${c.waiting} \n`;
}
