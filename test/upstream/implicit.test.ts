import { describe, expect, test } from 'vitest';
import { UpstreamGroup } from '../../src/upstream/group.js';
import { ImplicitGroups } from '../../src/upstream/implicit.js';

const KEEPALIVE = { keepalive: 0, keepaliveTimeoutMs: 60_000, keepaliveRequests: 1000, keepaliveTimeMs: 3_600_000 };

describe('implicit groups (proxy_pass to an address no upstream names)', () => {
  test('one one-server group per address: made once, then returned without a promise', async () => {
    const groups = new ImplicitGroups({ namespace: 'test ', keepalive: KEEPALIVE, maxCached: 8 });
    const first = groups.get('127.0.0.1:9001', null);
    expect(first).toBeInstanceOf(Promise);
    const group = await first;
    expect(group).toBeInstanceOf(UpstreamGroup);
    expect(group!.peers.map((p) => p.key)).toEqual(['127.0.0.1:9001']);
    expect(group!.config.implicit).toBe(true);
    // the same address however it is spelt: the group itself, synchronously
    expect(groups.get('127.0.0.1:9001', null)).toBe(group);
    expect(await groups.get('LOCALHOST:9001', null)).toBe(await groups.get('localhost:9001', null));
    expect(await groups.get('unix:/run/app.sock', null)).toMatchObject({ name: 'unix:/run/app.sock' });
  });

  test('a missing port takes the default, or is refused without one (stream); garbage is null', async () => {
    const groups = new ImplicitGroups({ namespace: 'test ', keepalive: KEEPALIVE, maxCached: 8 });
    expect((await groups.get('127.0.0.1', 80))!.peers[0]!.key).toBe('127.0.0.1:80');
    expect(groups.get('127.0.0.1', null)).toBeNull();
    expect(groups.get('a b', 80)).toBeNull();
    expect(groups.get('127.0.0.1:0', null)).toBeNull();
  });

  test('bounded: past maxCached the oldest group is forgotten and made again on its next use', async () => {
    const groups = new ImplicitGroups({ namespace: 'test ', keepalive: KEEPALIVE, maxCached: 2 });
    const a = await groups.get('127.0.0.1:1001', null);
    await groups.get('127.0.0.1:1002', null);
    await groups.get('127.0.0.1:1003', null);
    const again = await groups.get('127.0.0.1:1001', null);
    expect(again).not.toBe(a);
    expect(again!.peers[0]!.key).toBe('127.0.0.1:1001');
  });

  test('an unresolvable host name is not cached: a later lookup tries again', async () => {
    const groups = new ImplicitGroups({ namespace: 'test ', keepalive: KEEPALIVE, maxCached: 8 });
    expect(await groups.get('no-such-host.invalid:80', null)).toBeNull();
    expect(groups.get('no-such-host.invalid:80', null)).toBeInstanceOf(Promise);
  });

  test('resolve: a group of the config by name, or by the address it serves, before an implicit one', async () => {
    const maker = new ImplicitGroups({ namespace: 'config ', keepalive: KEEPALIVE, maxCached: 8 });
    const backend = (await maker.get('127.0.0.1:7001', null))!;
    const staticPass = (await maker.get('127.0.0.2:80', null))!;
    const named = new Map([['backend', backend], ['127.0.0.2:80', staticPass]]);
    const groups = new ImplicitGroups({ named, namespace: 'test ', keepalive: KEEPALIVE, maxCached: 8 });
    expect(groups.resolve('backend', null)).toBe(backend);
    // the address with its default port is the key of the group a static proxy_pass made
    expect(groups.resolve('127.0.0.2', 80)).toBe(staticPass);
    const other = await groups.resolve('127.0.0.3:80', null);
    expect(other).not.toBe(staticPass);
    expect(other!.peers[0]!.key).toBe('127.0.0.3:80');
    expect(groups.resolve('', null)).toBeNull();
  });
});
