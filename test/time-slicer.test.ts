/**
 * The deadline-based yielder a reload's build runs under (src/time-slicer.ts).
 */
import net from 'node:net';
import { describe, expect, onTestFinished, test } from 'vitest';
import { NO_SLICES, runNow, TimeSlicer, type Steps } from '../src/time-slicer.js';

/** `n` pieces of work, a pause point after each; records the order of pieces. */
function* pieces(n: number, log: string[]): Steps<number> {
  for (let i = 0; i < n; i++) {
    log.push(`piece ${i}`);
    yield;
  }
  return n;
}

function busyFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: a synchronous stretch of work
  }
}

describe('TimeSlicer', () => {
  test('is due once its slice has passed since the last turn, and a turn starts a new slice', async () => {
    const slice = new TimeSlicer(20);
    expect(slice.due()).toBe(false);
    busyFor(25);
    expect(slice.due()).toBe(true);
    await slice.yield();
    expect(slice.due()).toBe(false);
    expect(slice.yields).toBe(1);
  });

  test('a turn lets work queued on the event loop run before the build goes on', async () => {
    const slice = new TimeSlicer(0);
    const log: string[] = [];
    setImmediate(() => log.push('queued work'));
    const done = slice.run(pieces(3, log));
    log.push('run returned its promise');
    expect(await done).toBe(3);
    // the first piece runs at once; the queued work runs at the first turn, before piece 1
    expect(log).toEqual(['piece 0', 'run returned its promise', 'queued work', 'piece 1', 'piece 2']);
    expect(slice.yields).toBe(3);
  });

  test('run() pauses only when the slice is used up', async () => {
    const slice = new TimeSlicer(1_000);
    const log: string[] = [];
    expect(await slice.run(pieces(50, log))).toBe(50);
    expect(slice.yields).toBe(0);
    expect(log).toHaveLength(50);
  });

  test('NO_SLICES never pauses, and runNow runs the same steps synchronously', async () => {
    busyFor(15);
    expect(NO_SLICES.due()).toBe(false);
    expect(await NO_SLICES.run(pieces(5, []))).toBe(5);
    const log: string[] = [];
    expect(runNow(pieces(4, log))).toBe(4);
    expect(log).toEqual(['piece 0', 'piece 1', 'piece 2', 'piece 3']);
  });

  test('a cancelled slicer throws at its next turn, so the build stops there', async () => {
    let stopping = false;
    const slice = new TimeSlicer(0, () => stopping);
    const log: string[] = [];
    setImmediate(() => (stopping = true));
    await expect(slice.run(pieces(10, log))).rejects.toThrow('tsproxy is stopping');
    expect(log).toEqual(['piece 0']);
  });

  test('a pause serves several round trips of a keep-alive connection, not one per slice', async () => {
    // A ping-pong over a real socket stands for a keep-alive client: it sends its next request
    // only after the answer. A bare setImmediate turn served one exchange per slice (a reload's
    // build then starved a steady load: bench/big-config.ts --part b).
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(d));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    client.on('error', () => undefined);
    onTestFinished(() => {
      client.destroy();
      server.close();
    });
    await new Promise<void>((resolve) => client.once('connect', resolve));
    let exchanges = 0;
    client.on('data', () => {
      exchanges++;
      client.write('x');
    });
    client.write('x');
    function* build(): Steps<void> {
      for (let i = 0; i < 20; i++) {
        busyFor(10);
        yield;
      }
    }
    const slice = new TimeSlicer(10);
    exchanges = 0;
    await slice.run(build());
    expect(slice.yields).toBeGreaterThanOrEqual(15);
    expect(exchanges).toBeGreaterThan(3 * slice.yields);
  });
});

