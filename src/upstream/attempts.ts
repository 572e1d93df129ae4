/**
 * What each try of a request or session did with its upstream, for nginx's `$upstream_*`
 * variables: they list one value per try, ", " between tries and " : " between the upstream
 * phases of one request (an error_page that proxies again), e.g. `$upstream_status` "502, 200"
 * or "502 : 503". One record per try, filled in by the proxy as the try goes; the lists are only
 * built when a log line (or another template) reads them.
 */

import type { Peer } from './peer.js';

/** One try: a peer (or, when no peer was live, the group's name) and what happened. */
export class UpstreamAttempt {
  /** The peer tried; null for a try listed as the group's name (no live peer). */
  peer: Peer | null = null;
  /** The try ended on a timeout (connect, send or read). */
  timedOut = false;
  /** Already counted in the peer's status counters (stats.ts). */
  accounted = false;
  /** "127.0.0.1:9001"; the upstream's name when no peer could be picked (nginx). */
  readonly addr: string;
  readonly startMs: number;
  /** The upstream's status, the status a failed try answered with (502, 504), 0 when none. */
  status = 0;
  /** ms from the start; -1 until reached. */
  connectMs = -1;
  headerMs = -1;
  firstByteMs = -1;
  endMs = -1;
  bytesSent = 0;
  bytesReceived = 0;
  /** Response body bytes received (http). */
  bodyBytes = 0;

  constructor(addr: string, startMs: number) {
    this.addr = addr;
    this.startMs = startMs;
  }

  /** The try is over (idempotent: the first end counts). */
  end(now: number): void {
    if (this.endMs < 0) this.endMs = now - this.startMs;
  }

  /** The try ended without a response to pass on: listed with `status` (502, 504...) unless it had one. */
  fail(status: number, now: number): void {
    if (this.status === 0) this.status = status;
    this.end(now);
  }
}

/** Milliseconds as nginx prints times: seconds with 3 decimals. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** A time that may not have been reached: "-" then. */
export function secondsOrDash(ms: number): string {
  return ms < 0 ? '-' : seconds(ms);
}

export class UpstreamAttempts {
  readonly list: UpstreamAttempt[] = [];
  /** Where each phase after the first starts in `list`; null while there is one phase. */
  #phases: number[] | null = null;

  /** A new upstream phase of the same request begins (its tries are listed after " : "). */
  newPhase(): void {
    if (this.list.length > 0) (this.#phases ??= []).push(this.list.length);
  }

  start(addr: string, now: number): UpstreamAttempt {
    const a = new UpstreamAttempt(addr, now);
    this.list.push(a);
    return a;
  }

  /** Take back a try that does not count (a pooled connection the peer had just closed). */
  forget(a: UpstreamAttempt): void {
    const i = this.list.lastIndexOf(a);
    if (i !== -1) this.list.splice(i, 1);
  }

  get last(): UpstreamAttempt | null {
    return this.list[this.list.length - 1] ?? null;
  }

  /** One value per try, as nginx joins them. */
  format(value: (a: UpstreamAttempt) => string): string {
    const list = this.list;
    if (list.length === 1) return value(list[0]!);
    const phases = this.#phases;
    let out = '';
    let next = 0;
    for (let i = 0; i < list.length; i++) {
      if (i > 0) {
        if (phases !== null && phases[next] === i) {
          out += ' : ';
          next++;
        } else out += ', ';
      }
      out += value(list[i]!);
    }
    return out;
  }
}

/** The `$upstream_*` values both http and stream share, by variable name (without `$`). */
export const ATTEMPT_VALUES: Readonly<Record<string, (a: UpstreamAttempt) => string>> = {
  upstream_addr: (a) => a.addr,
  upstream_connect_time: (a) => secondsOrDash(a.connectMs),
  upstream_bytes_sent: (a) => String(a.bytesSent),
  upstream_bytes_received: (a) => String(a.bytesReceived),
};
