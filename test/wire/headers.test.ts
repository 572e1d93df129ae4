import { describe, expect, it } from 'vitest';
import {
  appendTokens,
  eolAt,
  finalCodingIsChunked,
  headerValue,
  isExactlyChunked,
  parseContentLength,
  TCHAR,
  VALUE_CHAR,
} from '../../src/wire/headers.js';

describe('character classes', () => {
  it('tchar and field-value bytes (RFC 9110 §5.6.2, §5.5)', () => {
    const tchars = [...Array(256).keys()].filter((c) => TCHAR[c] === 1).map((c) => String.fromCharCode(c)).join('');
    expect(tchars).toBe("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~");
    const notValue = [...Array(256).keys()].filter((c) => VALUE_CHAR[c] !== 1);
    expect(notValue).toEqual([...[...Array(32).keys()].filter((c) => c !== 9), 0x7f]);
  });
});

describe('eolAt', () => {
  it.each([
    ['a\r\nb', 1, 2],
    ['a\nb', 1, 1],
    ['a\rb', 1, 0],
    ['a\r', 1, 0],
    ['ab', 1, 0],
  ])('%j at %i → %i', (s, i, want) => {
    expect(eolAt(s, i)).toBe(want);
  });
});

describe('framing fields', () => {
  it.each([
    ['0', 0],
    ['5', 5],
    ['5, 5', 5],
    ['5,5 , 5', 5],
    ['999999999999999', 999999999999999],
    ['5, 6', -1],
    ['', -1],
    ['+5', -1],
    ['0x5', -1],
    ['5 5', -1],
    ['5,', -1],
    ['1234567890123456', -1],
  ])('Content-Length %j → %i', (v, want) => {
    expect(parseContentLength(v)).toBe(want);
  });

  it.each([
    ['chunked', true],
    [' Chunked\t', true],
    ['CHUNKED', true],
    ['chunked,chunked', false],
    ['gzip,chunked', false],
    ['chunked;q=1', false],
    ['\x0bchunked', false],
    ['', false],
  ])('a request Transfer-Encoding %j is exactly chunked: %s', (te, want) => {
    expect(isExactlyChunked(te)).toBe(want);
  });

  it.each([
    ['chunked', true],
    ['gzip, chunked', true],
    ['gzip,Chunked ', true],
    ['chunked, gzip', false],
    ['gzip', false],
  ])('a response Transfer-Encoding %j ends in chunked: %s', (te, want) => {
    expect(finalCodingIsChunked(te)).toBe(want);
  });
});

describe('header lists', () => {
  it('appendTokens lowercases and drops empty members', () => {
    const out = ['close'];
    appendTokens(out, ' Keep-Alive ,, Upgrade,');
    expect(out).toEqual(['close', 'keep-alive', 'upgrade']);
  });

  it('headerValue finds the first field of a name', () => {
    const head = { headers: ['Host', 'a', 'X-A', '1', 'x-a', '2'], lnames: ['host', 'x-a', 'x-a'] };
    expect(headerValue(head, 'x-a')).toBe('1');
    expect(headerValue(head, 'host')).toBe('a');
    expect(headerValue(head, 'x-b')).toBeNull();
  });
});
