import { describe, expect, test } from 'vitest';
import { COMBINED_FORMAT, compileLogFormat, compileLogFormats, escapeDefault, escapeJson } from '../../src/http/log-format.js';
import { compileMaps } from '../../src/http/variables.js';
import { requestInfo } from '../helpers/http-config.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };
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

describe('formats', () => {
  test('combined', () => {
    const formats = compileLogFormats([]);
    const line = formats.get('combined')!(requestInfo({
      headers: ['User-Agent', 'curl/8.0', 'Referer', 'http://r.test/'], status: 404, bodyBytesSent: 153,
    }));
    expect(line).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/x\?a=1 HTTP\/1\.1" 404 153 "http:\/\/r\.test\/" "curl\/8\.0"$/);
    expect(COMBINED_FORMAT).toContain('$remote_user');
  });

  test('a config format with map variables; set/map values that are empty print as empty', () => {
    const maps = compileMaps([{ source: '$http_x', variable: 'm', hostnames: false, defaultValue: '', entries: [], loc: LOC }]);
    const formats = compileLogFormats([{ name: 'short', escape: 'default', template: '[$m] $status', loc: LOC }], { maps });
    expect(formats.get('short')!(requestInfo())).toBe('[] 200');
    expect(formats.has('combined')).toBe(true);
  });

  test('an unknown variable in a format throws at compile time', () => {
    expect(() => compileLogFormat({ escape: 'default', template: '$nope' })).toThrow('unknown "nope" variable');
  });
});
