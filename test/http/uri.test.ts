import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { normalizeUri, splitTarget } from '../../src/http/uri.js';

describe('normalizeUri (answers checked with nginx 1.22 via ask-nginx --path-as-is)', () => {
  test.each([
    ['/', '/'],
    ['/a/b', '/a/b'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/a/./b', '/a/b'],
    ['//x//y//', '/x/y/'],
    ['/%41%42%2fc', '/AB/c'],
    ['/%e2%82%ac', '/€'],
    ['/a/...', '/a/...'],
    ['/a%2f..%2fb', '/b'],
    ['/a/%2e%2e/q.php', '/q.php'],
    ['/%25', '/%'],
    ['/%2541', '/%41'],
    ['/a/b/../../c', '/c'],
    // nginx answers 400 to these
    ['/a/../../x', null],
    ['/%2e%2e/x', null],
    ['/..', null],
    ['/%zz', null],
    ['/%4', null],
    ['/%', null],
    ['/a%00b', null],
    ['a/b', null],
    ['', null],
  ])('%j → %j', (raw, want) => {
    expect(normalizeUri(raw)).toBe(want);
  });

  test('a clean path is returned as the same string (fast path)', () => {
    const p = '/api/v1/users/42.json';
    expect(normalizeUri(p)).toBe(p);
  });

  test('invalid UTF-8 after decoding is kept byte for byte (latin1)', () => {
    expect(normalizeUri('/%ff')).toBe('/\u00ff');
  });

  test('property: the result is normalized, and normalizing again changes nothing', () => {
    const seg = fc.constantFrom('a', 'b', '.', '..', '', '%2e', '%2F', '%41', 'x.y');
    fc.assert(fc.property(fc.array(seg, { maxLength: 8 }), (segs) => {
      const out = normalizeUri('/' + segs.join('/'));
      if (out === null) return;
      expect(out.startsWith('/')).toBe(true);
      expect(out).not.toMatch(/\/\/|\/\.\.?(\/|$)/);
      expect(normalizeUri(out)).toBe(out);
    }));
  });
});

describe('splitTarget', () => {
  test.each([
    ['/x', { path: '/x', args: '' }],
    ['/x?', { path: '/x', args: '' }],
    ['/x?a=1&b=2', { path: '/x', args: 'a=1&b=2' }],
    ['/x?a=?b', { path: '/x', args: 'a=?b' }],
  ])('%j', (t, want) => {
    expect(splitTarget(t)).toEqual(want);
  });
});
