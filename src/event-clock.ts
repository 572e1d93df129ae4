/**
 * The event clock (issue 18): one `Date.now()` per socket event instead of one per reader. A
 * small proxied response read the clock eight times (request start, the peer pick, the try's
 * start; the upstream header time, keepalive_time, the try's end, the status accounting, the
 * keep-alive wait), ~75 ns each on the bench machine, two events apart. The handlers that libuv
 * enters for a socket read (ClientConnection's 'data', UpstreamConn's `onread`) run their work
 * through `atEvent` (an `enterEvent()` / `leaveEvent()` bracket); inside, `nowMs()` returns the time read at entry, as
 * nginx's cached `ngx_current_msec` (updated once per event-loop turn) does. Outside a bracket
 * (timers, promise continuations, HTTP/2 streams, tests) it reads the clock: never stale by more
 * than the synchronous run of one event. A leaf: imports nothing.
 */

let depth = 0;
let cachedMs = 0;

/** Milliseconds since the epoch, as `Date.now()`: the event's time inside a bracket. */
export function nowMs(): number {
  return depth > 0 ? cachedMs : Date.now();
}

/** Opens a bracket (brackets nest: an inner one keeps the outer time). Pair with `leaveEvent` in a `finally`. */
export function enterEvent(): void {
  if (depth++ === 0) cachedMs = Date.now();
}

export function leaveEvent(): void {
  depth--;
}

/** `fn(target, arg)` inside a bracket: the one way a socket handler opens it (no closure per event). */
export function atEvent<T, A>(fn: (target: T, arg: A) => void, target: T, arg: A): void {
  enterEvent();
  try {
    fn(target, arg);
  } finally {
    leaveEvent();
  }
}
