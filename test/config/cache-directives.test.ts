/**
 * proxy_cache* in the config: nginx 1.22's -t messages (each checked with ask-nginx), the typed
 * tree, inheritance.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const ZONE = 'proxy_cache_path /tmp/c levels=1:2 keys_zone=one:10m;';

function load(httpBody: string, location = '') {
  const text = `http {\n${httpBody}\nserver { listen 127.0.0.1:8080;\nlocation / { ${location} proxy_pass http://127.0.0.1:9; } }\n}\n`;
  return loadConfig(text, 't.conf');
}

function errorsOf(httpBody: string, location = ''): string[] {
  return load(httpBody, location).errors.map((e) => e.message);
}

describe("nginx's -t messages (checked with ask-nginx, nginx 1.22)", () => {
  test.each([
    [`${ZONE} proxy_cache_path /tmp/d keys_zone=one:10m;`, '', 'duplicate zone "one"'],
    [ZONE, 'proxy_cache two;', '"proxy_cache" zone "two" is unknown'],
    ['proxy_cache_path /tmp/c levels=1:3 keys_zone=one:10m;', '', 'invalid "levels" "levels=1:3"'],
    ['proxy_cache_path /tmp/c levels=1:2;', '', '"proxy_cache_path" must have "keys_zone" parameter'],
    ['proxy_cache_path /tmp/c keys_zone=one;', '', 'invalid keys zone size "keys_zone=one"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m bogus=1;', '', 'invalid parameter "bogus=1"'],
    [ZONE, 'proxy_cache_valid 200 abc;', 'invalid time value "abc"'],
    [ZONE, 'proxy_cache_valid 99 10m;', 'invalid status "99"'],
    [ZONE, 'proxy_cache_methods GET PUT;', 'invalid value "PUT"'],
    [ZONE, 'proxy_cache_use_stale error foo;', 'invalid value "foo"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m use_temp_path=maybe;', '', 'invalid use_temp_path value "use_temp_path=maybe", it must be "on" or "off"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m use_temp_path=;', '', 'invalid use_temp_path value "use_temp_path=", it must be "on" or "off"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m manager_files=abc;', '', 'invalid manager_files value "manager_files=abc"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m manager_sleep=abc;', '', 'invalid manager_sleep value "manager_sleep=abc"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m loader_threshold=abc;', '', 'invalid loader_threshold value "loader_threshold=abc"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m min_free=abc;', '', 'invalid min_free value "min_free=abc"'],
    ['proxy_cache_path /tmp/c keys_zone=one:10m max_size=1x;', '', 'invalid max_size value "max_size=1x"'],
    [ZONE, 'proxy_cache_max_range_offset abc;', '"proxy_cache_max_range_offset" directive invalid value'],
    [ZONE, 'proxy_cache_max_range_offset -1;', '"proxy_cache_max_range_offset" directive invalid value'],
    [ZONE, 'proxy_cache_background_update maybe;', 'invalid value "maybe" in "proxy_cache_background_update" directive, it must be "on" or "off"'],
  ])('%s / %s: %s', (httpBody, location, message) => {
    expect(errorsOf(httpBody, location)).toContain(message);
  });

  test('what nginx -t accepts: 0 files or times for the manager and loader, min_free=0, max_range_offset 0 and sizes', () => {
    const zone = 'proxy_cache_path /tmp/c keys_zone=one:10m manager_files=0 loader_files=0 manager_threshold=0 loader_sleep=0 manager_sleep=1ms min_free=0 inactive=0;';
    for (const v of ['0', '10k', '1g']) expect(errorsOf(zone, `proxy_cache one; proxy_cache_max_range_offset ${v}; proxy_cache_background_update on;`)).toEqual([]);
  });

  test('proxy_cache_path is http only', () => {
    const text = 'http { server { listen 127.0.0.1:8080; proxy_cache_path /tmp/c keys_zone=one:10m; } }';
    expect(loadConfig(text, 't.conf').errors.map((e) => e.message)).toEqual(['"proxy_cache_path" directive is not allowed here']);
  });

  test('errors carry file:line:col (duplicate zone: the second proxy_cache_path; unknown zone: the name)', () => {
    const dup = load(`${ZONE}\nproxy_cache_path /tmp/d keys_zone=one:10m;`).errors[0]!;
    expect([dup.loc.file, dup.loc.line, dup.loc.column]).toEqual(['t.conf', 3, 1]);
    const unknown = load(ZONE, 'proxy_cache two;').errors[0]!;
    expect([unknown.loc.line, unknown.loc.column]).toEqual([4, 26]);
  });
});

describe('the typed tree', () => {
  test('zones with nginx defaults and paths resolved; settings inherited; none without a directive', () => {
    const c = loadConfig(`http {
      proxy_cache_path cache keys_zone=one:10m;
      proxy_cache_path /var/c levels=1:2 keys_zone=two:1m inactive=1h max_size=1g min_free=1m use_temp_path=off manager_files=10 loader_sleep=50ms;
      proxy_cache_valid 404 1m;
      server { listen 127.0.0.1:8080;
        location /a { proxy_cache one; proxy_pass http://127.0.0.1:9; }
        location /b { proxy_cache two; proxy_cache_valid 5m; proxy_cache_valid any 1s; proxy_cache_methods POST;
          proxy_cache_key $uri; proxy_cache_bypass $arg_nocache $cookie_x; proxy_no_cache $arg_x; proxy_cache_min_uses 2;
          proxy_cache_convert_head off;
          location /b/off { proxy_cache off; proxy_pass http://127.0.0.1:9; }
          proxy_pass http://127.0.0.1:9; }
        location /c { proxy_pass http://127.0.0.1:9; }
      }
    }`, '/etc/x/t.conf');
    expect(c.errors).toEqual([]);
    const http = c.config!.http!;
    expect(http.cacheZones!.map((z) => [z.name, z.path, z.levels, z.keysZoneBytes, z.inactiveMs, z.maxSizeBytes, z.minFreeBytes, z.useTempPath])).toEqual([
      ['one', `${c.config!.prefix.replace(/\/+$/, '')}/cache`, [], 10 * 1024 * 1024, 600_000, 0, 0, true],
      ['two', '/var/c', [1, 2], 1024 * 1024, 3_600_000, 1024 ** 3, 1024 * 1024, false],
    ]);
    const [a, b, cLoc] = http.servers[0]!.locations;
    expect(a!.settings.cache).toMatchObject({
      zone: 'one', key: null, valid: [{ statuses: [404], ms: 60_000 }], methods: ['GET', 'HEAD'],
      minUses: 1, bypass: [], noCache: [], convertHead: true, useStale: [],
    });
    expect(b!.settings.cache).toMatchObject({
      zone: 'two', key: '$uri', valid: [{ statuses: [200, 301, 302], ms: 300_000 }, { statuses: [0], ms: 1000 }],
      methods: ['GET', 'HEAD', 'POST'], minUses: 2, bypass: ['$arg_nocache', '$cookie_x'], noCache: ['$arg_x'], convertHead: false,
    });
    expect(b!.locations[0]!.settings.cache).toMatchObject({ zone: null, key: '$uri' });
    // proxy_cache_valid at http level makes a CacheSettings without a zone: the location does not cache.
    expect(cLoc!.settings.cache?.zone ?? null).toBeNull();
  });

  test('a config without cache directives has no cache fields', () => {
    const c = loadConfig('http { server { listen 127.0.0.1:8080; location / { proxy_pass http://127.0.0.1:9; } } }', 't.conf');
    expect(c.config!.http!.cacheZones).toBeUndefined();
    expect(c.config!.http!.servers[0]!.locations[0]!.settings.cache).toBeUndefined();
  });

  test('proxy_cache_background_update and proxy_cache_max_range_offset: off and no limit unless set, inherited', () => {
    const c = loadConfig(`http { ${ZONE} proxy_cache_max_range_offset 1k;
      server { listen 127.0.0.1:8080;
        location /a { proxy_cache one; proxy_pass http://127.0.0.1:9; }
        location /b { proxy_cache one; proxy_cache_background_update on; proxy_cache_max_range_offset 0; proxy_pass http://127.0.0.1:9; }
      } }`, 't.conf');
    const [a, b] = c.config!.http!.servers[0]!.locations;
    expect(a!.settings.cache).toMatchObject({ backgroundUpdate: false, maxRangeOffsetBytes: 1024 });
    expect(b!.settings.cache).toMatchObject({ backgroundUpdate: true, maxRangeOffsetBytes: 0 });
    const none = loadConfig(`http { ${ZONE} server { listen 127.0.0.1:8080; location / { proxy_cache one; proxy_pass http://127.0.0.1:9; } } }`, 't.conf');
    expect(none.config!.http!.servers[0]!.locations[0]!.settings.cache).toMatchObject({ backgroundUpdate: false, maxRangeOffsetBytes: null });
  });
});
