import { describe, expect, test } from 'vitest';
import { referenceTokenize, tokenize, tokenValue, unescape } from '../../src/config/lexer.js';
import { UnterminatedString } from '../../src/config/tokens.js';
import type { IToken } from 'chevrotain';

const kinds = (text: string): string[] => tokenize(text, 't.conf').tokens.map((t) => `${t.tokenType.name}:${t.image}`);
const values = (text: string): string[] => tokenize(text, 't.conf').tokens.map(tokenValue);
const shape = (t: IToken) => [t.tokenType.name, t.image, t.startOffset, t.endOffset, t.startLine, t.startColumn, t.endLine, t.endColumn];

describe('tokenize', () => {
  test('words, strings and punctuation', () => {
    expect(kinds('listen 80;\nserver { a "b c" \'d\'; }')).toEqual([
      'Word:listen', 'Word:80', 'Semi:;',
      'Word:server', 'LCurly:{', 'Word:a', 'QuotedString:"b c"', "QuotedString:'d'", 'Semi:;', 'RCurly:}',
    ]);
  });

  test('a word ends at whitespace, ";", "{" and "}" only', () => {
    expect(kinds('a;b{c}d\te\r\nf')).toEqual([
      'Word:a', 'Semi:;', 'Word:b', 'LCurly:{', 'Word:c', 'RCurly:}', 'Word:d', 'Word:e', 'Word:f',
    ]);
  });

  test('${name} stays inside a word; a lone $ is a character', () => {
    expect(values('${host}foo a${b}c $x $ a$ ${a}${b};')).toEqual(['${host}foo', 'a${b}c', '$x', '$', 'a$', '${a}${b}', ';']);
  });

  test('an unclosed ${ ends the word at the next separator', () => {
    expect(kinds('a${b c;')).toEqual(['Word:a${b', 'Word:c', 'Semi:;']);
  });

  test('# starts a comment only at token start; comments are kept apart', () => {
    const r = tokenize('a#b c; # note ; {\nd; #e', 't.conf');
    expect(r.tokens.map((t) => t.image)).toEqual(['a#b', 'c', ';', 'd', ';']);
    expect(r.comments.map((t) => [t.image, t.startLine, t.startColumn])).toEqual([
      ['# note ; {', 1, 8],
      ['#e', 2, 4],
    ]);
  });

  test('quotes inside a word belong to it (nginx)', () => {
    expect(values('a"b" c\'d')).toEqual(['a"b"', "c'd"]);
  });

  test('regexes with { } ; must be quoted, and then are one argument', () => {
    expect(values('location ~ "^/a{2};$" {')).toEqual(['location', '~', '^/a{2};$', '{']);
    expect(kinds('~ ^/a{2}$')).toEqual(['Word:~', 'Word:^/a', 'LCurly:{', 'Word:2', 'RCurly:}', 'Word:$']);
  });

  test('a backslash protects the next character in a word', () => {
    expect(values('a\\ b c\\;d e\\{')).toEqual(['a\\ b', 'c\\;d', 'e\\{']);
  });

  test('positions are 1-based lines and columns; LF ends a line, a lone CR does not', () => {
    const r = tokenize('a b;\n  "x\ny" z\r\n\tq', 't.conf');
    expect(r.tokens.map(shape)).toEqual([
      ['Word', 'a', 0, 0, 1, 1, 1, 1],
      ['Word', 'b', 2, 2, 1, 3, 1, 3],
      ['Semi', ';', 3, 3, 1, 4, 1, 4],
      ['QuotedString', '"x\ny"', 7, 11, 2, 3, 3, 2],
      ['Word', 'z', 13, 13, 3, 4, 3, 4],
      ['Word', 'q', 17, 17, 4, 2, 4, 2],
    ]);
  });

  test('an unterminated string is one error at the opening quote, and is dropped', () => {
    const r = tokenize('a "b;\nc d;', 'f.conf');
    expect(r.truncated).toBe(true);
    expect(r.tokens.map((t) => t.image)).toEqual(['a']);
    expect(r.errors.map((e) => [e.code, e.message, e.loc])).toEqual([
      ['TSP_ERR_CONFIG_LEX', 'unterminated quoted string', { file: 'f.conf', line: 1, column: 3, length: 1 }],
    ]);
  });

  test('a closing quote glued to the next token is an error, as in nginx', () => {
    const r = tokenize('x "a"b "c""d" "e";', 'f.conf');
    expect(r.errors.map((e) => `${e.loc.line}:${e.loc.column} ${e.message}`)).toEqual(['1:6 unexpected "b"', '1:11 unexpected """']);
    expect(tokenize('x "a";"b"{ "c"}', 'f.conf').errors).toEqual([]);
  });

  test('agrees with the Chevrotain lexer built from tokens.ts', () => {
    const samples = [
      'http { server { listen 80; server_name a.test "b c"; } }',
      "a 'x\\'y' \"p\\\"q\\\\\" b\\\nc ${v}w # c\r\n;",
      'a "unterminated\n{ }',
      'trailing\\',
      '"a\\',
    ];
    for (const s of samples) {
      const ref = referenceTokenize(s);
      const mine = tokenize(s, 't');
      expect(mine.tokens.map(shape)).toEqual(ref.tokens.filter((t) => t.tokenType !== UnterminatedString).map(shape));
      expect(mine.comments.map(shape)).toEqual(ref.comments.map(shape));
    }
  });
});

describe('escapes', () => {
  test('nginx escapes are resolved, any other backslash pair is kept', () => {
    expect(unescape('a\\"b\\\'c\\\\d\\ne\\rf\\tg')).toBe('a"b\'c\\d\ne\rf\tg');
    expect(unescape('^/a\\.b\\d+$')).toBe('^/a\\.b\\d+$');
    expect(unescape('x\\')).toBe('x\\');
  });

  test('token values drop the quotes and keep $variables as text', () => {
    expect(values('"$host:\\"x\\"" \'a\\tb\' $uri')).toEqual(['$host:"x"', 'a\tb', '$uri']);
  });
});
