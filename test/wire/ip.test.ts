import { describe, expect, it, test } from 'vitest';
import fc from 'fast-check';
import { formatIp, ipBytes, ipToBytes, unmap } from '../../src/wire/ip.js';

describe('ipBytes', () => {
  test.each([
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::1', [...new Array<number>(15).fill(0), 1]],
    ['2001:db8::ff00:42', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42]],
    ['::ffff:1.2.3.4', [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]],
    ['1:2:3:4:5:6:7:8', [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
  ] as const)('%s', (text, bytes) => expect(ipBytes(text)).toEqual(bytes));
  test.each(['1.2.3', '256.0.0.1', 'lb.internal', '::1::2', 'fe80::1%eth0', ''])('rejects %j', (text) => expect(ipBytes(text)).toBeNull());
  test('IPv6 written out in full round-trips for any 16 bytes', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }), (bytes) => {
      const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
      expect(ipBytes(groups.join(':'))).toEqual(bytes);
    }));
  });
});

describe('ipToBytes', () => {
  it('expands compressed and dotted IPv6 forms', () => {
    expect(ipToBytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipToBytes('::ffff:1.2.3.4').toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(ipToBytes('2001:db8::').toString('hex')).toBe('20010db8000000000000000000000000');
    expect(ipToBytes('fe80::1%eth0').toString('hex')).toBe('fe800000000000000000000000000001');
    expect(ipToBytes('192.0.2.10').toString('hex')).toBe('c000020a');
  });
});

describe('formatIp', () => {
  it.each([
    ['c000020a', '192.0.2.10'],
    ['00000000000000000000000000000001', '::1'],
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000000', '2001:db8:0:1::'],
    ['00000000000000000000ffff01020304', '::ffff:102:304'],
  ])('%s → %s', (hex, text) => {
    expect(formatIp(Buffer.from(hex, 'hex'))).toBe(text);
  });

  it('is the inverse of ipToBytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (bytes) => {
        const b = Buffer.from(bytes);
        expect(ipToBytes(formatIp(b)).equals(b)).toBe(true);
      }),
    );
  });
});

describe('unmap', () => {
  it('turns IPv4-mapped IPv6 into IPv4 and leaves the rest', () => {
    expect(unmap('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmap('::FFFF:10.0.0.1')).toBe('10.0.0.1');
    expect(unmap('::1')).toBe('::1');
    expect(unmap('2001:db8::ffff:1.2.3.4')).toBe('2001:db8::ffff:1.2.3.4');
    expect(unmap('::ffff:1.2.3')).toBe('::ffff:1.2.3');
  });
});
