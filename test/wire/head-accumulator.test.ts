import { describe, expect, it } from 'vitest';
import { HEAD_NEED_MORE, HEAD_READY, HeadAccumulator, headLength, type HeadLimits } from '../../src/wire/head-accumulator.js';

const LIMITS: HeadLimits = { requestLineBytes: 64, headerLineBytes: 64, headBytes: 256 };

describe('headLength', () => {
  it.each([
    ['A\r\n\r\n', 5],
    ['A\n\n', 3],
    ['A\r\nB\n\r\nrest', 7],
    ['A\nB\r\n\nrest', 6],
    ['A\r\n\r', -1],
    ['A\r\n', -1],
    ['A\r\nB\r\r\n\r\n', 9],
    ['', -1],
  ])('%j → %i', (text, want) => {
    expect(headLength(Buffer.from(text, 'latin1'))).toBe(want);
  });
});

describe('HeadAccumulator', () => {
  it('keeps a copy of a partial head, so the caller may reuse its read buffer', () => {
    const acc = new HeadAccumulator();
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nX: ');
    expect(acc.push(buf, LIMITS)).toBe(HEAD_NEED_MORE);
    buf.fill(0x21);
    expect(acc.pending?.toString()).toBe('HTTP/1.1 200 OK\r\nX: ');
    expect(acc.pendingBytes).toBe(20);
    expect(acc.push(Buffer.from('y\r\n\r\nbody'), LIMITS)).toBe(HEAD_READY);
    expect(acc.head).toBe('HTTP/1.1 200 OK\r\nX: y\r\n\r\n');
    expect(acc.rest?.toString()).toBe('body');
    expect(acc.pending).toBeNull();
  });

  it.each([
    ['a bare CR in a partial head', 'GET / HTTP/1.1\r\nX: a\rb', 400],
    ['an overlong first line', `GET /${'a'.repeat(100)}`, 414],
    ['an overlong head', `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(60)}`, 431],
    ['an overlong complete head', `GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(60)}\r\n`, 431],
  ])('refuses %s at once', (_name, text, status) => {
    expect(new HeadAccumulator().push(Buffer.from(text, 'latin1'), LIMITS)).toBe(status);
  });

  it('skips empty lines before a head and holds nothing for them', () => {
    const acc = new HeadAccumulator();
    expect(acc.push(Buffer.from('\r\n\n'), LIMITS)).toBe(HEAD_NEED_MORE);
    expect(acc.pending).toBeNull();
    expect(acc.push(Buffer.from('GET / HTTP/1.1\nHost: a\n\n'), LIMITS)).toBe(HEAD_READY);
    expect(acc.head).toBe('GET / HTTP/1.1\nHost: a\n\n');
  });
});
