/**
 * The template engine of core/variables/template.ts, driven through http's variables (the stream
 * side of the same engine: test/tcp/stream-vars.test.ts, test/core/maps.test.ts).
 */
import { describe, expect, test } from 'vitest';
import { compileTemplate, TemplateSyntaxError, UnknownVariableError } from '../../src/http/variables.js';
import { checkTemplate, isKnownVariable, listVariables, parseTemplate, regexCaptureNames } from '../../src/config/template.js';
import { requestInfo } from '../helpers/http-config.js';

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
    expect(checkTemplate('$request_completion')?.message).toBe('the "request_completion" variable is not supported by tsproxy');
    expect(checkTemplate('$request_body $request_body_file')).toBeNull();
    expect(checkTemplate('$ssl_preread_server_name', undefined, 'stream')).toBeNull();
    expect(checkTemplate('$ssl_preread_server_name')?.message).toBe('unknown "ssl_preread_server_name" variable');
    expect(checkTemplate('$host $nope', new Set(['nope']))).toBeNull();
    expect(isKnownVariable('http_x_anything')).toBe(true);
    expect(isKnownVariable('http_')).toBe(false);
    expect(listVariables('$a ${b} $a $1')).toEqual(['a', 'b']);
    expect(regexCaptureNames('^(?<user>.+)\\.(?P<dom>x)$')).toEqual(['user', 'dom']);
  });

  test('constant templates say so', () => {
    expect(compileTemplate('text').constant).toBe('text');
    expect(compileTemplate('').constant).toBe('');
    expect(compileTemplate('$host').constant).toBeNull();
  });
});

describe('captures and set values', () => {
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
});
