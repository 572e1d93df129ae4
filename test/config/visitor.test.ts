import { describe, expect, test } from 'vitest';
import { tokenize } from '../../src/config/lexer.js';
import { configParser } from '../../src/config/parser.js';
import { cstToDirectives } from '../../src/config/visitor.js';
import type { ConfigCstNode } from '../../src/config/cst.js';

function ast(text: string) {
  configParser.input = tokenize(text, 'v.conf').tokens;
  const cst = configParser.config() as ConfigCstNode;
  expect(configParser.errors).toEqual([]);
  return cstToDirectives(cst, 'v.conf');
}

describe('cstToDirectives', () => {
  test('maps statements to directives with positions on every name and argument', () => {
    expect(ast('listen 127.0.0.1:80 "default_server";')).toEqual([
      {
        name: 'listen',
        args: [
          { value: '127.0.0.1:80', quoted: false, loc: { file: 'v.conf', line: 1, column: 8, length: 12 } },
          { value: 'default_server', quoted: true, loc: { file: 'v.conf', line: 1, column: 21, length: 16 } },
        ],
        block: null,
        loc: { file: 'v.conf', line: 1, column: 1, length: 6 },
      },
    ]);
  });

  test('blocks nest; an empty block is [] and a ";" directive has block null', () => {
    const d = ast('http {\n  server {\n    location / { }\n  }\n}\nx;');
    expect(d.map((x) => x.name)).toEqual(['http', 'x']);
    const server = d[0]!.block![0]!;
    expect(server.loc).toEqual({ file: 'v.conf', line: 2, column: 3, length: 6 });
    const location = server.block![0]!;
    expect([location.name, location.args.map((a) => a.value), location.block]).toEqual(['location', ['/'], []]);
    expect(d[1]!.block).toBeNull();
  });

  test('values have escapes resolved and keep $variables', () => {
    const [d] = ast('set $a "x\\"$host\\"" \'\\n\' ${b}c;');
    expect(d!.args.map((a) => [a.value, a.quoted])).toEqual([
      ['$a', false],
      ['x"$host"', true],
      ['\n', true],
      ['${b}c', false],
    ]);
  });

  test('argument order is kept when words and strings interleave', () => {
    const [d] = ast('a 1 "2" 3 \'4\' 5;');
    expect(d!.args.map((a) => a.value)).toEqual(['1', '2', '3', '4', '5']);
  });
});
