import { describe, expect, it, test } from 'vitest';
import { ServerNameIndex, normalizeHost } from '../../src/core/server-names.js';
import { serverNames } from '../helpers/http-config.js';
import { names } from '../tcp/stream-harness.js';

// Checked with ask-nginx (nginx 1.22.1): one port, servers in this order, each returning its name.
const table = new ServerNameIndex([
  { value: 'first', names: serverNames('first.test') },
  { value: 'noname', names: [] },
  { value: 'exact', names: serverNames('exact.example.org') },
  { value: 'lead-short', names: serverNames('*.example.org') },
  { value: 'lead-long', names: serverNames('*.sub.example.org') },
  { value: 'trail-short', names: serverNames('www.*') },
  { value: 'trail-long', names: serverNames('www.example.*') },
  { value: 'regex1', names: serverNames('~^(?<user>[a-z]+)\\.users\\.test$') },
  { value: 'regex2', names: serverNames('~^(a)(b)\\.users\\.test$') },
  { value: 'dot', names: serverNames('.dot.test') },
]);

describe('server name precedence matches nginx', () => {
  test.each([
    ['first.test', 'first'],
    ['FIRST.TEST:80', 'first'],
    ['first.test.', 'first'],
    ['nothing.test', 'first'],
    ['exact.example.org', 'exact'],
    ['a.example.org', 'lead-short'],
    ['x.sub.example.org', 'lead-long'],
    ['a.b.sub.example.org', 'lead-long'],
    ['www.example.com', 'trail-long'],
    ['www.example.co.uk', 'trail-long'],
    ['www.foo.com', 'trail-short'],
    // a leading wildcard beats a trailing one
    ['www.example.org', 'lead-short'],
    ['bob.users.test', 'regex1'],
    // the first regex in file order, even when a later one matches too
    ['ab.users.test', 'regex1'],
    ['dot.test', 'dot'],
    ['x.y.dot.test', 'dot'],
    // a request without Host goes to the server without server_name (its name is "")
    ['', 'noname'],
    ['[::1]:80', 'first'],
  ])('Host %j → %s', (host, want) => {
    expect(table.find(host).server).toBe(want);
  });

  test('named and numbered captures of a regex name', () => {
    const m = table.find('Bob.Users.Test');
    expect(m.server).toBe('regex1');
    expect(m.captures?.named).toEqual({ user: 'bob' });
    expect(m.captures?.numbered[1]).toBe('bob');
  });
});

describe('ServerNameIndex', () => {
  test('default server is used for unknown names and no Host when no server has ""', () => {
    const t = new ServerNameIndex([
      { value: 'a', names: serverNames('a.test') },
      { value: 'b', names: serverNames('b.test') },
    ], 'b');
    expect(t.find('zzz').server).toBe('b');
    expect(t.find('').server).toBe('b');
    expect(t.find('A.test').server).toBe('a');
  });

  test('"" as a server_name matches an empty Host only', () => {
    const t = new ServerNameIndex([
      { value: 'a', names: serverNames('a.test') },
      { value: 'empty', names: serverNames('') },
    ]);
    expect(t.find('').server).toBe('empty');
    expect(t.find('other').server).toBe('a');
  });

  test('the first server claiming a name keeps it', () => {
    const t = new ServerNameIndex([
      { value: 'one', names: serverNames('x.test', '*.w.test') },
      { value: 'two', names: serverNames('x.test', '*.w.test') },
    ]);
    expect(t.find('x.test').server).toBe('one');
    expect(t.find('q.w.test').server).toBe('one');
  });

  test('wildcards need at least one label: *.example.org does not match example.org', () => {
    const t = new ServerNameIndex([
      { value: 'def', names: [] },
      { value: 'wild', names: serverNames('*.example.org', 'api.*') },
    ]);
    expect(t.find('example.org').server).toBe('def');
    expect(t.find('api').server).toBe('def');
    expect(t.find('api.x').server).toBe('wild');
  });

  test('repeated lookups (cached) give the same answer, captures are never cached', () => {
    const t = new ServerNameIndex([
      { value: 'a', names: serverNames('a.test') },
      { value: 'r', names: serverNames('~^(.+)\\.r\\.test$') },
    ]);
    for (let i = 0; i < 3; i++) expect(t.find('a.test').server).toBe('a');
    expect(t.find('one.r.test').captures?.numbered[1]).toBe('one');
    expect(t.find('two.r.test').captures?.numbered[1]).toBe('two');
    for (let i = 0; i < 1500; i++) expect(t.find(`h${i}.test`).server).toBe('a');
    expect(t.find('a.test').server).toBe('a');
  });
});

describe('normalizeHost', () => {
  test.each([
    ['Example.TEST', 'example.test'],
    ['example.test:8080', 'example.test'],
    ['example.test.', 'example.test'],
    ['[::1]:80', '[::1]'],
    ['[::1]', '[::1]'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['', ''],
    // nginx answers 400 "client sent invalid host header" to these
    ['a..b', null],
    ['a/b', null],
    ['a\\b', null],
    ['a b', null],
    [':80', null],
    ['a\u0000b', null],
  ])('%j → %j', (host, want) => {
    expect(normalizeHost(host)).toBe(want);
  });
});

describe('ServerNameIndex for stream (SNI, websocket_pass Host)', () => {
  const index = new ServerNameIndex(
    [
      { names: names('~^(?P<user>[a-z]+)\\.re\\.test$'), value: 'regex' },
      { names: names('*.example.test'), value: 'short-wild' },
      { names: names('*.www.example.test', 'www.example.*'), value: 'long-wild' },
      { names: names('www.example.test'), value: 'exact' },
      { names: names('www.*'), value: 'trailing-short' },
      { names: names('Dup.test'), value: 'first' },
      { names: names('dup.test'), value: 'second' },
    ],
    'default',
  );

  it('prefers exact, then longest leading wildcard, then longest trailing wildcard, then regex', () => {
    expect(index.find('www.example.test').server).toBe('exact');
    expect(index.find('a.www.example.test').server).toBe('long-wild');
    expect(index.find('a.example.test').server).toBe('short-wild');
    expect(index.find('www.example.org').server).toBe('long-wild');
    expect(index.find('www.other.test').server).toBe('trailing-short');
    expect(index.find('bob.re.test').server).toBe('regex');
  });

  it('falls back to the default for no name, an unknown name, or a bare wildcard suffix', () => {
    expect(index.find(null).server).toBe('default');
    expect(index.find('').server).toBe('default');
    expect(index.find('nobody.test').server).toBe('default');
    expect(index.find('example.test').server).toBe('default');
    expect(index.find('b0b.re.test').server).toBe('default');
  });

  it('gives a name to the first server that lists it', () => {
    expect(index.find('dup.test').server).toBe('first');
  });
});
