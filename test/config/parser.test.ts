import { describe, expect, test } from 'vitest';
import { tokenize } from '../../src/config/lexer.js';
import { configParser } from '../../src/config/parser.js';

function errorsOf(text: string): string[] {
  configParser.input = tokenize(text, 'p.conf').tokens;
  configParser.config();
  return configParser.errors.map((e) => e.name);
}

describe('ConfigParser', () => {
  test('has exactly the generic grammar: config, statement, block', () => {
    expect(Object.keys(configParser.getGAstProductions()).sort()).toEqual(['block', 'config', 'statement']);
  });

  test.each([
    '',
    'a;',
    'a b "c" \'d\';',
    'a { }',
    'a { b { c; } d; } e f { }',
    'server_name "~^(?<name>.+)\\.test$";',
  ])('accepts %j', (text) => {
    expect(errorsOf(text)).toEqual([]);
  });

  test.each(['a', 'a {', '}', 'a { ; }', '{ }', 'a b }', ';', 'a { { } }'])('rejects %j', (text) => {
    expect(errorsOf(text).length).toBeGreaterThan(0);
  });

  test('is reusable: state is reset by assigning input', () => {
    expect(errorsOf('a {')).not.toEqual([]);
    expect(errorsOf('a;')).toEqual([]);
  });

  test('recovers and reports several errors in one run', () => {
    expect(errorsOf('a { ; }\nb { ; }\nc d;').length).toBe(2);
  });
});
