/**
 * Cooperative slicing of long builds on the serving thread (a reload's snapshot of a
 * 10,000-server config takes ~1 s of CPU): the build gives the event loop a turn whenever
 * `sliceMs` have passed since its last turn, so requests that arrive during it wait at most about
 * one slice, not the whole build. A leaf: every layer that builds (upstream, core, http, tcp,
 * runtime) imports it.
 *
 * Two ways to write a step that may pause, one implementation each:
 * - async code: `if (slice.due()) await slice.yield();` between independent pieces of work;
 * - sync code that is also called synchronously (constructors, tests): a generator (`Steps<T>`)
 *   that `yield`s between pieces; `runNow(steps)` runs it to its end at once, `slice.run(steps)`
 *   runs it with pauses. The generator's `yield` only marks a point where a pause may happen.
 */
import { TsproxyError } from './errors.js';

/** A resumable computation of T: each `yield` is a point where the caller may pause it. */
export type Steps<T> = Generator<void, T, void>;

export class TimeSlicer {
  readonly #sliceMs: number;
  readonly #cancelled: () => boolean;
  #since = performance.now();
  /** Turns given to the event loop so far (tests, measurements). */
  yields = 0;

  /**
   * `sliceMs`: the longest stretch of work between two turns (0: a turn at every point, as tests
   * use to interleave traffic with each piece; Infinity: never, see NO_SLICES). `cancelled`: asked
   * after each turn; true makes yield() throw (the runtime is stopping), so the build unwinds.
   */
  constructor(sliceMs: number, cancelled: () => boolean = () => false) {
    this.#sliceMs = sliceMs;
    this.#cancelled = cancelled;
  }

  /** Whether the current stretch of work has used its slice. */
  due(): boolean {
    return this.#sliceMs !== Infinity && performance.now() - this.#since >= this.#sliceMs;
  }

  /**
   * Give traffic its share, then start a new slice. Throws when cancelled.
   *
   * One setImmediate turn is not enough: it serves what had already arrived, which for a
   * keep-alive client is one request per connection, and the next request comes a round trip
   * later, inside the next slice. A build of a second of CPU in 10 ms slices then served ~16
   * requests per slice over 16 connections (measured: 600 req/s, a 1000 req/s load queued for
   * 1.5 s; bench/big-config.ts --part b). So the slicer pauses for half a slice (a timer: the
   * loop waits in its poll phase and serves every round trip that comes meanwhile): the build
   * gets two thirds of the thread, traffic one third and waits at most about one slice.
   * A 0 ms slicer (tests) takes one setImmediate turn per point.
   */
  async yield(): Promise<void> {
    this.yields++;
    // Half of what the slice really took: a slice that overran (a GC, a big indivisible step)
    // is followed by a longer pause, so traffic keeps its third of the thread.
    const pauseMs = Math.max(this.#sliceMs, performance.now() - this.#since) / 2;
    await new Promise<void>((resolve) => (this.#sliceMs > 0 && pauseMs >= 1 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
    if (this.#cancelled()) throw new TsproxyError('TSP_ERR_RELOAD', 'tsproxy is stopping');
    this.#since = performance.now();
  }

  /** Run `steps` to its end, pausing at its points whenever the slice is used up. */
  async run<T>(steps: Steps<T>): Promise<T> {
    for (;;) {
      const r = steps.next();
      if (r.done === true) return r.value;
      if (this.due()) await this.yield();
    }
  }
}

/** A slicer that never pauses (startup: no traffic yet; builds outside a runtime). */
export const NO_SLICES: TimeSlicer = new TimeSlicer(Infinity);

/** Run `steps` to its end synchronously. */
export function runNow<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}
