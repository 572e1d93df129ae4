import { describe, expect, test } from 'vitest';
import { ConfigError, type Loc } from '../../src/errors.js';
import { formatConfigError } from '../../src/config/format.js';
import { parseConfigText } from '../../src/config/parse.js';

const FILE = '/etc/tsproxy/tsproxy.conf';
const err = (message: string, loc: Partial<Loc>, severity: 'emerg' | 'warn' = 'emerg') =>
  new ConfigError('TSP_ERR_CONFIG_UNKNOWN_DIRECTIVE', message, { file: FILE, line: 1, column: 1, ...loc }, severity);

describe('formatConfigError', () => {
  test('prints the nginx line, the source line as is and a caret under the token', () => {
    const text = 'http {\n  server {\n    location / {\n        proxy_pas http://app;\n    }\n  }\n}\n';
    const out = formatConfigError(err('unknown directive "proxy_pas"', { line: 4, column: 9, length: 9 }), [{ file: FILE, text }]);
    expect(out).toBe(
      [
        `tsproxy: [emerg] unknown directive "proxy_pas" in ${FILE}:4:9`,
        '        proxy_pas http://app;',
        '        ^^^^^^^^^',
      ].join('\n'),
    );
  });

  test('tabs in the source are kept in the caret prefix so the caret lines up', () => {
    const text = '\thttp {\n\t\tx\ty;\n';
    const out = formatConfigError(err('m', { line: 2, column: 5, length: 1 }), [{ file: FILE, text }]);
    expect(out.split('\n').slice(1)).toEqual(['\t\tx\ty;', '\t\t \t^']);
  });

  test('warn severity, and only the first line when the source is unknown', () => {
    expect(formatConfigError(err('bare number', { line: 3, column: 2 }, 'warn'), [])).toBe(
      `tsproxy: [warn] bare number in ${FILE}:3:2`,
    );
    expect(formatConfigError(err('x', { line: 9 }), [{ file: FILE, text: 'one line\n' }])).toBe(
      `tsproxy: [emerg] x in ${FILE}:9:1`,
    );
  });

  test('the caret is at least one character and ends at the end of the line', () => {
    const sources = [{ file: FILE, text: 'listen 80\r\n' }];
    expect(formatConfigError(err('a', { column: 8, length: 0 }), sources).split('\n')[2]).toBe('       ^');
    expect(formatConfigError(err('b', { column: 8, length: 50 }), sources).split('\n')[2]).toBe('       ^^');
    // A missing ";" is reported just after the line's text: the caret goes there.
    expect(formatConfigError(err('c', { column: 10, length: 1 }), sources).split('\n')).toEqual([
      `tsproxy: [emerg] c in ${FILE}:1:10`,
      'listen 80',
      '         ^',
    ]);
  });

  test('end to end with a parse error', () => {
    const text = 'events {}\nhttp {\n    server {\n        listen 8080\n    }\n}\n';
    const { errors } = parseConfigText(text, FILE);
    expect(errors.map((e) => formatConfigError(e, [{ file: FILE, text }]))).toEqual([
      [
        `tsproxy: [emerg] directive "listen" is not terminated by ";" in ${FILE}:4:20`,
        '        listen 8080',
        '                   ^',
      ].join('\n'),
    ]);
  });
});
