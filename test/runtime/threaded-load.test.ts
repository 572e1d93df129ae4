/**
 * A reload's load thread that fails is a failed reload, never a failed process: a thread that
 * hangs is ended after the timeout, one that exits or throws rejects with the reason. (The
 * loader's own thread, load-thread.ts, is exercised through the command line by the reload tests.)
 */
import { describe, expect, test } from 'vitest';
import { FileReads } from '../../src/config/file-reads.js';
import { ConfigLoadThread } from '../../src/runtime/threaded-load.js';

const fixture = (name: string) => new URL(`../fixtures/load-thread/${name}`, import.meta.url);
const request = { configPath: '/nonexistent/tsproxy.conf', prefix: '/nonexistent' };

describe('ConfigLoadThread', () => {
  test('a thread that does not answer in time is ended and the load rejected', async () => {
    const before = performance.now();
    await expect(new ConfigLoadThread({ entry: fixture('hangs.mjs'), timeoutMs: 300 }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread did not answer within 300 ms');
    expect(performance.now() - before).toBeLessThan(5_000);
  });

  test('a thread that exits before answering rejects with its exit code', async () => {
    await expect(new ConfigLoadThread({ entry: fixture('exits.mjs') }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread exited with code 3 before answering');
  });

  test('a thread that throws rejects with its error', async () => {
    await expect(new ConfigLoadThread({ entry: fixture('throws.mjs') }).load(request, new FileReads()))
      .rejects.toThrow('the config load thread failed: boom in the thread');
  });
});
