import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig, loadConfigFile } from '../../src/config/load.js';
import { suggest } from '../../src/config/suggest.js';

const SERVER = (inner: string): string => `http { server { listen 127.0.0.1:0; location / { ${inner} return 200; } } }`;

function messages(text: string): string[] {
  return loadConfig(text, 'a.conf').errors.map((e) => e.message);
}

function notices(text: string): string[] {
  const r = loadConfig(text, 'a.conf');
  expect(r.errors.map((e) => e.message)).toEqual([]);
  return r.notices.map((n) => `${n.loc.line}:${n.loc.column} ${n.message}`);
}

describe('directives of a stock config with no effect in tsproxy', () => {
  test('accepted with a notice each (not a warning), in the contexts nginx allows them', () => {
    const text = [
      'load_module modules/ngx_stream_module.so;',
      'worker_rlimit_nofile 65535;',
      'worker_cpu_affinity auto;',
      'worker_priority -5;',
      'pcre_jit on;',
      'env TZ; env FOO=bar;',
      'thread_pool default threads=32 max_queue=65536;',
      'events { accept_mutex off; }',
      'http {',
      '  sendfile on; tcp_nopush on; types_hash_max_size 2048; types_hash_bucket_size 64;',
      '  open_file_cache max=1000 inactive=20s; open_file_cache_valid 30s; open_file_cache_min_uses 2; open_file_cache_errors on;',
      '  aio off; charset utf-8;',
      '  upstream u { zone u 64k; server 127.0.0.1:9; }',
      '  server { listen 127.0.0.1:0; location / { proxy_pass http://u; } }',
      '}',
    ].join('\n');
    const r = loadConfig(text, 'a.conf');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.notices.every((n) => n.severity === 'notice' && n.code === 'TSP_ERR_CONFIG_NO_EFFECT')).toBe(true);
    expect(r.notices.map((n) => n.message)).toEqual([
      'load_module', 'worker_rlimit_nofile', 'worker_cpu_affinity', 'worker_priority', 'pcre_jit', 'env', 'env', 'thread_pool',
      'accept_mutex', 'sendfile', 'tcp_nopush', 'types_hash_max_size', 'types_hash_bucket_size',
      'open_file_cache', 'open_file_cache_valid', 'open_file_cache_min_uses', 'open_file_cache_errors',
      'aio', 'charset', 'zone',
    ].map((n) => `"${n}" directive has no effect in tsproxy`));
  });

  test('a location level directive reports its own position', () => {
    expect(notices(SERVER('aio off;'))).toEqual(['1:50 "aio" directive has no effect in tsproxy']);
  });

  // nginx 1.22's messages (checked with ask-nginx)
  test.each([
    ['worker_cpu_affinity abc;', 'invalid character "c" in "worker_cpu_affinity"'],
    ['worker_cpu_affinity auto 01x;', 'invalid character "x" in "worker_cpu_affinity"'],
    ['worker_rlimit_nofile abc;', '"worker_rlimit_nofile" directive invalid number'],
    ['pcre_jit maybe;', 'invalid value "maybe" in "pcre_jit" directive, it must be "on" or "off"'],
    ['worker_priority abc;', '"worker_priority" directive invalid number'],
    ['timer_resolution x;', '"timer_resolution" directive invalid value'],
    ['thread_pool default threads=x;', 'invalid threads value "threads=x"'],
  ])('main: %s', (line, message) => {
    expect(messages(`${line}\nhttp {}`)).toEqual([message]);
  });

  test.each([
    ['open_file_cache max=0;', 'invalid "open_file_cache" parameter "max=0"'],
    ['open_file_cache max=10 inactive=xx;', 'invalid "open_file_cache" parameter "inactive=xx"'],
    ['open_file_cache foo;', 'invalid "open_file_cache" parameter "foo"'],
    ['log_not_found maybe;', 'invalid value "maybe" in "log_not_found" directive, it must be "on" or "off"'],
    ['types_hash_bucket_size 10x;', '"types_hash_bucket_size" directive invalid number'],
    ['fastcgi_param A b c;', 'invalid parameter "c"'],
    ['fastcgi_param A;', 'invalid number of arguments in "fastcgi_param" directive'],
    ['fastcgi_param A $nosuch;', 'unknown "nosuch" variable'],
    ['zone x;', '"zone" directive is not allowed here'],
  ])('location: %s', (line, message) => {
    expect(messages(SERVER(line))).toEqual([message]);
  });

  test.each([
    ['zone z abc;', 'invalid zone size "abc"'],
    ['zone z 1k;', 'zone "z" is too small'],
    ['zone;', 'invalid number of arguments in "zone" directive'],
  ])('upstream: %s', (line, message) => {
    expect(messages(`http { upstream u { ${line} server 127.0.0.1:1; } server { listen 127.0.0.1:0; location / { proxy_pass http://u; } } }`)).toEqual([message]);
  });

  test('redirect flags: nginx\'s default accepted, the other value refused with what tsproxy does', () => {
    expect(notices(SERVER('server_name_in_redirect off; port_in_redirect on; absolute_redirect on;'))).toHaveLength(3);
    expect(messages(SERVER('server_name_in_redirect on; absolute_redirect off;'))).toEqual([
      '"server_name_in_redirect on" is not supported by tsproxy (redirects name the Host of the request)',
      '"absolute_redirect off" is not supported by tsproxy (redirects tsproxy makes carry scheme://host[:port])',
    ]);
  });

  test('proxy_cache_bypass / proxy_no_cache without proxy_cache (accepted, as in nginx); variables checked', () => {
    expect(notices(SERVER('proxy_cache_bypass $http_upgrade $arg_nocache; proxy_no_cache $cookie_x;'))).toHaveLength(0);
    expect(messages(SERVER('proxy_cache_bypass $http_upgrade $arg_nocache; proxy_no_cache $cookie_x;'))).toEqual([]);
    expect(messages(SERVER('proxy_cache_bypass $nosuch;'))).toEqual(['unknown "nosuch" variable']);
    expect(messages(SERVER('proxy_cache one;'))).toEqual(['"proxy_cache" zone "one" is unknown']);
  });

  test('zone in a stream upstream too', () => {
    expect(loadConfig('stream { upstream u { zone z 64k; server 127.0.0.1:1; } server { listen 127.0.0.1:0; proxy_pass u; } }', 'a.conf').errors).toEqual([]);
  });

  test('fastcgi_param is accepted (nginx keeps it where no fastcgi_pass reads it) with if_not_empty', () => {
    // variables only nginx computes are fine here: nothing evaluates the value in tsproxy
    expect(notices(SERVER('fastcgi_param HTTPS $https if_not_empty; fastcgi_param SCRIPT_NAME $fastcgi_script_name; fastcgi_param V nginx/$nginx_version;'))).toEqual([]);
  });
});

describe('directives nginx has and tsproxy does not', () => {
  test('named as unsupported, not as a typo', () => {
    const r = loadConfig(SERVER('uwsgi_pass 127.0.0.1:1; scgi_pass 127.0.0.1:1; grpc_pass 127.0.0.1:1; ssi on;'), 'a.conf');
    expect(r.errors.map((e) => `${e.code} ${e.message}`)).toEqual([
      'TSP_ERR_CONFIG_UNSUPPORTED nginx directive "uwsgi_pass" is not supported by tsproxy (uwsgi backends are not supported; HTTP backends are, with proxy_pass)',
      'TSP_ERR_CONFIG_UNSUPPORTED nginx directive "scgi_pass" is not supported by tsproxy (SCGI backends are not supported; HTTP backends are, with proxy_pass)',
      'TSP_ERR_CONFIG_UNSUPPORTED nginx directive "grpc_pass" is not supported by tsproxy (gRPC backends (HTTP/2 to the upstream) are not supported; HTTP/1.1 backends are, with proxy_pass)',
      'TSP_ERR_CONFIG_UNSUPPORTED nginx directive "ssi" is not supported by tsproxy',
    ]);
  });

  test('"did you mean" stays for typos of our names, and is not offered when an nginx name we lack is as near', () => {
    expect(messages(SERVER('proxy_pas http://127.0.0.1:1;'))).toEqual(['unknown directive "proxy_pas" - did you mean "proxy_pass"?']);
    // "matc" is as near to tsproxy's "watch" as to nginx's "match": no guess
    expect(suggest('matc')).toBeNull();
    expect(messages(SERVER('matc x;'))).toEqual(['unknown directive "matc"']);
  });
});

describe('problems of a file included many times', () => {
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'tsproxy-stock-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  }

  test.each([21, 150])('reported once, with the count of the other places (%i includes)', (times) => {
    const locations = Array.from({ length: times }, (_, i) => `location /l${i} { include bad.inc; return 200; }`).join('\n');
    const dir = tree({
      'nginx.conf': `http { server { listen 127.0.0.1:0;\n${locations}\n} }`,
      'bad.inc': 'proxy_pas http://127.0.0.1:1;\naio off;\n',
    });
    const r = loadConfigFile(join(dir, 'nginx.conf'));
    // counted past the cap of 100 reported problems: repeats do not use it up
    expect(r.errors.map((e) => `${e.loc.file.slice(dir.length)}:${e.loc.line} ${e.message}`)).toEqual([
      `/bad.inc:1 unknown directive "proxy_pas" - did you mean "proxy_pass"? (and ${times - 1} more times)`,
    ]);
    expect(r.notices.map((e) => e.message)).toEqual([`"aio" directive has no effect in tsproxy (and ${times - 1} more times)`]);
  });

  test('in the order the files were read, not by file name: a cause before its consequence', () => {
    const dir = tree({
      'nginx.conf': 'http {\nperl_set $answer "sub { 42 }";\ninclude conf.d/*.conf;\n}',
      'conf.d/a.conf': 'server { listen 127.0.0.1:0; location / { return 200 $answer; } }',
    });
    const r = loadConfigFile(join(dir, 'nginx.conf'));
    expect(r.errors.map((e) => e.message)).toEqual([
      'nginx directive "perl_set" is not supported by tsproxy',
      'unknown "answer" variable',
    ]);
  });
});
