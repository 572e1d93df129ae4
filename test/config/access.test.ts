/**
 * The access directives in the config: nginx's -t messages (checked with ask-nginx on nginx
 * 1.22), inheritance, and a typed tree that keeps its shape when they are not used.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const load = (text: string) => loadConfig(text, 't.conf', { prefix: '/p' });
const inServer = (d: string) => load(`http { server { listen 127.0.0.1:0; ${d} location / { } } }`);

describe('access directives', () => {
  test("nginx's messages: invalid parameter, the low-bits warning, invalid variable name, internal outside a location", () => {
    expect(inServer('allow foo;').errors.map((e) => e.message)).toEqual(['invalid parameter "foo"']);
    const low = inServer('deny 10.0.0.1/8;');
    expect([low.errors, low.warnings.map((w) => w.message)]).toEqual([[], ['low address bits of 10.0.0.1/8 are meaningless']]);
    expect(inServer('auth_request_set foo $host;').errors.map((e) => e.message)).toEqual(['invalid variable name "foo"']);
    expect(inServer('internal;').errors.map((e) => e.message)).toEqual(['"internal" directive is not allowed here']);
    expect(inServer('satisfy some;').errors).toHaveLength(1);
  });

  test('an auth_request_set variable is declared for every template (nginx: variables are global to http {})', () => {
    const r = load(`http { server { listen 127.0.0.1:0; location / { auth_request_set $u $upstream_http_x; } location /b { add_header Y $u; } } }`);
    expect(r.errors).toEqual([]);
    expect(r.config!.http!.authRequestVariables).toEqual(['u']);
  });

  test('inheritance: rules replace the outer list, the rest inherit one by one; unused means absent', () => {
    const c = load(`http { deny 10.0.0.0/8; satisfy any; auth_basic "R"; auth_basic_user_file users;
      server { listen 127.0.0.1:0; location /a { allow all; location /a/b { auth_basic off; } } location /c { } } }`).config!;
    const [a, c2] = c.http!.servers[0]!.locations;
    expect(a!.settings.access!.rules.map((r) => `${r.action} ${r.source}`)).toEqual(['allow all']);
    expect([a!.settings.access!.satisfy, a!.settings.access!.authBasic, a!.settings.access!.authBasicUserFile]).toEqual(['any', 'R', 'users']);
    expect(a!.locations[0]!.settings.access!.authBasic).toBe(null);
    expect(c2!.settings.access!.rules.map((r) => `${r.action} ${r.source}`)).toEqual(['deny 10.0.0.0/8']);
    const plain = load('http { server { listen 127.0.0.1:0; location / { } } }').config!;
    expect('access' in plain.http!.servers[0]!.locations[0]!.settings).toBe(false);
    expect('authRequestVariables' in plain.http!).toBe(false);
  });

  test('stream: allow/deny at the stream level too, inherited by servers without rules', () => {
    const c = load('stream { deny 127.0.0.1; server { listen 127.0.0.1:0; proxy_pass 127.0.0.1:1; } server { listen 127.0.0.1:0; allow all; proxy_pass 127.0.0.1:1; } }').config!;
    expect(c.stream!.servers.map((s) => s.accessRules.map((r) => `${r.action} ${r.source}`))).toEqual([['deny 127.0.0.1'], ['allow all']]);
  });
});
