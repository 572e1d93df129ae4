import { describe, expect, test } from 'vitest';
import { murmurHash2 } from '../../src/core/variables/murmur.js';
import { forwardedAddress } from '../../src/core/variables/geo.js';
import { splitBounds, splitValue } from '../../src/core/variables/split-clients.js';
import { compileTrustedPeers } from '../../src/core/address-match.js';

describe('murmurHash2', () => {
  // nginx's own hashes, read from its debug log ("http split: <bound> <hash>") for $arg_k
  test.each([
    ['', 0],
    ['a', 2456313694],
    ['abcd', 646393889],
    ['hello%20world', 996432104],
  ])('%j → %d (nginx)', (key, hash) => {
    expect(murmurHash2(key)).toBe(hash);
  });

  test('characters above U+00FF are hashed as their UTF-8 bytes, Latin-1 ones as one byte each', () => {
    expect(murmurHash2('é')).toBe(murmurHash2('\u00e9'));
    expect(murmurHash2('€')).toBe(murmurHash2(Buffer.from('€', 'utf8').toString('latin1')));
  });
});

describe('split_clients bounds', () => {
  test('50% is the lower half of 2^32 - 1, as nginx computes it (its debug log shows 2147483647)', () => {
    expect(splitBounds([{ percent: 5000, value: 'a' }, { percent: 0, value: 'b' }])).toEqual([2147483647, 0]);
    expect(splitValue(2147483646, [2147483647, 0], ['a', 'b'])).toBe('a');
    expect(splitValue(2147483647, [2147483647, 0], ['a', 'b'])).toBe('b');
    expect(splitValue(4294967295, [2147483647], ['a'])).toBe('');
  });
});

describe('geo proxy: the address X-Forwarded-For gives', () => {
  const trusted = compileTrustedPeers(['127.0.0.1', '10.0.0.0/8'])!;
  test.each([
    ['192.0.2.9', '192.0.2.1, 10.1.2.3', false, '192.0.2.9'],
    ['127.0.0.1', '', false, '127.0.0.1'],
    ['127.0.0.1', '192.0.2.1, 10.1.2.3', false, '10.1.2.3'],
    ['127.0.0.1', '192.0.2.1, 10.1.2.3', true, '192.0.2.1'],
    // nginx's answers (ask-nginx, geo with proxy 127.0.0.1 and 10.0.0.0/8, proxy_recursive)
    ['127.0.0.1', '10.0.0.1,10.0.0.2', true, '10.0.0.1'],
    ['127.0.0.1', '10.0.0.1, 10.0.0.2, 10.0.0.3', true, '10.0.0.1'],
    ['127.0.0.1', '192.0.2.1, 10.0.0.2', true, '192.0.2.1'],
    ['127.0.0.1', 'junk, 10.0.0.2', true, '10.0.0.2'],
    ['127.0.0.1', '10.0.0.2, junk', true, '127.0.0.1'],
  ])('peer %s, X-Forwarded-For %j, recursive %s → %s', (peer, xff, recursive, expected) => {
    expect(forwardedAddress(peer, xff, trusted, recursive)).toBe(expected);
  });
});
