/**
 * Log formats (core/variables/log-format.ts), one engine for http and stream: escaping and what
 * an unset or empty value prints, each side through its own variables.
 */
import { describe, expect, it, test } from 'vitest';
import { escapeDefault, escapeJson } from '../../src/core/variables/log-format.js';
import { compileLogFormat } from '../../src/http/log-format.js';
import { compileLogFormat as compileStreamLogFormat, compileStreamMaps, type SessionInfo } from '../../src/tcp/stream-vars.js';
import { requestInfo } from '../helpers/http-config.js';

// the header value nginx 1.22 logged for the expectations below (ask-nginx, curl -H $'X-T: ...')
const tricky = 'a"b\\c\x01é\ttab';
const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`;

describe('escaping matches nginx', () => {
  test('escape=default: " \\ control and non-ASCII bytes as \\xHH, unset as "-", empty-but-set as ""', () => {
    const f = compileLogFormat({ escape: 'default', template: 'D "$http_x_t" [$http_x_none] $args|$is_args|$remote_user|$connection_upgrade' });
    expect(f(requestInfo({ args: '', headers: ['X-T', tricky, 'Authorization', basic] })))
      .toBe('D "a\\x22b\\x5Cc\\x01\\xC3\\xA9\\x09tab" [-] -||bob|close');
  });

  test('escape=json: JSON string escaping, unset as ""', () => {
    const f = compileLogFormat({ escape: 'json', template: '{"t":"$http_x_t","n":"$http_x_none","a":"$args"}' });
    const line = f(requestInfo({ args: '', headers: ['X-T', tricky] }));
    expect(line).toBe('{"t":"a\\"b\\\\c\\u0001é\\ttab","n":"","a":""}');
    expect(JSON.parse(line)).toEqual({ t: tricky, n: '', a: '' });
  });

  test('escape=none: values as they are, unset as ""', () => {
    const f = compileLogFormat({ escape: 'none', template: 'N "$http_x_t" [$http_x_none]' });
    expect(f(requestInfo({ headers: ['X-T', tricky] }))).toBe(`N "${tricky}" []`);
  });

  test('literal parts are never escaped', () => {
    const f = compileLogFormat({ escape: 'default', template: '"\\é $uri' });
    expect(f(requestInfo())).toBe('"\\é /x');
  });

  test('escape helpers leave clean strings alone', () => {
    const s = 'GET /x HTTP/1.1';
    expect(escapeDefault(s)).toBe(s);
    expect(escapeJson(s)).toBe(s);
    expect(escapeDefault('\x7f')).toBe('\\x7F');
  });
});

const session: SessionInfo = {
  connection: 7, remoteAddress: '192.0.2.1', remotePort: 50000, serverAddress: '127.0.0.1', serverPort: 8443,
  bytesSent: 0, bytesReceived: 0, startedAt: 0, endedAt: 0, upstream: null, status: 200, sslPrereadServerName: null,
  sslPrereadAlpn: [], proxyProtocolAddress: null, proxyProtocolPort: null, host: 'say "hi"\n', serverName: '',
};

describe('stream log lines', () => {
  const compileLogFormat = compileStreamLogFormat;

  it('escapes like nginx by default and as JSON on request', () => {
    expect(compileLogFormat('$host')(session)).toBe('say \\x22hi\\x22\\x0A\n');
    expect(compileLogFormat('{"h":"$host"}', 'json')(session)).toBe('{"h":"say \\"hi\\"\\n"}\n');
    expect(compileLogFormat('$host', 'none')(session)).toBe('say "hi"\n\n');
  });

  // nginx 1.22's stream log module (a stream server with `return`, plain bytes, no PROXY header,
  // a map whose value is ""): not found is "-" only with escape=default; a map's "" is a value
  test.each([
    ['default', '[-] [-] [] [x]\n'],
    ['none', '[] [] [] [x]\n'],
    ['json', '[] [] [] [x]\n'],
  ] as const)('escape=%s: unset and empty values as nginx prints them', (escape, line) => {
    const loc = { file: 't', line: 1, column: 1 };
    const declared = new Set(['m', 'm2']);
    const maps = compileStreamMaps([
      { source: '$remote_addr', variable: 'm', hostnames: false, defaultValue: '', entries: [], loc },
      { source: '$remote_addr', variable: 'm2', hostnames: false, defaultValue: 'x', entries: [], loc },
    ], declared);
    const f = compileLogFormat('[$ssl_preread_server_name] [$proxy_protocol_addr] [$m] [$m2]', escape, { maps, declared });
    expect(f(session)).toBe(line);
  });
});
