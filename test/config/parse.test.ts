import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Directive } from '../../src/config/ast.js';
import { GLOBALS_FILE, globToRegExp, parseConfigText, readConfigTree } from '../../src/config/parse.js';

const FIX = resolve(import.meta.dirname, '../fixtures/include');

const errs = (text: string) => parseConfigText(text, 't.conf').errors.map((e) => `${e.loc.line}:${e.loc.column} ${e.message}`);

/** Directives as nested [name, ...args, [children] | null] for compact assertions. */
function shape(ds: readonly Directive[]): unknown[] {
  return ds.map((d) => [d.name, ...d.args.map((a) => a.value), d.block === null ? null : shape(d.block)]);
}

describe('parseConfigText: syntax errors in nginx wording, at useful positions', () => {
  test('a valid config has no errors', () => {
    const r = parseConfigText('events { worker_connections 1024; }\nhttp { server { listen 80; } }\n', 't.conf');
    expect(r.errors).toEqual([]);
    expect(shape(r.directives)).toEqual([
      ['events', [['worker_connections', '1024', null]]],
      ['http', [['server', [['listen', '80', null]]]]],
    ]);
  });

  test('a missing ";" before "}" names the directive and points just after its last argument', () => {
    const r = parseConfigText('http {\n  server {\n    listen 127.0.0.1:8080\n  }\n}\n', 't.conf');
    expect(r.errors.map((e) => [e.code, e.message, e.loc])).toEqual([
      ['TSP_ERR_CONFIG_SYNTAX', 'directive "listen" is not terminated by ";"', { file: 't.conf', line: 3, column: 26, length: 1 }],
    ]);
    // The rest of the tree survives for later checks.
    expect(shape(r.directives)).toEqual([['http', [['server', [['listen', '127.0.0.1:8080', null]]]]]]);
  });

  test('a missing ";" at end of file', () => {
    expect(errs('worker_processes 1')).toEqual(['1:19 directive "worker_processes" is not terminated by ";"']);
    expect(errs('pid "/run/x.pid"\n')).toEqual(['1:17 directive "pid" is not terminated by ";"']);
  });

  test('a stray "}" is reported and parsing goes on after it', () => {
    expect(errs('http {\n}\n}\nfoo bar\n')).toEqual(['3:1 unexpected "}"', '4:8 directive "foo" is not terminated by ";"']);
  });

  test('an unclosed block: unexpected end of file, expecting "}"', () => {
    expect(errs('http {\n  server {\n')).toEqual(['2:11 unexpected end of file, expecting "}"']);
  });

  test('unexpected ";" and "{"', () => {
    expect(errs('http { ; }')).toEqual(['1:8 unexpected ";"']);
    expect(errs('{ }\nok;')).toEqual(['1:1 unexpected "{"']);
    expect(errs(';')).toEqual(['1:1 unexpected ";"']);
  });

  test('a stray "{" is one error, not two (its "}" is not reported again)', () => {
    expect(errs('a; { b; }')).toEqual(['1:4 unexpected "{"']);
    expect(errs('a { { } }\nb;')).toEqual(['1:5 unexpected "{"']);
    expect(errs('a { { } }\nb;\n}')).toEqual(['1:5 unexpected "{"', '3:1 unexpected "}"']);
  });

  test('several independent errors are all reported', () => {
    expect(errs('a { ; }\nb { x 1 }\nc;\nd')).toEqual([
      '1:5 unexpected ";"',
      '2:8 directive "x" is not terminated by ";"',
      '4:2 directive "d" is not terminated by ";"',
    ]);
  });

  test('an unterminated string is one lexer error, without follow-up complaints about the end of file', () => {
    const r = parseConfigText('http {\n  server_name "abc;\n}\n', 't.conf');
    expect(r.errors.map((e) => [e.code, `${e.loc.line}:${e.loc.column} ${e.message}`])).toEqual([
      ['TSP_ERR_CONFIG_LEX', '2:15 unterminated quoted string'],
    ]);
  });

  test('every directive and argument carries the file name', () => {
    const r = parseConfigText('a "b" { c d; }', '/etc/x.conf');
    const c = r.directives[0]!.block![0]!;
    expect([r.directives[0]!.args[0]!.loc.file, c.loc.file, c.args[0]!.loc]).toEqual([
      '/etc/x.conf',
      '/etc/x.conf',
      { file: '/etc/x.conf', line: 1, column: 11, length: 1 },
    ]);
  });
});

describe('readConfigTree', () => {
  test('expands includes in place, in any context, with globs sorted and per-file positions', () => {
    const main = `${FIX}/main.conf`;
    const r = readConfigTree(main, { prefix: FIX });
    expect(r.errors).toEqual([]);
    expect(shape(r.directives)).toEqual([
      ['worker_processes', '1', null],
      [
        'http',
        [
          ['upstream', 'a', [['server', '127.0.0.1:9001', null]]],
          ['upstream', 'b', [['server', '127.0.0.1:9002', null]]],
          ['server', [['location', '/', [['proxy_pass', 'http://a', null]]]]],
        ],
      ],
    ]);
    const upstreamB = r.directives[1]!.block![1]!;
    expect(upstreamB.loc).toEqual({ file: `${FIX}/conf.d/b.conf`, line: 1, column: 1, length: 8 });
    expect(r.sources.map((s) => s.file)).toEqual([
      main,
      `${FIX}/conf.d/a.conf`,
      `${FIX}/conf.d/b.conf`,
      `${FIX}/sub/deeper/loc.inc`,
    ]);
    expect(r.sources[0]!.text).toContain('include conf.d/*.conf;');
  });

  test('a quoted "include" statement is expanded too (the scan marks trees without include, which expand skips)', () => {
    const r = readConfigTree(`${FIX}/conf.d/a.conf`, { prefix: FIX, globals: `"include" ${FIX}/conf.d/b.conf;` });
    expect(r.errors).toEqual([]);
    expect(shape(r.directives)).toEqual([
      ['upstream', 'b', [['server', '127.0.0.1:9002', null]]],
      ['upstream', 'a', [['server', '127.0.0.1:9001', null]]],
    ]);
  });

  test('a file included twice is expanded twice but read once', () => {
    const r = readConfigTree(`${FIX}/twice.conf`, { prefix: FIX });
    expect(r.errors).toEqual([]);
    expect(shape(r.directives)).toEqual([
      ['upstream', 'a', [['server', '127.0.0.1:9001', null]]],
      ['http', [['upstream', 'a', [['server', '127.0.0.1:9001', null]]]]],
    ]);
    expect(r.sources.length).toBe(2);
  });

  test('include errors: missing file, arity; a glob matching nothing is fine', () => {
    const file = `${FIX}/bad.conf`;
    const r = readConfigTree(file, { prefix: FIX });
    expect(r.errors.map((e) => [e.code, e.message, e.loc])).toEqual([
      [
        'TSP_ERR_CONFIG_INCLUDE',
        `open() "${FIX}/missing/file.conf" failed (2: No such file or directory)`,
        { file, line: 2, column: 13, length: 17 },
      ],
      ['TSP_ERR_CONFIG_ARGS', 'invalid number of arguments in "include" directive', { file, line: 4, column: 5, length: 7 }],
      ['TSP_ERR_CONFIG_ARGS', 'invalid number of arguments in "include" directive', { file, line: 5, column: 5, length: 7 }],
    ]);
    expect(shape(r.directives)).toEqual([['http', []]]);
  });

  test('an include cycle is an error, not a hang', () => {
    const r = readConfigTree(`${FIX}/cycle/main.conf`, { prefix: FIX });
    expect(r.errors.map((e) => [e.code, e.message, e.loc.file, e.loc.line])).toEqual([
      ['TSP_ERR_CONFIG_INCLUDE', `include cycle: "${FIX}/cycle/a.conf" is already being included`, `${FIX}/cycle/b.conf`, 2],
    ]);
    expect(shape(r.directives)).toEqual([['x', '1', null]]);
  });

  test('syntax errors of an included file carry its path', () => {
    const r = readConfigTree(`${FIX}/with-broken.conf`, { prefix: FIX });
    expect(r.errors.map((e) => `${e.loc.file}:${e.loc.line}:${e.loc.column} ${e.message}`)).toEqual([
      `${FIX}/sub/broken.inc:1:9 unexpected end of file, expecting "}"`,
    ]);
    expect(shape(r.directives).map((d) => (d as unknown[])[0])).toEqual(['broken', 'after']);
  });

  test('a missing main file is one error without a position (line 0), as nginx prints none', () => {
    const path = `${FIX}/nope.conf`;
    const r = readConfigTree(path, { prefix: FIX });
    expect(r.errors.map((e) => [e.code, e.message, e.loc])).toEqual([
      ['TSP_ERR_CONFIG_INCLUDE', `open() "${path}" failed (2: No such file or directory)`, { file: path, line: 0, column: 0 }],
    ]);
    expect([r.directives, r.sources]).toEqual([[], []]);
  });

  test('-g globals come first, parsed as "<command line>", listed after the main source', () => {
    const r = readConfigTree(`${FIX}/conf.d/a.conf`, { prefix: FIX, globals: 'daemon off; worker_processes 2;' });
    expect(shape(r.directives).map((d) => (d as unknown[])[0])).toEqual(['daemon', 'worker_processes', 'upstream']);
    expect(r.directives[1]!.loc).toEqual({ file: GLOBALS_FILE, line: 1, column: 13, length: 16 });
    expect(r.sources.map((s) => s.file)).toEqual([`${FIX}/conf.d/a.conf`, GLOBALS_FILE]);
    const bad = readConfigTree(`${FIX}/conf.d/a.conf`, { prefix: FIX, globals: 'daemon off' });
    expect(bad.errors.map((e) => `${e.loc.file}:${e.loc.line}:${e.loc.column} ${e.message}`)).toEqual([
      '<command line>:1:11 directive "daemon" is not terminated by ";"',
    ]);
  });

  test('absolute include paths are used as they are; globs may be in directory parts', () => {
    const dir = `${FIX}/abs`;
    const r = parseConfigText(`include ${FIX}/*/deeper/*.inc;`, 'x');
    expect(r.errors).toEqual([]);
    const tree = readConfigTree(`${FIX}/sub/deeper/loc.inc`, { prefix: dir, globals: `include ${FIX}/c*.d/[ab].conf;` });
    expect(tree.errors).toEqual([]);
    expect(shape(tree.directives).map((d) => (d as unknown[]).slice(0, 2))).toEqual([
      ['upstream', 'a'],
      ['upstream', 'b'],
      ['location', '/'],
    ]);
  });
});

describe('globToRegExp', () => {
  test.each([
    ['*.conf', 'a.conf', true],
    ['*.conf', 'a.conf.bak', false],
    ['?.conf', 'ab.conf', false],
    ['[ab].conf', 'b.conf', true],
    ['[!ab].conf', 'b.conf', false],
    ['[a-c]x', 'cx', true],
    ['a.b', 'axb', false],
    ['[', '[', true],
    ['(x)+', '(x)+', true],
  ])('%s matches %s: %s', (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected);
  });
});
