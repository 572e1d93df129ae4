/**
 * Pathological configs fail with positioned errors in bounded time and memory (src/config/limits.ts):
 * block nesting, file size, token count, and the number and length of reported errors.
 * nginx 1.22 (`nginx -t`, checked with ask-nginx) accepts 5,000 nested locations and a 50 MB file;
 * tsproxy refuses both with a clear message instead (its later stages recurse over blocks, and it
 * keeps every file's text for error display).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { formatConfigError } from '../../src/config/format.js';
import { scanDirectives } from '../../src/config/lexer.js';
import { MAX_BLOCK_DEPTH, MAX_FILE_BYTES, MAX_MESSAGE_CHARS, MAX_REPORTED_ERRORS, MAX_TOKENS } from '../../src/config/limits.js';
import { loadConfig, loadConfigFile } from '../../src/config/load.js';
import { parseConfigText, parseWithChevrotain } from '../../src/config/parse.js';
import { tempDir } from '../helpers/cli.js';
import { randomText } from '../helpers/random-text.js';

/** `levels` nested `location /` blocks inside http > server (levels + 2 block levels in all). */
function nested(levels: number): string {
  return `http { server { listen 127.0.0.1:0; ${'location / { '.repeat(levels)}return 200; ${'} '.repeat(levels)}} }\n`;
}

const TOO_DEEP = `too deeply nested blocks (the limit is ${MAX_BLOCK_DEPTH} levels)`;

describe('block nesting', () => {
  test(`${MAX_BLOCK_DEPTH} levels load; one more is one error at its "{", on both parse paths`, () => {
    expect(loadConfig(nested(MAX_BLOCK_DEPTH - 2), 'a.conf').errors).toEqual([]);
    const text = nested(MAX_BLOCK_DEPTH - 1);
    expect(scanDirectives(text, 'a.conf')).toBeNull();
    const r = loadConfig(text, 'a.conf');
    expect(r.errors.map(String)).toEqual([`a.conf:1:${text.lastIndexOf('location / {') + 12}: ${TOO_DEEP}`]);
    expect(parseWithChevrotain(text, 'a.conf').errors.map((e) => e.message)).toEqual([TOO_DEEP]);
  });

  test('5,000 nested blocks (closed, unclosed, unknown names) give one positioned error, no stack overflow', () => {
    for (const text of [nested(5000), nested(5000).replace(/\} /g, ''), `${'a { '.repeat(5000)}${'} '.repeat(5000)}`]) {
      const r = loadConfig(text, 'a.conf');
      expect(r.config).toBeNull();
      expect(r.errors.map((e) => e.message)).toContain(TOO_DEEP);
      expect(r.errors.length).toBeLessThanOrEqual(2);
    }
  });

  test('includes inside blocks add up: the expanded tree is held to the same limit', () => {
    const dir = tempDir();
    const half = MAX_BLOCK_DEPTH / 2;
    writeFileSync(join(dir, 'inner.conf'), `${'location / { '.repeat(half)}return 200; ${'} '.repeat(half)}\n`);
    writeFileSync(join(dir, 'main.conf'), `http { server { listen 127.0.0.1:0; ${'location / { '.repeat(half)}include inner.conf; ${'} '.repeat(half)}} }\n`);
    const r = loadConfigFile(join(dir, 'main.conf'));
    expect(r.errors.map((e) => [e.loc.file, e.message])).toEqual([[join(dir, 'inner.conf'), TOO_DEEP]]);
  });
});

describe('size and token limits', () => {
  test('a file over 16 MiB is refused before it is parsed, named in the error at the include', () => {
    const dir = tempDir();
    const big = join(dir, 'big.conf');
    writeFileSync(big, `# ${'x'.repeat(1022)}\n`.repeat(MAX_FILE_BYTES / 1024 + 1));
    writeFileSync(join(dir, 'main.conf'), 'http {\n    include big.conf;\n}\n');
    const r = loadConfigFile(join(dir, 'main.conf'));
    expect(r.errors.map(String)).toEqual([
      `${join(dir, 'main.conf')}:2:13: configuration file "${big}" is too large (more than ${MAX_FILE_BYTES} bytes; the limit is 16 MiB)`,
    ]);
    // The main file itself: no position (line 0), like an open() failure of the main file; the message names it.
    expect(loadConfigFile(big).errors.map(String)).toEqual([
      `${big}:0:0: configuration file "${big}" is too large (more than ${MAX_FILE_BYTES} bytes; the limit is 16 MiB)`,
    ]);
  });

  test('include /dev/zero (a file that never ends) is refused by size, not read forever', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'main.conf'), 'include /dev/zero;\n');
    const r = loadConfigFile(join(dir, 'main.conf'));
    expect(r.errors.map((e) => e.message)).toEqual([`configuration file "/dev/zero" is too large (more than ${MAX_FILE_BYTES} bytes; the limit is 16 MiB)`]);
  });

  test(`more than ${MAX_TOKENS} tokens is an error at the first token past the limit`, () => {
    const text = 'a;'.repeat(MAX_TOKENS / 2 + 1);
    const r = parseConfigText(text, 'a.conf');
    expect(r.errors.map(String)).toEqual([`a.conf:1:${MAX_TOKENS + 1}: too many tokens (the limit is ${MAX_TOKENS} in all configuration files)`]);
    // Past an earlier syntax error, the Chevrotain path stops at the same limit.
    const bad = parseConfigText(`}\n${'a '.repeat(MAX_TOKENS)}`, 'a.conf');
    expect(bad.errors.map((e) => e.message)).toContain(`too many tokens (the limit is ${MAX_TOKENS} in all configuration files)`);
  });
});

describe('random bytes', () => {
  test('give at most 100 positioned errors plus "too many errors", each message and source excerpt bounded', () => {
    const text = randomText(200_000);
    const r = loadConfig(text, 'r.conf');
    expect(r.config).toBeNull();
    expect(r.errors.length).toBe(MAX_REPORTED_ERRORS + 1);
    expect(r.errors.at(-1)!.message).toBe(`too many errors, only the first ${MAX_REPORTED_ERRORS} are shown`);
    for (const e of r.errors) {
      expect(e.loc.line).toBeGreaterThanOrEqual(1);
      expect(e.loc.column).toBeGreaterThanOrEqual(1);
      expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
      // Header, source excerpt, caret: each line bounded however long the source line is.
      for (const line of formatConfigError(e, r.sources).split('\n')) expect(line.length).toBeLessThan(MAX_MESSAGE_CHARS + 300);
    }
  });

  test('an overlong source line is shown as a window, the caret still under the reported column', () => {
    const line = `${'x '.repeat(2000)}} ${'y '.repeat(2000)}`;
    const r = loadConfig(`${line}\n`, 'a.conf');
    // `unknown directive "y"` at column 4003, in the middle of an 8,000-character line.
    const e = r.errors.find((x) => x.message.startsWith('unknown directive "y"'))!;
    expect(e.loc.column).toBe(4003);
    const [, excerpt, caret] = formatConfigError(e, r.sources).split('\n');
    expect(excerpt!.length).toBeLessThanOrEqual(240);
    expect(excerpt!.slice(caret!.indexOf('^') - 2, caret!.indexOf('^') + 3)).toBe('} y y');
  });
});
