import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { CompiledServer } from '../../src/http/router.js';
import { location, proxyHandler, server } from '../helpers/http-config.js';

// The same locations were run through /work/shared/tools/ask-nginx (nginx 1.22.1); `want` is the body
// nginx returned (each location returned its own name), or "301" for an auto redirect.
const nginxChecked = new CompiledServer(server({
  names: ['loc.test'],
  locations: [
    location('/', undefined),
    location('= /exact'),
    location('/a/', undefined, [
      location('~ \\.php$', undefined),
      location('/a/b/'),
      location('^~ /a/c/'),
    ]),
    location('~ \\.php$'),
    location('~ c'),
    location('^~ /static/'),
    location('~* \\.JPG$'),
    location('/app/', 'proxy'),
    location('~ ^/app$'),
    location('= /ex/', 'proxy'),
    location('/both/', 'proxy'),
    location('/both'),
    location('/ret/'),
    location('/Case/'),
    location('/x/y/', 'proxy'),
    location('/x/', undefined, [location('/x/z/', 'proxy')]),
  ],
}));

describe('findLocation matches nginx', () => {
  test.each([
    ['/', '/'],
    ['/exact', '= /exact'],
    // not the exact location: only the regex `c` matches
    ['/exact/', '~ c'],
    ['/a/x.php', '~ \\.php$'],
    // a regex nested in the longest prefix is tried before the server-level regexes
    ['/a/b/x.php', '~ \\.php$ (nested)'],
    ['/a/b/y', '/a/b/'],
    // a nested ^~ skips only the regexes of its own level; the server-level ones still run
    ['/a/c/x.php', '~ \\.php$ (server)'],
    ['/a/c/y', '~ c'],
    ['/static/x.php', '^~ /static/'],
    ['/q.php', '~ \\.php$ (server)'],
    ['/img/X.jpg', '~* \\.JPG$'],
    ['/img/x.JpG', '~* \\.JPG$'],
    // the auto redirect wins over a regex matching the same path
    ['/app', '301'],
    ['/ex', '301'],
    ['/both', '/both'],
    // only proxying locations redirect
    ['/ret', '/'],
    // prefixes are case-sensitive
    ['/case/', '~ c'],
    ['/Case/', '/Case/'],
    ['/x/y', '301'],
    ['/x/z', '301'],
    ['/x/z/1', '/x/z/'],
  ])('%s → %s', (path, want) => {
    const r = nginxChecked.findLocation(path);
    if (want === '301') {
      expect(r.redirectSlash).toBe(true);
      return;
    }
    expect(r.redirectSlash).toBe(false);
    const nested = r.location?.parent !== null;
    const name = want.replace(/ \((nested|server)\)$/, '');
    expect(r.location?.name).toBe(name);
    if (want.endsWith('(nested)')) expect(nested).toBe(true);
    if (want.endsWith('(server)')) expect(nested).toBe(false);
  });

  test('the redirect names the location it redirects to', () => {
    expect(nginxChecked.findLocation('/app').location?.name).toBe('/app/');
    expect(nginxChecked.findLocation('/ex').location?.name).toBe('= /ex/');
  });
});

describe('findLocation', () => {
  test('no location matches → null (no location /)', () => {
    const s = new CompiledServer(server({ locations: [location('/api/')] }));
    expect(s.findLocation('/other')).toEqual({ location: null, captures: null, redirectSlash: false });
  });

  test('longest prefix wins whatever the file order', () => {
    const s = new CompiledServer(server({ locations: [location('/a/b/c/'), location('/'), location('/a/')] }));
    expect(s.findLocation('/a/b/c/d').location?.name).toBe('/a/b/c/');
    expect(s.findLocation('/a/b/').location?.name).toBe('/a/');
    expect(s.findLocation('/z').location?.name).toBe('/');
  });

  test('first regex in file order wins, not the longest', () => {
    const s = new CompiledServer(server({ locations: [location('~ ^/a'), location('~ ^/a/b/c')] }));
    expect(s.findLocation('/a/b/c').location?.name).toBe('~ ^/a');
  });

  test('regex captures: numbered and named', () => {
    const s = new CompiledServer(server({ locations: [location('~ ^/u/(?<user>[^/]+)/(\\d+)$'), location('~ ^/plain$')] }));
    const r = s.findLocation('/u/bob/42');
    expect(r.captures?.numbered[1]).toBe('bob');
    expect(r.captures?.numbered[2]).toBe('42');
    expect(r.captures?.named).toEqual({ user: 'bob' });
    expect(s.findLocation('/plain')).toMatchObject({ captures: null });
  });

  test('PCRE (?P<name>) syntax is accepted', () => {
    const s = new CompiledServer(server({ locations: [location('~ ^/(?P<id>\\d+)$')] }));
    expect(s.findLocation('/7').captures?.named).toEqual({ id: '7' });
  });

  test('a regex location searches its own nested regexes', () => {
    const s = new CompiledServer(server({ locations: [location('~ ^/img/', undefined, [location('~ \\.png$')])] }));
    expect(s.findLocation('/img/a.png').location?.name).toBe('~ \\.png$');
    expect(s.findLocation('/img/a.gif').location?.name).toBe('~ ^/img/');
  });

  test('exact match nested in a prefix', () => {
    const s = new CompiledServer(server({ locations: [location('/a/', undefined, [location('= /a/x')]), location('~ x')] }));
    expect(s.findLocation('/a/x').location?.name).toBe('= /a/x');
    expect(s.findLocation('/a/xy').location?.name).toBe('~ x');
  });

  test('websocket handlers redirect like proxy_pass; location / never does', () => {
    const proxy = proxyHandler();
    if (proxy.kind !== 'proxy') throw new Error('unreachable');
    const ws = { kind: 'websocket', path: null, target: proxy.target } as const;
    const s = new CompiledServer(server({ locations: [location('/ws/', ws), location('/', 'proxy')] }));
    expect(s.findLocation('/ws').redirectSlash).toBe(true);
    expect(s.findLocation('/').redirectSlash).toBe(false);
    expect(s.findLocation('/').location?.name).toBe('/');
  });

  test('named locations are never matched by URI', () => {
    const s = new CompiledServer(server({ locations: [location('@fallback'), location('~ fallback')] }));
    expect(s.findLocation('/@fallback').location?.name).toBe('~ fallback');
    expect(s.findLocation('/x').location).toBeNull();
    expect(s.namedLocation('fallback')?.name).toBe('@fallback');
    expect(s.namedLocation('@fallback')?.name).toBe('@fallback');
    expect(s.namedLocation('nope')).toBeNull();
  });

  test('locations lists every location once, nested included: the objects matching returns (plans hang on them)', () => {
    const s = new CompiledServer(server({ locations: [location('/a/', undefined, [location('/a/b/')]), location('@n')] }));
    expect(s.locations.map((l) => l.name)).toEqual(['/a/', '/a/b/', '@n']);
    expect(s.findLocation('/a/b/c').location).toBe(s.locations[1]);
  });
});

describe('property: prefix and exact matching equal a naive reference', () => {
  // flat prefix/exact locations, no regexes: nginx's answer is "exact if equal, else the longest
  // prefix the URI starts with" (auto redirect aside: these locations do not proxy)
  const seg = fc.constantFrom('a', 'b', 'ab', 'c');
  const path = fc.array(seg, { minLength: 0, maxLength: 4 }).chain((segs) =>
    fc.boolean().map((slash) => '/' + segs.join('/') + (slash && segs.length > 0 ? '/' : '')));
  test('random location sets and URIs', () => {
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(fc.constantFrom('', '= ', '^~ '), path), { maxLength: 12, selector: ([m, p]) => `${m === '= ' ? '=' : ''}${p}` }),
      fc.array(path, { minLength: 1, maxLength: 10 }),
      (locs, uris) => {
        const s = new CompiledServer(server({ locations: locs.map(([m, p]) => location(m + p)) }));
        for (const uri of uris) {
          const exact = locs.find(([m, p]) => m === '= ' && p === uri);
          let best: [string, string] | undefined;
          for (const l of locs) {
            if (l[0] !== '= ' && uri.startsWith(l[1]) && (best === undefined || l[1].length > best[1].length)) best = l;
          }
          const want = exact ?? best;
          expect(s.findLocation(uri).location?.name ?? null).toBe(want === undefined ? null : want[0] + want[1]);
        }
      },
    ));
  });
});
