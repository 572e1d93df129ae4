import { describe, expect, test } from 'vitest';
import { hostName, parseAbsoluteTarget, validHost } from '../../src/wire/request-target.js';

describe('parseAbsoluteTarget', () => {
  test.each([
    ['http://example.test/path?q=1', { scheme: 'http', host: 'example.test', target: '/path?q=1' }],
    ['HTTPS://Example.test:8443', { scheme: 'https', host: 'Example.test:8443', target: '/' }],
    ['http://example.test?x', { scheme: 'http', host: 'example.test', target: '/?x' }],
    ['http://[::1]:80/a', { scheme: 'http', host: '[::1]:80', target: '/a' }],
    ['/origin/form', null],
    // nginx accepts any scheme there (it does not change $scheme)
    ['ftp://x/y', { scheme: 'ftp', host: 'x', target: '/y' }],
    ['http://a.test:abc/', null],
    ['http://[::1/', null],
    ['http:///nohost', null],
    ['http://user@host/', null],
    ['example.test:443', null],
  ])('%j', (t, want) => {
    expect(parseAbsoluteTarget(t)).toEqual(want);
  });
});

// The Host checks nginx 1.22 makes (test/wire/http1-request.test.ts has them as whole requests).
describe('validHost', () => {
  test.each([
    'a', 'example.test', 'Example.TEST:8080', 'a.test.', 'a_b.test', '[::1]', '[::1]:80', '[::ffff:1.2.3.4]', 'a:', 'a:65535', '127.0.0.1:1',
  ])('accepts %j', (h) => {
    expect(validHost(h)).toBe(true);
  });

  test.each([
    '', '.a', 'a..b', 'a/b', 'a b', 'u@a', 'a:8o', 'a:65536', 'a:123456', '[::1', '[]', '[::1]x', 'a:1:2', 'a\\b', 'a\x00', ':80',
  ])('refuses %j', (h) => {
    expect(validHost(h)).toBe(false);
  });
});

describe('hostName', () => {
  test.each([
    ['Example.TEST:8080', 'example.test'],
    ['example.test.', 'example.test'],
    ['example.test.:80', 'example.test'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['a:', 'a'],
  ])('%j → %j', (h, want) => {
    expect(validHost(h)).toBe(true);
    expect(hostName(h)).toBe(want);
  });
});
