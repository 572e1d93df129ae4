import { describe, expect, test } from 'vitest';
import { COMBINED_FORMAT, compileLogFormat, compileLogFormats } from '../../src/http/log-format.js';
import { compileMaps } from '../../src/http/variables.js';
import { requestInfo } from '../helpers/http-config.js';

const LOC = { file: 'test.conf', line: 1, column: 1 };

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
