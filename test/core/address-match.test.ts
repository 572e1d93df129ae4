import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { binaryAddress, compileAccessRules, compileTrustedPeers } from '../../src/core/address-match.js';
import type { AccessRule } from '../../src/config/types.js';
import { parseAddressSource } from '../../src/config/units.js';

const loc = { file: 't.conf', line: 1, column: 1 };
const rules = (...r: [AccessRule['action'], string][]): AccessRule[] => r.map(([action, source]) => ({ action, source, loc }));

describe('compileAccessRules', () => {
  it('allows everything without rules', () => {
    expect(compileAccessRules([])('203.0.113.9')).toBe(true);
  });

  it('takes the first matching rule (nginx example)', () => {
    const check = compileAccessRules(
      rules(['deny', '192.168.1.1'], ['allow', '192.168.1.0/24'], ['allow', '10.1.1.0/16'], ['allow', '2001:0db8::/32'], ['deny', 'all']),
    );
    expect(check('192.168.1.1')).toBe(false);
    expect(check('192.168.1.2')).toBe(true);
    expect(check('10.1.200.7')).toBe(true);
    expect(check('10.2.0.1')).toBe(false);
    expect(check('2001:db8:1::5')).toBe(true);
    expect(check('2001:db9::1')).toBe(false);
    expect(check('unix:')).toBe(false);
  });

  it('checks IPv4-mapped IPv6 clients against IPv4 rules', () => {
    const check = compileAccessRules(rules(['deny', '127.0.0.0/8'], ['allow', 'all']));
    expect(check('::ffff:127.0.0.1')).toBe(false);
    expect(check('::1')).toBe(true);
  });

  it('allows by default when no rule matches', () => {
    expect(compileAccessRules(rules(['deny', '10.0.0.0/8']))('11.0.0.1')).toBe(true);
  });

  it('ignores host bits and handles /0 and odd prefixes', () => {
    const check = compileAccessRules(rules(['allow', '10.1.2.3/23'], ['deny', '0.0.0.0/0']));
    expect(check('10.1.3.255')).toBe(true);
    expect(check('10.1.4.0')).toBe(false);
    expect(check('::2')).toBe(true);
  });
});

describe('parseAddressSource (what allow/deny and set_real_ip_from compile)', () => {
  it.each(['10.0.0.0/33', '::/129', 'x', '10.0.0.0/', '10.0.0.0/a', 'fe80::1%eth0'])('rejects %s', (s) => {
    expect(parseAddressSource(s)).toBe(null);
  });

  it('parses addresses, CIDRs and unix:', () => {
    expect(parseAddressSource('10.1.2.3/23')).toEqual({ kind: 'cidr', bytes: [10, 1, 2, 3], bits: 23 });
    expect(parseAddressSource('::1')).toEqual({ kind: 'cidr', bytes: [...new Array<number>(15).fill(0), 1], bits: 128 });
    expect(parseAddressSource('unix:')).toEqual({ kind: 'unix' });
  });
});

describe('compileAccessRules: client addresses in every form', () => {
  const check = compileAccessRules(rules(['allow', '2001:db8:0:0:8::/80'], ['allow', '10.0.0.0/8'], ['deny', 'all']));

  it.each([
    ['2001:db8::8:0:0:1', true],
    ['2001:0db8:0000:0000:0008:0000:0000:0001', true],
    ['2001:db8::9:0:0:1', false],
    ['2001:db8::8:0:0:1%eth0', true],
    ['2001:db8::8:1', false],
    ['::ffff:10.9.9.9', true],
    // nginx compares an IPv4-mapped address as IPv4 by its bytes, however it is written
    ['::ffff:a09:909', true],
    ['::10.9.9.9', false],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['010.0.0.1', false],
    ['10.0.0', false],
    ['10.0.0.1.2', false],
    ['10.0.0.256', false],
    ['1::2::3', false],
    ['1:2:3:4:5:6:7:8:9', false],
    ['2001:db8:', false],
    [':2001:db8::', false],
    ['', false],
    ['unix:', false],
    ['garbage', false],
  ])('%j → %s', (address, allowed) => {
    expect(check(address)).toBe(allowed);
  });

  it('IPv4 rules never match IPv6 clients nor the reverse (nginx)', () => {
    const v4 = compileAccessRules(rules(['deny', '0.0.0.0/0']));
    expect(v4('::1')).toBe(true);
    expect(v4('127.0.0.1')).toBe(false);
    const v6 = compileAccessRules(rules(['deny', '::/0']));
    expect(v6('127.0.0.1')).toBe(true);
    expect(v6('::ffff:127.0.0.1')).toBe(true);
    expect(v6('::2')).toBe(false);
  });

  it('any IPv6 address matches its own /128 and its /n CIDR, in full or compressed form; a flipped bit does not', () => {
    const text = (bytes: number[]): string => Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16)).join(':');
    // zero bytes often, so that '::' lands anywhere
    const byte = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 }));
    fc.assert(fc.property(fc.array(byte, { minLength: 16, maxLength: 16 }), fc.integer({ min: 1, max: 128 }), (bytes, bits) => {
      // IPv4-mapped addresses are compared as IPv4 (tested above)
      fc.pre(!(bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff));
      const full = text(bytes);
      const compressed = new net.SocketAddress({ address: full, family: 'ipv6' }).address;
      const flipped = [...bytes];
      flipped[(bits - 1) >> 3]! ^= 0x80 >> ((bits - 1) & 7);
      const exact = compileAccessRules(rules(['allow', `${compressed}/128`], ['deny', 'all']));
      const cidr = compileAccessRules(rules(['allow', `${full}/${bits}`], ['deny', 'all']));
      expect(exact(full) && exact(compressed) && cidr(compressed)).toBe(true);
      expect(cidr(text(flipped))).toBe(false);
    }));
  });

  it('any IPv4 address matches its /n CIDR; a flipped bit does not', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 32 }), (bytes, bits) => {
      const flipped = [...bytes];
      flipped[(bits - 1) >> 3]! ^= 0x80 >> ((bits - 1) & 7);
      const cidr = compileAccessRules(rules(['allow', `${bytes.join('.')}/${bits}`], ['deny', 'all']));
      expect(cidr(bytes.join('.'))).toBe(true);
      expect(cidr(`::ffff:${bytes.join('.')}`)).toBe(true);
      expect(cidr(flipped.join('.'))).toBe(false);
    }));
  });

  it('a unix: rule is accepted and matches nothing, as before', () => {
    expect(compileAccessRules(rules(['deny', 'unix:']))('unix:')).toBe(true);
  });
});

describe('compileTrustedPeers (set_real_ip_from)', () => {
  it('is off without sources', () => {
    expect(compileTrustedPeers([])).toBeNull();
  });

  it('trusts the listed addresses and CIDRs, IPv4-mapped clients as IPv4', () => {
    const trusted = compileTrustedPeers(['127.0.0.1', '10.0.0.0/8', '::1'])!;
    expect(trusted('127.0.0.1')).toBe(true);
    expect(trusted('::ffff:127.0.0.1')).toBe(true);
    expect(trusted('10.200.0.1')).toBe(true);
    expect(trusted('::1')).toBe(true);
    expect(trusted('127.0.0.2')).toBe(false);
    expect(trusted('::2')).toBe(false);
  });

  it('unix: trusts unix-domain peers (http gives them as "", stream as "unix:")', () => {
    const trusted = compileTrustedPeers(['unix:'])!;
    expect(trusted('')).toBe(true);
    expect(trusted('unix:')).toBe(true);
    expect(trusted('127.0.0.1')).toBe(false);
    expect(compileTrustedPeers(['127.0.0.1'])!('')).toBe(false);
  });
});

describe('address text helpers', () => {
  it('binaryAddress ignores a zone id and leaves what is no address alone', () => {
    expect([...Buffer.from(binaryAddress('fe80::1%eth0'), 'latin1')]).toEqual([0xfe, 0x80, ...new Array<number>(13).fill(0), 1]);
    expect(binaryAddress('unix:')).toBe('unix:');
  });
});
