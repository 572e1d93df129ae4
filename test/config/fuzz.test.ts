import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { Directive } from '../../src/config/ast.js';
import { referenceTokenize, scanDirectives, tokenize } from '../../src/config/lexer.js';
import { parseConfigText, parseWithChevrotain } from '../../src/config/parse.js';
import { UnterminatedString } from '../../src/config/tokens.js';
import type { Loc } from '../../src/errors.js';

const REALISTIC = `# tsproxy test config
worker_processes 2;
events { worker_connections 1024; }
http {
    upstream app {
        server 127.0.0.1:9001 weight=5 max_fails=3;
        server 127.0.0.1:9002 backup;
        check interval=3000 rise=2 fall=5 timeout=1000 type=http;
        check_http_send "GET / HTTP/1.0\\r\\n\\r\\n";
    }
    server {
        listen 127.0.0.1:8080 default_server;
        server_name example.test *.example.test "~^(?<sub>[a-z]+)\\.test$";
        location / {
            proxy_set_header Host $host;
            proxy_set_header X-Tag '\${host}-x';
            proxy_pass http://app;
        }
        location ~* "\\.(png|jpg){1,2};$" { return 404; }
    }
}
tcp { server { listen 8081; websocket_pass /chat app; } }
`;

const PIECES = ['{', '}', ';', '"', "'", '#', '$', '\\', '${x}', 'word', 'a', '\n', ' ', '\t', '\r\n', 'ü'];

const lineCount = (text: string): number => text.split('\n').length;

function validLoc(loc: Loc, text: string): boolean {
  return (
    Number.isInteger(loc.line) &&
    Number.isInteger(loc.column) &&
    loc.line >= 1 &&
    loc.column >= 1 &&
    loc.line <= lineCount(text) &&
    (loc.length ?? 1) >= 1
  );
}

function allLocsValid(ds: readonly Directive[], text: string): boolean {
  return ds.every(
    (d) =>
      validLoc(d.loc, text) &&
      d.args.every((a) => validLoc(a.loc, text)) &&
      (d.block === null || allLocsValid(d.block, text)),
  );
}

function checkParse(text: string): void {
  const r = parseConfigText(text, 'f.conf');
  for (const e of r.errors) {
    expect(e.loc.file).toBe('f.conf');
    expect(validLoc(e.loc, text), `${e.message} at ${e.loc.line}:${e.loc.column} in ${JSON.stringify(text)}`).toBe(true);
    expect(e.code.startsWith('TSP_ERR_CONFIG_')).toBe(true);
  }
  expect(allLocsValid(r.directives, text)).toBe(true);
}

const shape = (t: { tokenType: { name: string }; image: string; startOffset: number; startLine?: number; startColumn?: number; endLine?: number; endColumn?: number }) =>
  [t.tokenType.name, t.image, t.startOffset, t.startLine, t.startColumn, t.endLine, t.endColumn];

function checkLexerAgreement(text: string): void {
  const ref = referenceTokenize(text);
  const mine = tokenize(text, 'f.conf');
  expect(mine.tokens.map(shape)).toEqual(ref.tokens.filter((t) => t.tokenType !== UnterminatedString).map(shape));
  expect(mine.comments.map(shape)).toEqual(ref.comments.map(shape));
}

const soup = fc.array(fc.constantFrom(...PIECES), { maxLength: 60 }).map((a) => a.join(''));

type Mutation = { kind: 'delete' | 'duplicate' | 'insert'; at: number; len: number; ch: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('delete', 'duplicate', 'insert'),
  at: fc.nat(REALISTIC.length),
  len: fc.integer({ min: 1, max: 8 }),
  ch: fc.constantFrom(...PIECES),
});
function mutate(text: string, ms: readonly Mutation[]): string {
  let s = text;
  for (const m of ms) {
    const at = Math.min(m.at, s.length);
    if (m.kind === 'delete') s = s.slice(0, at) + s.slice(at + m.len);
    else if (m.kind === 'duplicate') s = s.slice(0, at + m.len) + s.slice(at, at + m.len) + s.slice(at + m.len);
    else s = s.slice(0, at) + m.ch + s.slice(at);
  }
  return s;
}
const mutated = fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => mutate(REALISTIC, ms));

describe('parseConfigText never throws and every position is real', () => {
  test('the realistic seed config parses cleanly', () => {
    expect(parseConfigText(REALISTIC, 'f.conf').errors).toEqual([]);
  });

  test('random token soup', () => {
    fc.assert(fc.property(soup, checkParse), { numRuns: 1500 });
  });

  test('mutations of a realistic config', () => {
    fc.assert(fc.property(mutated, checkParse), { numRuns: 1000 });
  });

  test('the hand-written lexer agrees with the Chevrotain lexer of tokens.ts', () => {
    fc.assert(fc.property(fc.oneof(soup, mutated, fc.string({ maxLength: 40 })), checkLexerAgreement), { numRuns: 1000 });
  });
});

// Printing a generated tree and parsing it back gives the same names, values and nesting.
const word = fc.stringMatching(/^[a-z_$][a-z0-9_.:\/=$-]{0,8}$/);
const anyValue = fc.string({ maxLength: 8, unit: fc.constantFrom('a', ' ', '"', "'", '\\', ';', '{', '}', '\n', '$', '#') });
const arg = fc.oneof(word.map((v) => ({ value: v, quoted: false })), anyValue.map((v) => ({ value: v, quoted: true })));
type Tree = { name: string; args: { value: string; quoted: boolean }[]; block: Tree[] | null };
const tree: fc.Arbitrary<Tree[]> = fc.letrec<{ list: Tree[]; node: Tree }>((tie) => ({
  node: fc.record({
    name: word,
    args: fc.array(arg, { maxLength: 3 }),
    block: fc.option(tie('list'), { nil: null, depthSize: 'small' }),
  }),
  list: fc.array(tie('node'), { maxLength: 3 }),
})).list;

const quote = (v: string): string => `"${v.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"`;
function print(ts: readonly Tree[], indent = ''): string {
  return ts
    .map((t) => {
      const head = [t.name, ...t.args.map((a) => (a.quoted ? quote(a.value) : a.value))].join(' ');
      return t.block === null ? `${indent}${head};\n` : `${indent}${head} {\n${print(t.block, `${indent}\t`)}${indent}}\n`;
    })
    .join('');
}
const strip = (ds: readonly Directive[]): Tree[] =>
  ds.map((d) => ({ name: d.name, args: d.args.map((a) => ({ value: a.value, quoted: a.quoted })), block: d.block === null ? null : strip(d.block) }));

test('print → parse round trip', () => {
  fc.assert(
    fc.property(tree, (ts) => {
      const r = parseConfigText(print(ts), 'rt.conf');
      expect(r.errors).toEqual([]);
      expect(strip(r.directives)).toEqual(ts);
    }),
    { numRuns: 500 },
  );
});

// The fast path (scanDirectives) must give exactly Chevrotain's tree, positions included, on every
// correct config, and decline (null) on every config Chevrotain or the lexer reports an error for.
function checkFastPath(text: string): void {
  const fast = scanDirectives(text, 'f.conf');
  const ref = parseWithChevrotain(text, 'f.conf');
  if (ref.errors.length === 0) expect(fast, JSON.stringify(text)).toEqual(ref.directives);
  else expect(fast, JSON.stringify(text)).toBeNull();
  expect(parseConfigText(text, 'f.conf')).toEqual(ref);
}

const printed = tree.map((ts) => print(ts));
const printedMutated = fc
  .tuple(printed, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([text, ms]) => mutate(text, ms.map((m) => ({ ...m, at: m.at % (text.length + 1) }))));

describe('the fast path agrees with the Chevrotain path', () => {
  test.each([
    REALISTIC,
    '',
    'a;',
    'a b\\\nc "x\\\ny" \'z\';\r\nb { c { } }#x\n',
    'a "b"#c\n;',
    'a\\\n;',
    'a "b"c;',
    'a "b""c";',
    'a "b',
    'a \'b\\',
    'a',
    'a {',
    '}',
    'a { } }',
    '{ }',
    ';',
    'a b }',
    'a "b";',
    '"a" b;',
    // Blocks closed inside blocks, siblings after them, statements without arguments (the scan
    // collects a block's statements on one stack shared by every open block).
    'a { b { c; } d; e { } f x y; } g { h { i { j; } } k; } l;',
    'a {\n\tb\t"ü\\"é" \'x\';\r\n\tc { d; }\n}\n',
  ])('%j', (text) => checkFastPath(text));

  test('random configs: soup, mutations, printed trees and their mutations', () => {
    fc.assert(fc.property(fc.oneof(soup, mutated, printed, printedMutated, fc.string({ maxLength: 40 })), checkFastPath), {
      numRuns: 3000,
    });
  });

  test('correct configs do take the fast path', () => {
    fc.assert(fc.property(printed, (text) => {
      expect(scanDirectives(text, 'f.conf')).not.toBeNull();
    }), { numRuns: 300 });
  });
});
