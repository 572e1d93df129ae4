import { describe, expect, it } from 'vitest';
import { ServerNameIndex } from '../../src/tcp/server-names.js';
import { names } from './stream-harness.js';

describe('ServerNameIndex', () => {
  const index = new ServerNameIndex(
    [
      { names: names('~^(?P<user>[a-z]+)\\.re\\.test$'), server: 'regex' },
      { names: names('*.example.test'), server: 'short-wild' },
      { names: names('*.www.example.test', 'www.example.*'), server: 'long-wild' },
      { names: names('www.example.test'), server: 'exact' },
      { names: names('www.*'), server: 'trailing-short' },
      { names: names('Dup.test'), server: 'first' },
      { names: names('dup.test'), server: 'second' },
    ],
    'default',
  );

  it('prefers exact, then longest leading wildcard, then longest trailing wildcard, then regex', () => {
    expect(index.find('www.example.test')).toBe('exact');
    expect(index.find('a.www.example.test')).toBe('long-wild');
    expect(index.find('a.example.test')).toBe('short-wild');
    expect(index.find('www.example.org')).toBe('long-wild');
    expect(index.find('www.other.test')).toBe('trailing-short');
    expect(index.find('bob.re.test')).toBe('regex');
  });

  it('falls back to the default for no name, an unknown name, or a bare wildcard suffix', () => {
    expect(index.find(null)).toBe('default');
    expect(index.find('')).toBe('default');
    expect(index.find('nobody.test')).toBe('default');
    expect(index.find('example.test')).toBe('default');
    expect(index.find('b0b.re.test')).toBe('default');
  });

  it('gives a name to the first server that lists it', () => {
    expect(index.find('dup.test')).toBe('first');
  });
});
