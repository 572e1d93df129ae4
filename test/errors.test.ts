import { describe, expect, test } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { execSync } from 'node:child_process';
import { ERROR_CODES, ConfigError, ProxyError, TsproxyError, type ErrorCode } from '../src/errors.js';

const root = path.resolve(import.meta.dirname, '..');
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('error code registry', () => {
  test('every code follows TSP_ERR_<AREA>_<WHAT>', () => {
    for (const code of codes) expect(code).toMatch(/^TSP_ERR_[A-Z]+(_[A-Z]+)*$/);
  });

  test('classes carry code and name', () => {
    const c = new ConfigError('TSP_ERR_CONFIG_VALUE', 'invalid value "x" in "listen" directive', { file: 'a.conf', line: 3, column: 9 });
    expect(c).toBeInstanceOf(TsproxyError);
    expect(c.name).toBe('ConfigError');
    expect(c.code).toBe('TSP_ERR_CONFIG_VALUE');
    expect(String(c)).toBe('a.conf:3:9: invalid value "x" in "listen" directive');
    const p = new ProxyError('TSP_ERR_UPSTREAM_TIMEOUT', 'upstream timed out', 504, false);
    expect(p.name).toBe('ProxyError');
    expect(p.status).toBe(504);
  });

  test('every code is documented in the README error table, and nothing else is', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const documented = new Set(readme.match(/`TSP_ERR_[A-Z_]+`/g)?.map((s) => s.slice(1, -1)));
    expect([...documented].sort()).toEqual([...codes].sort());
  });

  test('src/ raises the project\'s error classes, each with its code, not bare Errors', () => {
    const grep = (re: string): string[] =>
      execSync(`grep -rnE "${re}" src || true`, { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
    // tls/upstream.ts makes an OpenSSL-style verify error (code CERT_CHAIN_TOO_LONG) for node's TLS
    // to fail the handshake with, as its own verify errors look; tls/info.ts words it by that code.
    // core/js/script-errors.ts makes the errors scripts catch: njs's classes, as scripts expect them.
    const SCRIPT_ERRORS = 'src/core/js/script-errors.ts:';
    expect(grep('new (Error|TypeError|RangeError|SyntaxError)\\(').filter((l) => !l.startsWith('src/tls/upstream.ts:') && !l.startsWith(SCRIPT_ERRORS))).toEqual([]);
    expect(grep('class [A-Za-z]+ extends Error\\b').map((l) => l.replace(/:\d+:/, ':')).filter((l) => !l.startsWith(SCRIPT_ERRORS))).toEqual(['src/errors.ts:export class TsproxyError extends Error {']);
    // ProxyError (status + beforeSend) is what the stream connect loop fails with.
    expect(grep('new ProxyError\\(').length).toBeGreaterThan(0);
  });

  test('every code is used somewhere in src/ besides the registry', () => {
    const out = execSync(`grep -rhoE "TSP_ERR_[A-Z_]+" src --exclude=errors.ts`, { cwd: root, encoding: 'utf8' });
    const used = new Set(out.split('\n').filter(Boolean));
    const unused = codes.filter((c) => !used.has(c));
    expect(unused).toEqual([]);
  });
});
