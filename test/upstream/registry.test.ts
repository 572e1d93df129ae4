import { describe, expect, test } from 'vitest';
import { peerKeyOf } from '../../src/upstream/peer.js';
import { PeerRegistry, registryKey } from '../../src/upstream/registry.js';
import { server } from './helpers.js';

describe('peerKeyOf', () => {
  test.each([
    { address: { kind: 'tcp', host: '127.0.0.1', port: 80 }, key: '127.0.0.1:80' },
    { address: { kind: 'tcp', host: '::1', port: 80 }, key: '[::1]:80' },
    { address: { kind: 'unix', path: '/run/a.sock' }, key: 'unix:/run/a.sock' },
  ] as const)('$key', ({ address, key }) => {
    expect(peerKeyOf(address)).toBe(key);
  });
});

describe('PeerRegistry', () => {
  test('acquire returns the same Peer for the same (upstream, address) and refreshes parameters', () => {
    const r = new PeerRegistry();
    const addr = { kind: 'tcp', host: '127.0.0.1', port: 1 } as const;
    const a = r.acquire('app', server('127.0.0.1:1', { weight: 2, maxFails: 3 }), addr);
    a.requests = 5;
    a.currentWeight = 7;
    const b = r.acquire('app', server('127.0.0.1:1', { weight: 4, maxFails: 0, down: true }), addr);
    expect(b).toBe(a);
    expect(b.requests).toBe(5);
    expect([b.weight, b.maxFails, b.down]).toEqual([4, 0, true]);
    // a weight change restarts the smooth RR state
    expect([b.currentWeight, b.effectiveWeight]).toEqual([0, 4]);
    expect(r.acquire('other', server('127.0.0.1:1'), addr)).not.toBe(a);
    expect(r.size).toBe(2);
  });

  test('retain drops and retires everything else; release drops one', () => {
    const r = new PeerRegistry();
    const a = r.acquire('app', server('127.0.0.1:1'), { kind: 'tcp', host: '127.0.0.1', port: 1 });
    const b = r.acquire('app', server('127.0.0.1:2'), { kind: 'tcp', host: '127.0.0.1', port: 2 });
    const c = r.acquire('app', server('127.0.0.1:3'), { kind: 'tcp', host: '127.0.0.1', port: 3 });
    expect(r.retain([registryKey('app', a.key), registryKey('app', c.key)])).toEqual([b]);
    expect([a.retired, b.retired, c.retired]).toEqual([false, true, false]);
    expect(r.has('app', '127.0.0.1:2')).toBe(false);
    expect(r.release('app', '127.0.0.1:3')).toBe(true);
    expect(c.retired).toBe(true);
    expect(r.release('app', '127.0.0.1:3')).toBe(false);
    expect([...r.peers()]).toEqual([a]);
    // a dropped address comes back as a fresh peer
    const b2 = r.acquire('app', server('127.0.0.1:2'), { kind: 'tcp', host: '127.0.0.1', port: 2 });
    expect(b2).not.toBe(b);
    expect(b2.retired).toBe(false);
  });
});
