/**
 * `redis NAME {}`, `redis_peers` and `health_share` in the config (issue 17): the typed tree and
 * the -t messages. -t never connects: a config naming an unreachable Redis is valid.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

function load(main: string, upstream: string, area: 'http' | 'stream' = 'http') {
  const server = area === 'http'
    ? 'server { listen 127.0.0.1:8080; location / { proxy_pass http://sites; } }'
    : 'server { listen 127.0.0.1:8443; ssl_preread on; proxy_pass sites; }';
  return loadConfig(`${main}\n${area} {\nupstream sites {\n${upstream}\n}\n${server}\n}\n`, 't.conf');
}

const errorsOf = (main: string, upstream: string, area: 'http' | 'stream' = 'http') => load(main, upstream, area).errors.map((e) => e.message);

describe('redis blocks and redis_peers', () => {
  test('the typed tree: the block with its defaults, the upstream without servers', () => {
    const r = load('redis main { server 127.0.0.1:1; }', 'redis_peers main key=frontend:$host;');
    expect(r.errors).toEqual([]);
    expect(r.config!.redis).toEqual([{ name: 'main', server: { kind: 'tcp', host: '127.0.0.1', port: 1 }, password: null, db: 0, timeoutMs: 1000, loc: expect.anything() }]);
    const up = r.config!.http!.upstreams.find((u) => u.name === 'sites')!;
    expect(up.servers).toEqual([]);
    expect(up.redisPeers).toMatchObject({ redis: 'main', key: 'frontend:$host' });
  });

  test('every setting, a unix socket, the default port; a config without redis has no redis field', () => {
    const r = load('redis a { server unix:/run/redis.sock; password "s e"; db 3; timeout 250ms; }\nredis b { server redis.internal; }', 'redis_peers a key=k;\nhealth_share b;');
    expect(r.errors).toEqual([]);
    expect(r.config!.redis!.map(({ loc: _loc, ...c }) => c)).toEqual([
      { name: 'a', server: { kind: 'unix', path: '/run/redis.sock' }, password: 's e', db: 3, timeoutMs: 250 },
      { name: 'b', server: { kind: 'tcp', host: 'redis.internal', port: 6379 }, password: null, db: 0, timeoutMs: 1000 },
    ]);
    expect(r.config!.http!.upstreams.find((u) => u.name === 'sites')!.healthShare).toBe('b');
    expect('redis' in loadConfig('http { server { listen 127.0.0.1:8080; } }', 't.conf').config!).toBe(false);
  });

  test('stream upstreams take an SNI key', () => {
    const r = load('redis main { server 127.0.0.1:1; }', 'redis_peers main key=sni:$ssl_preread_server_name;', 'stream');
    expect(r.errors).toEqual([]);
    expect(r.config!.stream!.upstreams[0]!.redisPeers!.key).toBe('sni:$ssl_preread_server_name');
  });

  test.each([
    ['redis main { }', 'redis_peers main key=k;', 'no "server" in redis "main"'],
    ['redis main { server 127.0.0.1:1; }\nredis main { server 127.0.0.1:2; }', 'redis_peers main key=k;', 'duplicate redis "main"'],
    ['redis main { server 127.0.0.1:99999; }', 'redis_peers main key=k;', 'invalid port in redis "127.0.0.1:99999"'],
    ['redis main { server 127.0.0.1:1; db x; }', 'redis_peers main key=k;', 'invalid db "x"'],
    ['redis main { server 127.0.0.1:1; timeout never; }', 'redis_peers main key=k;', 'invalid timeout "never"'],
    ['redis main { server 127.0.0.1:1; bogus 1; }', 'redis_peers main key=k;', 'unknown directive "bogus" in redis block'],
    ['redis main { server 127.0.0.1:1; server 127.0.0.1:2; }', 'redis_peers main key=k;', '"server" directive is duplicate'],
    ['', 'redis_peers main key=k;', 'no redis "main" defined'],
    ['redis main { server 127.0.0.1:1; }', 'redis_peers main frontend:$host;', 'invalid parameter "frontend:$host" (key=template expected)'],
    ['redis main { server 127.0.0.1:1; }', 'redis_peers main key=k;\nserver 127.0.0.1:9;', '"redis_peers" and "server" cannot be used in the same upstream'],
    ['redis main { server 127.0.0.1:1; }', 'redis_peers main key=k;\nhealth_share other;', 'no redis "other" defined'],
    ['redis main { server 127.0.0.1:1; }', 'redis_peers main key=$nosuch;', 'unknown "nosuch" variable'],
  ])('%s / %s: %s', (main, upstream, message) => {
    expect(errorsOf(main, upstream)).toContain(message);
  });

  test('redis is a main-context block; redis_peers belongs in an upstream', () => {
    expect(loadConfig('http { redis main { server 127.0.0.1:1; } }', 't.conf').errors.map((e) => e.message)).toEqual(['"redis" directive is not allowed here']);
    expect(errorsOf('redis main { server 127.0.0.1:1; }', 'server 127.0.0.1:9;').length).toBe(0);
  });
});
