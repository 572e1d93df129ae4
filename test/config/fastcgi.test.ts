/**
 * The FastCGI directives as nginx -t checks them (messages checked with nginx 1.22) and what the
 * typed config gets: the handler, the grouped settings and their inheritance.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { LocationConfig } from '../../src/config/types.js';

const SERVER = (inner: string): string => `http { server { listen 127.0.0.1:0; ${inner} } }`;

function messages(text: string): string[] {
  return loadConfig(text, 'a.conf').errors.map((e) => e.message);
}

function locations(text: string): readonly LocationConfig[] {
  const r = loadConfig(text, 'a.conf');
  expect(r.errors.map((e) => e.message)).toEqual([]);
  return r.config!.http!.servers[0]!.locations;
}

describe('nginx -t messages', () => {
  test.each([
    ['location / { fastcgi_pass 127.0.0.1:9000; fastcgi_pass 127.0.0.1:9001; }', '"fastcgi_pass" directive is duplicate'],
    ['location / { fastcgi_pass unix:; }', 'no path in the unix domain socket in upstream "unix:"'],
    ['location / { fastcgi_pass localhost; }', 'no port in upstream "localhost"'],
    ['location / { fastcgi_keep_conn maybe; }', 'invalid value "maybe" in "fastcgi_keep_conn" directive, it must be "on" or "off"'],
    ['location / { fastcgi_next_upstream http_502; }', 'invalid value "http_502"'],
    ['location ~ \\.php { fastcgi_split_path_info ^(.+\\.php)/.*$; }', 'pattern "^(.+\\.php)/.*$" must have 2 captures'],
    ['location / { fastcgi_param A b c; }', 'invalid parameter "c"'],
    ['location / { fastcgi_pass $backend; }', '"fastcgi_pass" with variables is not supported by tsproxy'],
  ])('%s', (inner, message) => {
    expect(messages(SERVER(inner))).toEqual([message]);
  });

  test('what nginx accepts: fastcgi_pass inside a location if, fastcgi_split_path_info at server level, $fastcgi_* and $nginx_version in templates', () => {
    expect(messages(SERVER('fastcgi_split_path_info ^(a)(b)$; location / { if ($uri ~ x) { fastcgi_pass 127.0.0.1:9000; } }'))).toEqual([]);
    expect(messages(SERVER('location / { add_header X "$fastcgi_script_name $fastcgi_path_info $nginx_version"; fastcgi_pass unix:/run/php.sock; }'))).toEqual([]);
  });

  test('no notice of "no effect" any more for fastcgi_index / fastcgi_split_path_info', () => {
    const r = loadConfig(SERVER('location ~ \\.php { fastcgi_index index.php; fastcgi_split_path_info ^(.+\\.php)(/.*)$; fastcgi_pass 127.0.0.1:9000; }'), 'a.conf');
    expect(r.errors).toEqual([]);
    expect(r.notices).toEqual([]);
  });
});

describe('the typed config', () => {
  test('a fastcgi handler on an implicit group (host:port, unix:) or a named upstream', () => {
    const locs = locations(`http { upstream php { server 127.0.0.1:9000; server 127.0.0.1:9001; }
      server { listen 127.0.0.1:0; location /a { fastcgi_pass 127.0.0.1:9000; } location /b { fastcgi_pass unix:/run/php.sock; } location /c { fastcgi_pass php; } } }`);
    expect(locs.map((l) => l.handler.kind === 'fastcgi' ? l.handler.target.upstream : null)).toEqual(['127.0.0.1:9000', 'unix:/run/php.sock', 'php']);
  });

  test('settings are absent without any fastcgi_*; fastcgi_param lists inherit as a whole, replaced by a level that has its own', () => {
    const locs = locations(`http { fastcgi_param A a; fastcgi_read_timeout 5s;
      server { listen 127.0.0.1:0; location /plain { } location /own { fastcgi_param B b; fastcgi_keep_conn on; } } }`);
    const [plain, own] = locs;
    expect(plain!.settings.fastcgi).toMatchObject({ params: [{ name: 'A', value: 'a', ifNotEmpty: false }], readTimeoutMs: 5000, keepConn: false });
    expect(own!.settings.fastcgi).toMatchObject({ params: [{ name: 'B', value: 'b' }], readTimeoutMs: 5000, keepConn: true });
    expect(locations(SERVER('location / { }'))[0]!.settings.fastcgi).toBeUndefined();
  });
});
