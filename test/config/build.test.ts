import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const load = (text: string) => loadConfig(text, 't.conf', { prefix: '/p' });

describe('build: inheritance and shape', () => {
  test('a level that sets any list entry replaces the parent list; scalars inherit', () => {
    const c = load(`http { proxy_set_header A a; proxy_read_timeout 5s;
      server { listen 127.0.0.1:0; location /x { proxy_set_header B b; location /x/y { } } location /z { } } }`).config!;
    const [x, z] = c.http!.servers[0]!.locations;
    expect(x!.settings.proxySetHeaders.map((h) => h.name)).toEqual(['B']);
    expect(x!.locations[0]!.settings.proxySetHeaders.map((h) => h.name)).toEqual(['B']);
    expect(z!.settings.proxySetHeaders.map((h) => h.name)).toEqual(['A']);
    expect(z!.settings.proxyReadTimeoutMs).toBe(5000);
  });
  test('a server without listen gets 0.0.0.0:80; top-level server joins http', () => {
    const c = load('server { server_name a.test; }').config!;
    expect(c.http!.servers[0]!.listens.map((l) => l.key)).toEqual(['0.0.0.0:80']);
  });
  test('every error is collected, not just the first', () => {
    const r = load('http { a_x; b_y; server { listen 1:99999; c_z; } }');
    expect(r.errors).toHaveLength(4);
  });
});

describe('validate: cross references', () => {
  test('one implicit group per host:port, shared by every proxy_pass', () => {
    const c = load(`http { server { listen 127.0.0.1:0;
      location /a { proxy_pass http://127.0.0.1:9001/a/; } location /b { proxy_pass http://127.0.0.1:9001; } } }`).config!;
    expect(c.http!.upstreams.map((u) => [u.name, u.implicit])).toEqual([['127.0.0.1:9001', true]]);
  });
  test('a named upstream wins over an implicit group, even when declared after use', () => {
    const c = load('http { server { listen 127.0.0.1:0; location / { proxy_pass http://app; } } upstream app { server 127.0.0.1:1; } }').config!;
    expect(c.http!.upstreams.map((u) => u.implicit)).toEqual([false]);
  });
  test('stream targets need a port unless they name an upstream', () => {
    const r = load('stream { server { listen 127.0.0.1:0; proxy_pass app; } }');
    expect(r.errors.map((e) => e.message)).toEqual(['no port in upstream "app"']);
  });
});
