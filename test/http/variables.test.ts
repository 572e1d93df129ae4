import { describe, expect, test, vi, onTestFinished } from 'vitest';
import { hostname } from 'node:os';
import {
  compileMaps, compileTemplate, formatTimeIso8601, formatTimeLocal, TemplateSyntaxError, UnknownVariableError,
} from '../../src/http/variables.js';
import { BUILTIN_VARIABLES, checkTemplate, isKnownVariable, listVariables, parseTemplate, regexCaptureNames } from '../../src/config/template.js';
import type { MapConfig } from '../../src/config/types.js';
import { requestInfo } from '../helpers/http-config.js';
import { UpstreamAttempts } from '../../src/upstream/attempts.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };
const ev = (t: string, over = {}, ctx?: Parameters<typeof compileTemplate>[1]) => compileTemplate(t, ctx)(requestInfo(over));

describe('template syntax', () => {
  test.each([
    ['plain', [{ kind: 'literal', text: 'plain' }]],
    ['$host', [{ kind: 'variable', name: 'host' }]],
    ['${host}x', [{ kind: 'variable', name: 'host' }, { kind: 'literal', text: 'x' }]],
    ['a$1b', [{ kind: 'literal', text: 'a' }, { kind: 'capture', index: 1 }, { kind: 'literal', text: 'b' }]],
    // one digit only, as nginx: $12 is capture 1 then "2"
    ['$12', [{ kind: 'capture', index: 1 }, { kind: 'literal', text: '2' }]],
    ['$host.$uri', [{ kind: 'variable', name: 'host' }, { kind: 'literal', text: '.' }, { kind: 'variable', name: 'uri' }]],
  ])('%j', (t, want) => {
    expect(parseTemplate(t)).toEqual(want);
  });

  test.each(['a$', '$-x', '${host', '${ho-st}', '${}'])('%j is a syntax error', (t) => {
    expect(() => parseTemplate(t)).toThrow(TemplateSyntaxError);
    expect(checkTemplate(t)?.message).toMatch(/variable/);
  });

  test('unknown variables are a config-time error naming the variable', () => {
    expect(() => compileTemplate('x $nope y')).toThrow(UnknownVariableError);
    expect(() => compileTemplate('$nope')).toThrow('unknown "nope" variable');
    expect(checkTemplate('$host $nope')).toEqual({ message: 'unknown "nope" variable', offset: 6, length: 5 });
    expect(checkTemplate('a${nope}b')).toEqual({ message: 'unknown "nope" variable', offset: 1, length: 7 });
    expect(checkTemplate('$request_body')?.message).toBe('the "request_body" variable is not supported by tsproxy');
    expect(checkTemplate('$ssl_preread_server_name', undefined, 'stream')).toBeNull();
    expect(checkTemplate('$ssl_preread_server_name')?.message).toBe('unknown "ssl_preread_server_name" variable');
    expect(checkTemplate('$host $nope', new Set(['nope']))).toBeNull();
    expect(isKnownVariable('http_x_anything')).toBe(true);
    expect(isKnownVariable('http_')).toBe(false);
    expect(listVariables('$a ${b} $a $1')).toEqual(['a', 'b']);
    expect(regexCaptureNames('^(?<user>.+)\\.(?P<dom>x)$')).toEqual(['user', 'dom']);
  });

  test('every built-in name -t accepts has a getter', () => {
    for (const name of BUILTIN_VARIABLES) expect(() => compileTemplate(`$${name}`), name).not.toThrow();
  });

  test('constant templates say so', () => {
    expect(compileTemplate('text').constant).toBe('text');
    expect(compileTemplate('').constant).toBe('');
    expect(compileTemplate('$host').constant).toBeNull();
  });
});

describe('variables', () => {
  const headers = [
    'Host', 'Example.test:8080', 'X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '10.0.0.2',
    'User-Agent', 'curl/8', 'Cookie', 'a=1; session=abc', 'cookie', 'b=2', 'Content-Type', 'text/plain',
    'Authorization', `Basic ${Buffer.from('bob:secret').toString('base64')}`,
  ];
  test.each([
    ['$host', 'example.test'],
    ['$http_user_agent', 'curl/8'],
    ['$http_USER_AGENT', 'curl/8'],
    ['$http_x_forwarded_for', '10.0.0.1, 10.0.0.2'],
    ['$http_cookie', 'a=1; session=abc; b=2'],
    ['$http_missing', ''],
    ['$cookie_session', 'abc'],
    ['$cookie_b', '2'],
    ['$cookie_nope', ''],
    ['$proxy_add_x_forwarded_for', '10.0.0.1, 10.0.0.2, 127.0.0.1'],
    ['$content_type', 'text/plain'],
    ['$content_length', ''],
    ['$remote_user', 'bob'],
    ['$request', 'GET /x?a=1 HTTP/1.1'],
    ['$request_method $request_uri $uri $document_uri', 'GET /x?a=1 /x /x'],
    ['$args|$query_string|$is_args', 'a=1|a=1|?'],
    ['$arg_a|$arg_A|$arg_b', '1|1|'],
    ['$remote_addr:$remote_port $server_addr:$server_port', '127.0.0.1:50000 127.0.0.1:8080'],
    ['$scheme://$server_name $server_protocol', 'http://example.test HTTP/1.1'],
    ['$connection/$connection_requests', '7/1'],
    ['$status $body_bytes_sent $bytes_sent $request_length', '200 0 0 0'],
    ['$connection_upgrade', 'close'],
    ['$hostname', hostname()],
    ['$pid', String(process.pid)],
  ])('%s', (t, want) => {
    expect(ev(t, { headers })).toBe(want);
  });

  test('$proxy_add_x_forwarded_for without X-Forwarded-For is the client address', () => {
    expect(ev('$proxy_add_x_forwarded_for')).toBe('127.0.0.1');
  });

  test('$connection_upgrade is "upgrade" when the client asks for one', () => {
    expect(ev('$connection_upgrade $http_upgrade', { headers: ['Upgrade', 'websocket'] })).toBe('upgrade websocket');
  });

  test('$arg_ reads raw values, first match, bare names', () => {
    expect(ev('[$arg_x][$arg_y][$arg_z]', { args: 'y&x=a%20b&x=2&z=' })).toBe('[a%20b][][]');
  });

  test('$is_args is empty for an empty query', () => {
    expect(ev('[$is_args]', { args: '' })).toBe('[]');
  });

  test('$sent_http_ reads response headers', () => {
    expect(ev('$sent_http_content_type', { responseHeaders: ['Content-Type', 'text/html'] })).toBe('text/html');
    expect(ev('[$sent_http_content_type]')).toBe('[]');
  });

  test('upstream and proxy fields: one value per try, " : " between the phases of an internal redirect', () => {
    const tries = new UpstreamAttempts();
    tries.start('127.0.0.1:1', 1000).end(1000);
    const ok = tries.start('127.0.0.1:9001', 1000);
    Object.assign(ok, { status: 200, connectMs: 1, headerMs: 3, bytesSent: 84, bytesReceived: 145, bodyBytes: 3 });
    ok.end(1004);
    tries.list[0]!.status = 502;
    const all = '$upstream_addr|$upstream_status|$upstream_response_time|$upstream_connect_time|$upstream_header_time'
      + '|$upstream_bytes_sent|$upstream_bytes_received|$upstream_response_length|$proxy_host|$proxy_port';
    expect(ev(all, { upstream: tries, proxyHost: 'backend', proxyPort: '80' }))
      .toBe('127.0.0.1:1, 127.0.0.1:9001|502, 200|0.000, 0.004|-, 0.001|-, 0.003|0, 84|0, 145|0, 3|backend|80');
    tries.newPhase();
    const again = tries.start('127.0.0.1:9002', 2000);
    again.status = 503;
    again.end(2000);
    expect(ev('$upstream_status', { upstream: tries })).toBe('502, 200 : 503');
    expect(ev('[$upstream_addr]')).toBe('[]');
  });

  test('$upstream_http_ reads the upstream response; $sent_http_connection what tsproxy sent', () => {
    const upstream = new UpstreamAttempts();
    const headers = ['X-App', 'one', 'Connection', 'Upgrade'];
    expect(ev('$upstream_http_x_app', { upstream, responseHeaders: headers })).toBe('one');
    expect(ev('[$upstream_http_x_app]', { responseHeaders: null })).toBe('[]');
    expect(ev('$sent_http_connection', { responseHeaders: headers, connectionHeader: 'upgrade' })).toBe('upgrade');
  });

  test('$status of a request without a response yet is 000', () => {
    expect(ev('$status', { status: 0 })).toBe('000');
  });

  test('$request_time and $msec are seconds with milliseconds', () => {
    const rt = ev('$request_time', { startMs: Date.now() - 1234 });
    expect(rt).toMatch(/^\d+\.\d{3}$/);
    expect(Number(rt)).toBeGreaterThanOrEqual(1.234);
    expect(ev('$msec')).toMatch(/^\d{10}\.\d{3}$/);
  });

  test('$request_id is 32 hex chars, stable within a request', () => {
    const r = requestInfo();
    const t = compileTemplate('$request_id $request_id');
    const [a, b] = t(r).split(' ');
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toBe(a);
    expect(t(requestInfo()).split(' ')[0]).not.toBe(a);
  });

  test('captures: $1..$9 and named ones', () => {
    const captures = { numbered: ['/u/bob', 'bob', undefined], named: { user: 'bob' } };
    expect(ev('$1-$2-$9-${1}x', { captures })).toBe('bob---bobx');
    expect(ev('$user', { captures }, { declared: new Set(['user']) })).toBe('bob');
    expect(ev('[$1]')).toBe('[]');
  });

  test('set variables come from r.vars', () => {
    expect(ev('$backend', { vars: new Map([['backend', 'b1']]) }, { declared: new Set(['backend']) })).toBe('b1');
    expect(ev('[$backend]', {}, { declared: new Set(['backend']) })).toBe('[]');
  });

  test('time formats', () => {
    vi.useFakeTimers();
    onTestFinished(() => { vi.useRealTimers(); });
    const d = new Date(2026, 10, 27, 14, 45, 36);
    vi.setSystemTime(d);
    const off = -d.getTimezoneOffset();
    const sign = off < 0 ? '-' : '+';
    const hh = String(Math.floor(Math.abs(off) / 60)).padStart(2, '0');
    const mm = String(Math.abs(off) % 60).padStart(2, '0');
    expect(formatTimeLocal(d)).toBe(`27/Nov/2026:14:45:36 ${sign}${hh}${mm}`);
    expect(formatTimeIso8601(d)).toBe(`2026-11-27T14:45:36${sign}${hh}:${mm}`);
    expect(ev('$time_local')).toBe(formatTimeLocal(d));
    vi.setSystemTime(new Date(2026, 10, 27, 14, 45, 37));
    expect(ev('$time_iso8601')).toBe(`2026-11-27T14:45:37${sign}${hh}:${mm}`);
  });
});

describe('compileMaps', () => {
  const map = (over: Partial<MapConfig>): MapConfig => ({
    source: '$http_upgrade', variable: 'v', hostnames: false, defaultValue: 'dflt', entries: [], loc: LOC, ...over,
  });
  const entry = (kind: 'exact' | 'regex' | 'regexCaseless', key: string, value: string) => ({ kind, key, value, loc: LOC });

  test('exact keys are caseless, then regexes in order, then the default', () => {
    const maps = compileMaps([map({
      source: '$http_x_k',
      entries: [entry('regex', '^a', 'regex-a'), entry('exact', 'ABC', 'exact'), entry('regexCaseless', '^B', 'regex-b'), entry('regex', '^b', 'late')],
    })]);
    const t = compileTemplate('$v', { maps });
    const run = (k: string) => t(requestInfo({ headers: ['X-K', k] }));
    expect(run('abc')).toBe('exact');
    expect(run('aXY')).toBe('regex-a');
    expect(run('bee')).toBe('regex-b');
    expect(run('zzz')).toBe('dflt');
  });

  test('values are templates and may use the regex captures; the map reads another map', () => {
    const maps = compileMaps([
      map({ variable: 'outer', source: '$inner', defaultValue: 'none', entries: [entry('regex', '^up-(.*)$', 'got-$1')] }),
      map({ variable: 'inner', source: '$http_upgrade', defaultValue: '', entries: [entry('exact', 'websocket', 'up-ws')] }),
    ]);
    const t = compileTemplate('$outer/$inner', { maps });
    expect(t(requestInfo({ headers: ['Upgrade', 'websocket'] }))).toBe('got-ws/up-ws');
    expect(t(requestInfo())).toBe('none/');
  });

  test('the value is computed once per request and cached in r.vars', () => {
    let calls = 0;
    const maps = compileMaps([map({ source: '$http_x', entries: [] })]);
    const r = requestInfo();
    const get = maps.get('v')!;
    const t = compileTemplate('$v$v', { maps: new Map([['v', (rr) => { calls++; return get(rr); }]]) });
    expect(t(r)).toBe('dfltdflt');
    expect(calls).toBe(1);
    expect(r.vars?.get('v')).toBe('dflt');
    expect(t(requestInfo())).toBe('dfltdflt');
    expect(calls).toBe(2);
  });

  test('a map that refers to itself gives "" instead of recursing forever', () => {
    const maps = compileMaps([map({ source: '$v', defaultValue: 'x$v' })]);
    expect(compileTemplate('$v', { maps })(requestInfo())).toBe('x');
  });
});

describe('map hostnames and $binary_remote_addr', () => {
  test('hostnames maps match wildcard keys like server_name', () => {
    const e = (key: string, value: string) => ({ kind: 'exact' as const, key, value, loc: LOC });
    const maps = compileMaps([{
      source: '$http_x_h', variable: 'site', hostnames: true, defaultValue: 'none', loc: LOC,
      entries: [e('*.example.org', 'lead'), e('*.api.example.org', 'lead-long'), e('.dot.test', 'dot'), e('www.example.*', 'trail'), e('exact.example.org', 'exact')],
    }]);
    const t = compileTemplate('$site', { maps });
    const run = (h: string) => t(requestInfo({ headers: ['X-H', h] }));
    expect(run('exact.example.org')).toBe('exact');
    expect(run('a.example.org')).toBe('lead');
    expect(run('v1.api.example.org')).toBe('lead-long');
    expect(run('dot.test')).toBe('dot');
    expect(run('x.dot.test.')).toBe('dot');
    expect(run('www.example.com')).toBe('trail');
    expect(run('example.org')).toBe('none');
  });

  test('without hostnames, "*.x" is an ordinary key', () => {
    const maps = compileMaps([{
      source: '$http_x_h', variable: 'v', hostnames: false, defaultValue: 'none', loc: LOC,
      entries: [{ kind: 'exact', key: '*.x', value: 'star', loc: LOC }],
    }]);
    const t = compileTemplate('$v', { maps });
    expect(t(requestInfo({ headers: ['X-H', 'a.x'] }))).toBe('none');
    expect(t(requestInfo({ headers: ['X-H', '*.x'] }))).toBe('star');
  });

  test.each([
    ['10.1.2.3', [10, 1, 2, 3]],
    ['::ffff:127.0.0.1', [127, 0, 0, 1]],
    ['::1', [...new Array(15).fill(0), 1]],
    ['2001:db8::8:1', [0x20, 0x01, 0x0d, 0xb8, ...new Array(8).fill(0), 0, 8, 0, 1]],
  ])('$binary_remote_addr of %s', (addr, bytes) => {
    const v = compileTemplate('$binary_remote_addr')(requestInfo({ remoteAddr: addr }));
    expect([...Buffer.from(v, 'latin1')]).toEqual(bytes);
  });
});
