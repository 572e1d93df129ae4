import { describe, expect, test } from 'vitest';
import { buildVirtualHosts, normalizeUri } from '../../src/http/router.js';
import { httpConfig, listen, location, server } from '../helpers/http-config.js';

describe('buildVirtualHosts', () => {
  const a = server({ names: ['a.test'], listens: ['127.0.0.1:8080', '127.0.0.1:8081'], locations: [location('/')] });
  const b = server({ names: ['b.test'], listens: ['127.0.0.1:8080', listen('127.0.0.1:8081', true)] });
  const c = server({ names: ['c.test'], listens: ['[::1]:8080'] });
  const vhosts = buildVirtualHosts(httpConfig([a, b, c]));

  test('one entry per listen key', () => {
    expect([...vhosts.keys()].sort()).toEqual(['127.0.0.1:8080', '127.0.0.1:8081', '[::1]:8080']);
  });

  test('a server with several listens is one compiled object under each key', () => {
    const s1 = vhosts.get('127.0.0.1:8080')!.find('a.test').server;
    const s2 = vhosts.get('127.0.0.1:8081')!.find('a.test').server;
    expect(s1).toBe(s2);
    expect(s1.config).toBe(a);
    expect(s1.primaryName).toBe('a.test');
  });

  test('default_server is per listen key, else the first server of that key', () => {
    expect(vhosts.get('127.0.0.1:8080')!.find('zzz').server.config).toBe(a);
    expect(vhosts.get('127.0.0.1:8081')!.find('zzz').server.config).toBe(b);
    expect(vhosts.get('127.0.0.1:8081')!.defaultServer.config).toBe(b);
    // names only count on the keys where the server listens
    expect(vhosts.get('[::1]:8080')!.find('a.test').server.config).toBe(c);
  });

  test('Host → server → location, end to end on a normalized URI', () => {
    const vh = buildVirtualHosts(httpConfig([
      server({ names: ['loc.test'], locations: [location('/a/', undefined, [location('/a/b/')]), location('~ \\.php$')] }),
    ])).get('0.0.0.0:80')!;
    const s = vh.find('LOC.test:80').server;
    // checked with nginx: /a/%2e%2e/q.php is /q.php, /a//b/y is /a/b/y
    expect(s.findLocation(normalizeUri('/a/%2e%2e/q.php')!).location?.name).toBe('~ \\.php$');
    expect(s.findLocation(normalizeUri('/a//b/y')!).location?.name).toBe('/a/b/');
  });
});
