import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  addressKey, isBareNumber, parseDuration, parseFlag, parseListenAddress, parseProxyPassUrl, parseSize, parseTrustedSource,
  parseUpstreamAddress,
} from '../../src/config/units.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 's', 500], ['5s', 's', 5000], ['5', 's', 5000], ['5', 'ms', 5], ['2m', 's', 120_000], ['1h30m', 's', 5_400_000],
    ['1d', 's', 86_400_000], ['1w', 's', 604_800_000], ['1M', 's', 2_592_000_000], ['1y', 's', 31_536_000_000],
    ['1m30', 's', 90_000], ['1s500ms', 's', 1500], ['0', 's', 0], ['3000', 'ms', 3000],
  ] as const)('%s (bare %s) = %i', (text, bare, ms) => expect(parseDuration(text, bare)).toBe(ms));
  test.each(['', 'x', '5x', '-1', '1.5s', '30m1h', '1s1s', '5 s', 'ms', '1m30s5'])('rejects %j', (text) =>
    expect(parseDuration(text, 's')).toBeNull());
  test('round-trips any h/m/s combination', () => {
    fc.assert(fc.property(fc.nat(100), fc.nat(59), fc.nat(59), (h, m, s) =>
      parseDuration(`${h}h${m}m${s}s`, 's') === ((h * 60 + m) * 60 + s) * 1000));
  });
  test('bare numbers', () => {
    expect(isBareNumber('5000')).toBe(true);
    expect(isBareNumber('5s')).toBe(false);
  });
});

describe('parseSize / parseFlag', () => {
  test.each([['1024', 1024], ['8k', 8192], ['8K', 8192], ['1m', 1 << 20], ['1M', 1 << 20], ['2g', 2 * 1024 ** 3], ['0', 0]] as const)(
    '%s', (t, n) => expect(parseSize(t)).toBe(n));
  test.each(['', 'k', '1t', '1.5m', '-1', '1 m'])('rejects %j', (t) => expect(parseSize(t)).toBeNull());
  test('flags are exactly on/off', () => {
    expect(parseFlag('on')).toBe(true);
    expect(parseFlag('off')).toBe(false);
    expect(parseFlag('ON')).toBeNull();
    expect(parseFlag('yes')).toBeNull();
  });
});

describe('parseListenAddress', () => {
  test.each([
    ['80', '0.0.0.0:80'], ['*:80', '0.0.0.0:80'], ['127.0.0.1:8080', '127.0.0.1:8080'], ['127.0.0.1', '127.0.0.1:80'],
    ['127.0.0.1:0', '127.0.0.1:0'], ['[::1]:80', '[::1]:80'], ['[::]:80', '[::]:80'], ['[::1]', '[::1]:80'],
    ['unix:/run/t.sock', 'unix:/run/t.sock'], ['localhost:80', 'localhost:80'], ['Example.TEST:81', 'example.test:81'],
    ['65535', '0.0.0.0:65535'],
  ])('%s → %s', (text, key) => {
    const r = parseListenAddress(text);
    expect(r.ok && addressKey(r.value)).toBe(key);
  });
  test.each([
    ['127.0.0.1:99999', 'invalid port in "127.0.0.1:99999" of the "listen" directive'],
    ['65536', 'invalid port in "65536" of the "listen" directive'],
    ['127.0.0.1:abc', 'invalid port in "127.0.0.1:abc" of the "listen" directive'],
    ['bad!:80', 'host not found in "bad!:80" of the "listen" directive'],
    ['::1:80', 'invalid host in "::1:80" of the "listen" directive'],
    ['unix:', 'invalid host in "unix:" of the "listen" directive'],
  ])('rejects %s', (text, message) => expect(parseListenAddress(text)).toEqual({ ok: false, message }));
});

describe('parseUpstreamAddress', () => {
  test('http default port, stream needs one', () => {
    expect(parseUpstreamAddress('backend.test', 80)).toEqual({ ok: true, value: { kind: 'tcp', host: 'backend.test', port: 80 } });
    expect(parseUpstreamAddress('127.0.0.1', null)).toEqual({ ok: false, message: 'no port in upstream "127.0.0.1"' });
    expect(parseUpstreamAddress('[::1]:9000', null)).toEqual({ ok: true, value: { kind: 'tcp', host: '::1', port: 9000 } });
    expect(parseUpstreamAddress('unix:/run/a.sock', null)).toEqual({ ok: true, value: { kind: 'unix', path: '/run/a.sock' } });
    expect(parseUpstreamAddress('127.0.0.1:0', 80)).toEqual({ ok: false, message: 'invalid port in upstream "127.0.0.1:0"' });
    expect(parseUpstreamAddress('a b:1', 80).ok).toBe(false);
  });
});

describe('parseProxyPassUrl', () => {
  test.each([
    ['http://up', { scheme: 'http', host: 'up', hasPort: false, uri: null, dynamic: false }],
    ['http://up/x/', { scheme: 'http', host: 'up', hasPort: false, uri: '/x/', dynamic: false }],
    ['http://127.0.0.1:9001/x/', { scheme: 'http', host: '127.0.0.1:9001', hasPort: true, uri: '/x/', dynamic: false }],
    ['https://backend.test', { scheme: 'https', host: 'backend.test', hasPort: false, uri: null, dynamic: false }],
    ['http://$host$request_uri', { scheme: 'http', host: '$host$request_uri', hasPort: false, uri: null, dynamic: true }],
    ['http://unix:/run/a.sock:/uri', { scheme: 'http', host: 'unix:/run/a.sock', hasPort: false, uri: '/uri', dynamic: false }],
    ['http://[::1]:80', { scheme: 'http', host: '[::1]:80', hasPort: true, uri: null, dynamic: false }],
  ])('%s', (text, value) => expect(parseProxyPassUrl(text)).toEqual({ ok: true, value }));
  test.each([['ftp://x', 'invalid URL prefix'], ['up', 'invalid URL prefix'], ['http://', 'no host in upstream ""'], ['http://a:99999', 'invalid port in upstream "a:99999"']])(
    'rejects %s', (text, message) => expect(parseProxyPassUrl(text)).toEqual({ ok: false, message }));
});

describe('parseTrustedSource (set_real_ip_from)', () => {
  test.each(['10.0.0.0/8', '10.0.0.1', '0.0.0.0/0', '::/0', '::1', '2001:db8::/32', '192.168.1.0/24', '10.1.2.3/32', 'unix:'])('accepts %s', (text) =>
    expect(parseTrustedSource(text, 'set_real_ip_from')).toEqual({ ok: true, value: { warning: null } }));
  // nginx words every unparsable value as a failed host lookup (it tries DNS; tsproxy does not).
  test.each(['10.0.0.1/33', '::1/129', '10.0.0.0/x', '10.0.0.0/', '1.2.3.4/-1', 'lb.internal', 'all', 'unix:/run/x.sock', '10.0.0.300'])('rejects %s', (text) =>
    expect(parseTrustedSource(text, 'set_real_ip_from')).toEqual({ ok: false, message: `host not found in set_real_ip_from "${text}"` }));
  test.each(['10.0.0.1/8', '192.168.0.1/16', '11.0.0.0/7', '2001:db8::1/32', '::1/127'])('warns about host bits in %s', (text) =>
    expect(parseTrustedSource(text, 'set_real_ip_from')).toEqual({ ok: true, value: { warning: `low address bits of ${text} are meaningless` } }));
});
