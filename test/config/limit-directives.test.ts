/**
 * limit_req / limit_conn / stub_status in the config: nginx 1.22's -t messages (each checked with
 * ask-nginx), inheritance, and the typed tree.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const ZONE = 'limit_req_zone $binary_remote_addr zone=one:1m rate=1r/s;';

function errorsOf(httpBody: string, location = '', tail = ''): string[] {
  const text = `http {\n${httpBody}\nserver { listen 127.0.0.1:8080; location / { ${location} } }\n}\n${tail}`;
  return loadConfig(text, 't.conf').errors.map((e) => e.message);
}

describe("nginx's -t messages", () => {
  test.each([
    ['', 'limit_req zone=nope;', 'zero size shared memory zone "nope"'],
    ['limit_req_zone $binary_remote_addr zone=one:1m;', '', 'invalid number of arguments in "limit_req_zone" directive'],
    ['limit_req_zone $binary_remote_addr zone=one:1m rate=0r/s;', '', 'invalid rate "rate=0r/s"'],
    ['limit_req_zone $binary_remote_addr zone=one:1m rate=1r/h;', '', 'invalid rate "rate=1r/h"'],
    ['limit_req_zone $binary_remote_addr zone=one:1k rate=1r/s;', '', 'zone "zone=one:1k" is too small'],
    ['limit_req_zone $binary_remote_addr zone=one rate=1r/s;', '', 'invalid zone size "zone=one"'],
    [ZONE, 'limit_req zone=one burst=0;', 'invalid burst value "burst=0"'],
    [ZONE, 'limit_req zone=one delay=x;', 'invalid delay value "delay=x"'],
    [ZONE, 'limit_req zone=one foo;', 'invalid parameter "foo"'],
    [ZONE, 'limit_req zone=one; limit_req zone=one;', '"limit_req" directive is duplicate'],
    [ZONE, 'limit_req burst=2;', '"limit_req" must have "zone" parameter'],
    [`${ZONE} limit_req_zone $uri zone=one:1m rate=1r/s;`, '', 'limit_req_zone "one" is already bound to key "$binary_remote_addr"'],
    ['limit_conn_zone $binary_remote_addr zone=addr:1m;', 'limit_conn addr 0;', 'invalid number of connections "0"'],
    ['limit_conn_zone $binary_remote_addr zone=addr:1m;', 'limit_conn addr 70000;', 'connection limit must be less 65536'],
    ['', 'limit_conn addr 1;', 'zero size shared memory zone "addr"'],
    ['limit_conn_zone $binary_remote_addr zone=addr:1m;', 'limit_conn addr 1; limit_conn addr 2;', '"limit_conn" directive is duplicate'],
    ['limit_conn_zone $binary_remote_addr;', '', 'invalid number of arguments in "limit_conn_zone" directive'],
    ['limit_conn_zone $binary_remote_addr zone=addr:1m; limit_req_zone $binary_remote_addr zone=addr:1m rate=1r/s;', '', 'the shared memory zone "addr" is already declared for a different use'],
    ['', 'limit_req_status 600;', 'value must be between 400 and 599'],
    ['', 'limit_req_log_level debug;', 'invalid value "debug" in "limit_req_log_level" directive'],
  ])('%s / %s: %s', (httpBody, location, message) => {
    expect(errorsOf(httpBody, location)).toContain(message);
  });

  test('stream: limit_conn_status is http only (nginx 1.22 stream has none)', () => {
    const tail = 'stream { limit_conn_zone $binary_remote_addr zone=s:1m; server { listen 127.0.0.1:9; limit_conn s 1; limit_conn_status 503; proxy_pass 127.0.0.1:1; } }';
    expect(errorsOf('', '', tail)).toEqual(['"limit_conn_status" directive is not allowed here']);
  });

  test('accepted: r/m, no unit, nodelay and delay= (the last wins), sync, stub_status with an argument', () => {
    expect(errorsOf('limit_req_zone $binary_remote_addr zone=one:1m rate=30r/m sync; limit_req_zone $uri zone=two:32k rate=5;',
      'limit_req zone=one nodelay delay=2; limit_req zone=two delay=1 nodelay; stub_status on;')).toEqual([]);
  });
});

describe('the typed tree', () => {
  test('rates in nginx units; limits inherited as a whole list, settings one by one; none without a directive', () => {
    const r = loadConfig(`http {
      limit_req_zone $binary_remote_addr zone=one:1m rate=30r/m;
      limit_req_zone $binary_remote_addr zone=two:1m rate=3r/s;
      limit_req zone=one burst=5;
      limit_req_status 429;
      server { listen 127.0.0.1:8080;
        location /a { }
        location /b { limit_req zone=two nodelay; limit_req_log_level info; }
      }
      server { listen 127.0.0.1:8081; limit_req_status 599; location /c { } }
    }`, 't.conf');
    expect(r.errors).toEqual([]);
    const http = r.config!.http!;
    expect(http.limitReqZones!.map((z) => [z.name, z.rate, z.sizeBytes])).toEqual([['one', 500, 1048576], ['two', 3000, 1048576]]);
    const [a, b] = http.servers[0]!.locations;
    expect(a!.settings.limits).toMatchObject({ req: [{ zone: 'one', burst: 5, delay: 0 }], reqStatus: 429, reqLogLevel: 'error' });
    expect(b!.settings.limits).toMatchObject({ req: [{ zone: 'two', burst: 0, delay: 'nodelay' }], reqStatus: 429, reqLogLevel: 'info' });
    expect(http.servers[1]!.locations[0]!.settings.limits).toMatchObject({ req: [{ zone: 'one' }], reqStatus: 599 });
  });

  test('a config without limits has no limits field (its shape and hash stay)', () => {
    const r = loadConfig('http { server { listen 127.0.0.1:8080; location / { } } }', 't.conf');
    expect(r.config!.http!.servers[0]!.locations[0]!.settings).not.toHaveProperty('limits');
    expect(r.config!.http!).not.toHaveProperty('limitReqZones');
  });
});
