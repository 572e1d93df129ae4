/**
 * NameResolver against a real DNS server (test/helpers/dns.ts): the configured servers are asked
 * (not the system's), A and AAAA with their TTL, `valid=` over the TTL, `ipv6=off`, and nginx's
 * resolver states for what fails.
 */
import { describe, expect, test } from 'vitest';
import type { ResolverConfig } from '../../src/config/types.js';
import { NameResolver, ResolveFailure } from '../../src/upstream/resolve.js';
import { startDnsServer } from '../helpers/dns.js';

const LOC = { file: 't.conf', line: 1, column: 1 };

function resolverFor(address: string, over: Partial<ResolverConfig> = {}): NameResolver {
  return new NameResolver({ servers: [address], validMs: null, ipv6: true, timeoutMs: 2000, loc: LOC, ...over });
}

async function failure(p: Promise<unknown>): Promise<ResolveFailure> {
  const e = await p.then(() => null, (error: unknown) => error);
  expect(e).toBeInstanceOf(ResolveFailure);
  return e as ResolveFailure;
}

describe('NameResolver', () => {
  test('A and AAAA records of the configured server, used for their smallest TTL', async () => {
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1', '::1'], ttl: 7 } });
    const answer = await resolverFor(dns.address).resolve('backend.test');
    expect([...answer.addresses].sort()).toEqual(['127.0.0.1', '::1']);
    expect(answer.ttlMs).toBe(7000);
    expect(dns.asked.sort()).toEqual(['backend.test A', 'backend.test AAAA']);
  });

  test('valid= decides instead of the TTL; ipv6=off asks for A records only', async () => {
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1', '::1'], ttl: 300 } });
    const answer = await resolverFor(dns.address, { validMs: 2000, ipv6: false }).resolve('backend.test');
    expect(answer).toEqual({ addresses: ['127.0.0.1'], ttlMs: 2000 });
    expect(dns.asked).toEqual(['backend.test A']);
  });

  test('a TTL of 0 is used for a second, not in a loop', async () => {
    const dns = await startDnsServer({ 'backend.test': { addresses: ['127.0.0.1'], ttl: 0 } });
    expect((await resolverFor(dns.address).resolve('backend.test')).ttlMs).toBe(1000);
  });

  test('NXDOMAIN and a name without records are "3: Host not found"', async () => {
    const dns = await startDnsServer({ 'empty.test': { addresses: [] } });
    const r = resolverFor(dns.address);
    const missing = await failure(r.resolve('missing.test'));
    expect(missing.message).toBe('3: Host not found');
    expect(missing.notFound).toBe(true);
    expect((await failure(r.resolve('empty.test'))).notFound).toBe(true);
  });

  test('SERVFAIL is "2: Server failure", no answer is "110: Operation timed out": neither is not-found', async () => {
    const dns = await startDnsServer({ 'broken.test': 'servfail', 'silent.test': 'drop' });
    const r = resolverFor(dns.address, { timeoutMs: 300 });
    const broken = await failure(r.resolve('broken.test'));
    expect(broken.message).toBe('2: Server failure');
    expect(broken.notFound).toBe(false);
    const silent = await failure(r.resolve('silent.test'));
    expect(silent.message).toBe('110: Operation timed out');
    expect(silent.code).toBe('TSP_ERR_RESOLVE');
  });
});
