import { describe, expect, test } from 'vitest';
import { Peer, peerKeyOf } from '../../src/upstream/peer.js';
import { PeerRegistry, registryKey } from '../../src/upstream/registry.js';

describe('peerKeyOf', () => {
  test.each([
    { address: { kind: 'tcp', host: '127.0.0.1', port: 80 }, key: '127.0.0.1:80' },
    { address: { kind: 'tcp', host: '::1', port: 80 }, key: '[::1]:80' },
    { address: { kind: 'unix', path: '/run/a.sock' }, key: 'unix:/run/a.sock' },
  ] as const)('$key', ({ address, key }) => {
    expect(peerKeyOf(address)).toBe(key);
  });
});

/** A new peer of `upstream` on 127.0.0.1:port, registered as a commit does. */
function adopted(r: PeerRegistry, upstream: string, port: number): Peer {
  const peer = new Peer(upstream, { kind: 'tcp', host: '127.0.0.1', port });
  expect(r.adopt(upstream, peer)).toBe(true);
  return peer;
}

describe('PeerRegistry', () => {
  test('adopt registers a peer under (upstream, id); the first one of a key stays', () => {
    const r = new PeerRegistry();
    const a = adopted(r, 'app', 1);
    expect(r.get('app', '127.0.0.1:1')).toBe(a);
    expect(r.byKey(registryKey('app', '127.0.0.1:1'))).toBe(a);
    expect(r.adopt('app', new Peer('app', { kind: 'tcp', host: '127.0.0.1', port: 1 }))).toBe(false);
    expect(r.get('app', '127.0.0.1:1')).toBe(a);
    // the same address in another upstream is another peer; a second line of it is keyed #2
    const other = adopted(r, 'other', 1);
    expect(other).not.toBe(a);
    const second = new Peer('app', { kind: 'tcp', host: '127.0.0.1', port: 1 }, 2);
    expect(r.adopt('app', second)).toBe(true);
    expect(r.get('app', '127.0.0.1:1#2')).toBe(second);
    expect(r.size).toBe(3);
  });

  test('retainSteps: a peer adopted during a pause (a `resolve` answer) stays; one released meanwhile is not dropped twice', () => {
    const r = new PeerRegistry();
    const kept = adopted(r, 'app', 1);
    const old = adopted(r, 'app', 2);
    const leaving = adopted(r, 'app', 3);
    const steps = r.retainSteps([registryKey('app', kept.key)]);
    steps.next(); // the walk has begun and paused
    const late = adopted(r, 'app', 4);
    expect(r.release('app', '127.0.0.1:3')).toBe(true);
    let step = steps.next();
    while (step.done !== true) step = steps.next();
    expect(step.value).toEqual([old]);
    expect([kept.retired, old.retired, leaving.retired, late.retired]).toEqual([false, true, true, false]);
    expect([...r.peers()]).toEqual([kept, late]);
  });

  test('retain drops and retires everything else; release drops one', () => {
    const r = new PeerRegistry();
    const a = adopted(r, 'app', 1);
    const b = adopted(r, 'app', 2);
    const c = adopted(r, 'app', 3);
    expect(r.retain([registryKey('app', a.key), registryKey('app', c.key)])).toEqual([b]);
    expect([a.retired, b.retired, c.retired]).toEqual([false, true, false]);
    expect(r.has('app', '127.0.0.1:2')).toBe(false);
    expect(r.release('app', '127.0.0.1:3')).toBe(true);
    expect(c.retired).toBe(true);
    expect(r.release('app', '127.0.0.1:3')).toBe(false);
    expect([...r.peers()]).toEqual([a]);
    // a dropped address comes back as a fresh peer
    const b2 = adopted(r, 'app', 2);
    expect(b2).not.toBe(b);
    expect(b2.retired).toBe(false);
  });
});
