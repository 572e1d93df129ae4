import { describe, expect, test } from 'vitest';
import { hostname } from 'node:os';
import { compileTemplate, HTTP_VARIABLES } from '../../src/http/variables.js';
import { BUILTIN_VARIABLES, VARIABLE_PREFIXES } from '../../src/config/template.js';
import { requestInfo } from '../helpers/http-config.js';
import { UpstreamAttempts } from '../../src/upstream/attempts.js';

const ev = (t: string, over = {}, ctx?: Parameters<typeof compileTemplate>[1]) => compileTemplate(t, ctx)(requestInfo(over));

describe('variables', () => {
  test('every built-in name -t accepts has a getter', () => {
    for (const name of BUILTIN_VARIABLES) expect(() => compileTemplate(`$${name}`), name).not.toThrow();
  });

  test('the getters are exactly the names and families -t accepts', () => {
    expect(Object.keys(HTTP_VARIABLES.builtins).sort()).toEqual([...BUILTIN_VARIABLES].sort());
    expect(Object.keys(HTTP_VARIABLES.families).sort()).toEqual([...VARIABLE_PREFIXES].sort());
  });

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

});

describe('$binary_remote_addr', () => {
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
