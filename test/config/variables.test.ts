/**
 * `-t` refuses a `$variable` nothing defines, in every directive that takes a template, with the
 * position of the `$name`. Wording and what counts as declared (set anywhere, map targets, named
 * regex captures, the http_/arg_/cookie_/sent_http_/upstream_http_ families) are nginx 1.22's
 * (`nginx -t` on the same snippets); nginx says it without a position.
 */
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

function errors(text: string): string[] {
  return loadConfig(text, 'v.conf').errors.map((e) => `${e.loc.line}:${e.loc.column}+${e.loc.length ?? 1} ${e.message}`);
}

const http = (inner: string, top = ''): string =>
  `http { ${top} server { listen 127.0.0.1:0; location / { ${inner} } location /b { set $later 1; } location ~ (?<loccap>y) { return 200; } } }`;

describe('unknown variables at -t', () => {
  /** `line:column+length` of the first `$name` / `${name}` in a one-line config. */
  const at = (text: string, ref: string): string => `1:${text.indexOf(ref) + 1}+${ref.length}`;

  test.each([
    ['proxy_set_header X $nope; proxy_pass http://127.0.0.1:9;', '$nope'],
    ['add_header X "a-$nope";', '$nope'],
    ['return 200 $nope;', '$nope'],
    ['set $a $nope;', '$nope'],
    ['rewrite ^ /$nope;', '$nope'],
    ['proxy_pass http://$nope;', '$nope'],
    ['error_page 502 /e/$nope; return 200;', '$nope'],
    ['proxy_method $nope; proxy_pass http://127.0.0.1:9;', '$nope'],
    ['proxy_redirect default; proxy_redirect http://a/ /${nope}/;', '${nope}'],
  ])('%s', (inner, ref) => {
    const text = http(inner);
    expect(errors(text)).toEqual([`${at(text, ref)} unknown "nope" variable`]);
  });

  test('every unknown variable of one template is reported, each at its own `$`, once per name', () => {
    const text = http(`return 200 "$request_completion $nope $upstream_queue_time $nope";`);
    expect(errors(text)).toEqual([
      `${at(text, '$request_completion')} the "request_completion" variable is not supported by tsproxy`,
      `${at(text, '$nope')} unknown "nope" variable`,
      `${at(text, '$upstream_queue_time')} the "upstream_queue_time" variable is not supported by tsproxy`,
    ]);
  });

  test('log_format, map source, map value and default, upstream hash key', () => {
    const text = [
      'http {',
      '  log_format f "$remote_addr $nope1";',
      '  map $nope2 $m { default $nope3; x "v$nope4"; }',
      '  upstream u { hash $nope5; server 127.0.0.1:9; }',
      '  server { listen 127.0.0.1:0; location / { proxy_pass http://u; } }',
      '}',
    ].join('\n');
    expect(errors(text)).toEqual([
      '2:30+6 unknown "nope1" variable',
      '3:7+6 unknown "nope2" variable',
      '3:27+6 unknown "nope3" variable',
      '3:39+6 unknown "nope4" variable',
      '4:21+6 unknown "nope5" variable',
    ]);
  });

  test('declared anywhere counts: set in another location, map targets, named captures of any regex', () => {
    const top = 'map $uri $m { ~(?<mapcap>x) 1; default 0; }';
    expect(errors(http('return 200 "$later $m $mapcap $loccap $1";', top))).toEqual([]);
    expect(errors(http('return 200 "$http_x_y $arg_a $cookie_c $sent_http_d $upstream_http_e";'))).toEqual([]);
  });

  test('variables nginx has and tsproxy does not compute are named as such', () => {
    const text = http('return 200 $request_completion;');
    expect(errors(text)).toEqual([`${at(text, '$request_completion')} the "request_completion" variable is not supported by tsproxy`]);
  });

  test('template syntax errors point at the argument', () => {
    const text = http('return 200 "${host";');
    expect(errors(text)).toEqual([`${at(text, '${host')} the closing bracket in "host" variable is missing`]);
  });

  test('stream: log_format, map, proxy_pass; http-only names are unknown there', () => {
    const text = [
      'stream {',
      '  log_format f "$remote_addr $http_host";',
      '  map $ssl_preread_server_name $b { ~^(?<app>\\w+)\\. "$app:9"; default $nope; }',
      '  server { listen 127.0.0.1:0; access_log /dev/null f; proxy_pass $b; }',
      '  server { listen 127.0.0.1:1; proxy_pass $nope2; }',
      '}',
    ].join('\n');
    expect(errors(text)).toEqual([
      '2:30+10 unknown "http_host" variable',
      '3:71+5 unknown "nope" variable',
      '5:43+6 unknown "nope2" variable',
    ]);
  });

  test('other errors do not hide them: everything is reported at once', () => {
    const text = http('proxy_pas x; return 200 $nope;');
    expect(errors(text)).toEqual([
      `${at(text, 'proxy_pas')} unknown directive "proxy_pas" - did you mean "proxy_pass"?`,
      `${at(text, '$nope')} unknown "nope" variable`,
    ]);
  });
});
