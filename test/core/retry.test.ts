import net from 'node:net';
import { describe, expect, test } from 'vitest';
import { PeerTries, type RetryLimits } from '../../src/core/retry.js';
import { UpstreamAttempts } from '../../src/upstream/attempts.js';
import { UpstreamGroup } from '../../src/upstream/group.js';
import type { Peer } from '../../src/upstream/peer.js';
import { PeerRegistry } from '../../src/upstream/registry.js';
import { deadPort, tcpServer } from '../tcp/stream-harness.js';
import { server, upstream } from '../upstream/helpers.js';

async function group(addresses: string[], params: Parameters<typeof server>[1] = {}): Promise<UpstreamGroup> {
  return UpstreamGroup.create(upstream('app', addresses.map((a) => server(a, params))), new PeerRegistry());
}

function connectTo(peer: Peer): Promise<net.Socket | Error> {
  return new Promise((resolve) => {
    const s = net.connect({ host: peer.host!, port: peer.port });
    s.once('error', (err) => resolve(err));
    s.once('connect', () => resolve(s));
  });
}

/**
 * The loop as a protocol runs it over PeerTries, on real sockets: connect failures are retried
 * while `retry` (the protocol's condition) and the budget allow.
 */
async function run(g: UpstreamGroup, limits: RetryLimits, retry = true): Promise<{ socket: net.Socket | null; log: UpstreamAttempts; tries: PeerTries }> {
  const tries = new PeerTries(limits);
  const log = new UpstreamAttempts();
  tries.start(g);
  for (;;) {
    const peer = tries.pick('127.0.0.1', null);
    if (peer === null) {
      tries.noPeer(log)?.end(Date.now());
      return { socket: null, log, tries };
    }
    const attempt = tries.begin(peer, log);
    const result = await connectTo(peer);
    if (!(result instanceof Error)) {
      result.destroy();
      tries.release(peer, false);
      return { socket: result, log, tries };
    }
    attempt.fail(502, Date.now());
    tries.release(peer, true);
    tries.markTried(peer);
    if (!retry || !tries.budgetLeft()) return { socket: null, log, tries };
  }
}

const addrs = (log: UpstreamAttempts): string => log.list.map((a) => a.addr).join(', ');

describe('PeerTries: the next-upstream loop http and stream share', () => {
  test('a refused peer is noted failed and skipped; the next one takes the connection', async () => {
    const dead = `127.0.0.1:${await deadPort()}`;
    const live = (await tcpServer(() => {})).address;
    const g = await group([dead, live]);
    const { socket, log, tries } = await run(g, { tries: 0, retryTimeoutMs: 0 });
    expect(socket).not.toBeNull();
    expect(addrs(log)).toBe(`${dead}, ${live}`);
    expect(tries.attempts).toBe(2);
    // max_fails 1: passive health took the refused peer out, so the next request starts on the live one.
    expect(g.peers[0]!.fails).toBe(1);
    const again = await run(g, { tries: 0, retryTimeoutMs: 0 });
    expect(addrs(again.log)).toBe(live);
  });

  test('tries bound the loop; without the condition there is no second try', async () => {
    const d = [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`];
    const twice = await run(await group(d, { maxFails: 0 }), { tries: 2, retryTimeoutMs: 0 });
    expect(twice.socket).toBeNull();
    expect(addrs(twice.log)).toBe(`${d[0]}, ${d[1]}`);
    const once = await run(await group(d, { maxFails: 0 }), { tries: 0, retryTimeoutMs: 0 }, false);
    expect(addrs(once.log)).toBe(d[0]);
  });

  test('when every peer failed, the try that finds none is listed as the group (nginx) only while its tries remain', async () => {
    const d = [`127.0.0.1:${await deadPort()}`, `127.0.0.1:${await deadPort()}`];
    // Each failure takes its peer out (max_fails 1): after both, no live peer is left to pick.
    const g = await group(d);
    const all = await run(g, { tries: 0, retryTimeoutMs: 0 });
    expect(addrs(all.log)).toBe(`${d[0]}, ${d[1]}`);
    // The next request's first pick finds none: that try is listed as the group's name.
    const none = await run(g, { tries: 0, retryTimeoutMs: 0 });
    expect(addrs(none.log)).toBe('app');
  });

  test('the time budget counts from start()', async () => {
    const tries = new PeerTries({ tries: 0, retryTimeoutMs: 100 });
    tries.start(await group(['127.0.0.1:1']));
    expect(tries.budgetLeft()).toBe(true);
    await expect.poll(() => tries.budgetLeft(), { timeout: 2000 }).toBe(false);
  });

  test('a try taken back does not count against the tries', async () => {
    const g = await group(['127.0.0.1:1', '127.0.0.1:2']);
    const tries = new PeerTries({ tries: 1, retryTimeoutMs: 0 });
    const log = new UpstreamAttempts();
    tries.start(g);
    const peer = tries.pick('127.0.0.1', null)!;
    const record = tries.begin(peer, log);
    expect(tries.budgetLeft()).toBe(false);
    tries.release(peer, false);
    tries.takeBack(record, log);
    expect([tries.budgetLeft(), log.list.length]).toEqual([true, 0]);
  });
});
