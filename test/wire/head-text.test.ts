import { describe, expect, it } from 'vitest';
import { bodyBytes, headerSafe, locationSafe, targetSafe } from '../../src/wire/head-text.js';

describe('wire text', () => {
  it('leaves ordinary values alone', () => {
    for (const f of [headerSafe, locationSafe, targetSafe, bodyBytes]) expect(f('/a/b?c=d')).toBe('/a/b?c=d');
    // latin1 bytes as received (obs-text) stay single bytes in heads
    expect(headerSafe('caf\xe9')).toBe('caf\xe9');
  });

  it('never lets a CR, an LF or a wide char with a CR/LF low byte through', () => {
    expect(headerSafe('a\r\nSet-Cookie: x')).toBe('a Set-Cookie: x');
    expect(headerSafe('a\u010aSet-Cookie: x')).toBe('a\xc4\x8aSet-Cookie: x');
    expect(locationSafe('http://x/a\r\nB')).toBe('http://x/a%0D%0AB');
    expect(locationSafe('http://x/\u010d\u010a')).toBe('http://x/\xc4\x8d\xc4\x8a');
    expect(targetSafe('/a b\r\nX: y')).toBe('/a%20b%0D%0AX:%20y');
    expect(targetSafe('/\u010a')).toBe('/\xc4\x8a');
  });

  it('gives a body as its UTF-8 bytes', () => {
    expect(bodyBytes('h\xe9')).toBe('h\xc3\xa9');
    expect(bodyBytes('\u010a')).toBe('\xc4\x8a');
  });
});
