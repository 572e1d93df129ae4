/** geo and split_clients blocks as -t reads them; every message is nginx 1.22's (checked with ask-nginx). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig, loadConfigFile } from '../../src/config/load.js';

const http = (block: string): string => `http { ${block} server { listen 127.0.0.1:0; location / { return 200; } } }`;

function problems(text: string): { errors: string[]; warnings: string[] } {
  const r = loadConfig(text, 'a.conf');
  return { errors: r.errors.map((e) => e.message), warnings: r.warnings.map((e) => e.message) };
}

describe('split_clients', () => {
  test.each([
    ['split_clients $arg_a $v { 60% a; 50% b; }', 'percent total is greater than 100%'],
    ['split_clients $arg_a $v { abc a; }', 'invalid percent value "abc"'],
    ['split_clients $arg_a $v { 0% a; }', 'invalid percent value "0%"'],
    ['split_clients $arg_a v { 10% a; }', 'invalid variable name "v"'],
    ['split_clients $arg_a $v { 10.123% a; }', 'invalid percent value "10.123%"'],
    ['split_clients $arg_a $v { * a; 10% b; }', 'percent total is greater than 100%'],
    ['split_clients $nope $v { * a; }', 'unknown "nope" variable'],
  ])('%s', (block, message) => {
    expect(problems(http(block)).errors).toEqual([message]);
  });

  test('parts of up to 100% (two decimals), a value that reads like a variable is text', () => {
    expect(problems(http('split_clients "${remote_addr}AAA" $v { 0.01% a; 99.99% $b; }'))).toEqual({ errors: [], warnings: [] });
    expect(problems('stream { split_clients $remote_addr $v { 50% a; * b; } server { listen 127.0.0.1:0; return $v; } }').errors).toEqual([]);
  });
});

describe('geo', () => {
  test.each([
    ['geo $v { 10.0.0.0/33 a; }', 'invalid network "10.0.0.0/33"'],
    ['geo $v { junk a; }', 'invalid network "junk"'],
    ['geo $v { ranges; 10.0.0.9-10.0.0.1 a; }', 'invalid range "10.0.0.9-10.0.0.1"'],
    ['geo $v { ranges; 10.0.0.0/8 a; }', 'invalid range "10.0.0.0/8"'],
    ['geo $v { default; }', 'invalid number of the geo parameters'],
    ['geo $v { a b c; }', 'invalid number of the geo parameters'],
    ['geo $a $b $c { }', 'invalid number of arguments in "geo" directive'],
    ['geo v { }', 'invalid variable name "v"'],
    ['geo $v { proxy junk; }', 'invalid network "junk"'],
    ['geo $v { ranges; default d; 10.0.0.10-10.0.0.20 b; 10.0.0.5-10.0.0.15 c; }', 'range "10.0.0.5-10.0.0.15" overlaps "10.0.0.10-10.0.0.20"'],
    ['geo $v { ranges; 10.0.1.10-10.0.1.20 e; 10.0.1.0-10.0.1.255 f; }', 'range "10.0.1.0-10.0.1.255" overlaps "10.0.1.10-10.0.1.20"'],
    ['geo $v { ranges; 10.0.0.0-10.0.0.255 a; 10.0.0.10-10.0.0.20 b; 10.0.0.5-10.0.0.15 c; }', 'range "10.0.0.5-10.0.0.15" overlaps "10.0.0.10-10.0.0.20"'],
    ['geo $v { ranges; 10.0.0.0-10.0.0.255 a; 10.0.0.10-10.0.0.20 b; 10.0.0.15-10.0.0.25 c; }', 'range "10.0.0.15-10.0.0.25" overlaps "10.0.0.21-10.0.0.255"'],
    ['geo $v { ranges; 10.0.0.10-10.0.0.20 b; 10.0.0.30-10.0.0.40 b; 10.0.0.5-10.0.0.45 c; }', 'range "10.0.0.5-10.0.0.45" overlaps "10.0.0.30-10.0.0.40"'],
  ])('%s', (block, message) => {
    expect(problems(http(block)).errors).toEqual([message]);
  });

  test.each([
    ['geo $v { 10.0.0.1/8 a; }', 'low address bits of 10.0.0.1/8 are meaningless'],
    ['geo $v { 10.0.0.0/8 a; 10.0.0.0/8 b; }', 'duplicate network "10.0.0.0/8", value: "b", old value: "a"'],
    ['geo $v { delete 10.0.0.0/8; }', 'no network "10.0.0.0/8" to delete'],
    ['geo $v { ranges; delete 10.0.0.0-10.0.0.9; }', 'no address range "10.0.0.0-10.0.0.9" to delete'],
    ['geo $v { ranges; 10.0.0.0-10.0.0.9 a; 10.0.0.0-10.0.0.9 b; }', 'duplicate range "10.0.0.0-10.0.0.9", value: "b", old value: "a"'],
  ])('warns: %s', (block, message) => {
    expect(problems(http(block))).toEqual({ errors: [], warnings: [message] });
  });

  test.each([
    ['geo $v { proxy 127.0.0.1; }', 'invalid network "proxy"'],
    ['geo $v { proxy_recursive; }', 'invalid number of the geo parameters'],
  ])('stream geo has no proxy parameters: %s', (block, message) => {
    expect(problems(`stream { ${block} server { listen 127.0.0.1:0; return $v; } }`).errors).toEqual([message]);
  });

  test('include inside the block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsproxy-geo-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'nets.inc'), '127.0.0.1 local;\n10.0.0.0/8 ten;\n');
    writeFileSync(join(dir, 'a.conf'), http('geo $g { default d; include nets.inc; }'));
    const r = loadConfigFile(join(dir, 'a.conf'));
    expect(r.errors).toEqual([]);
    expect(r.config!.http!.geo![0]!.networks).toEqual([{ network: '127.0.0.1', value: 'local' }, { network: '10.0.0.0/8', value: 'ten' }]);
  });

  test('nested ranges split the outer one; the tree keeps sorted pieces', () => {
    const r = loadConfig(http('geo $arg_a $v { ranges; 10.0.0.0-10.0.0.255 a; 10.0.0.10-10.0.0.20 b; }'), 'a.conf');
    expect(r.config!.http!.geo![0]!.pieces.map((p) => `${p.from & 255}-${p.to & 255}=${p.value}`)).toEqual(['0-9=a', '10-20=b', '21-255=a']);
  });

  test('a config without geo or split_clients has no such fields (its tree is unchanged)', () => {
    const r = loadConfig(http(''), 'a.conf');
    expect(Object.keys(r.config!.http!)).toEqual(['upstreams', 'servers', 'logFormats', 'maps']);
  });
});

describe('map', () => {
  test('`volatile;` is a flag, `volatile x;` a key (nginx)', () => {
    const r = loadConfig(http('map $arg_a $m { volatile; hostnames; default x; } map $arg_a $n { volatile y; }'), 'a.conf');
    const [m, n] = r.config!.http!.maps;
    expect(m!.volatile).toBe(true);
    expect(n!.volatile).toBeUndefined();
    expect(n!.entries.map((e) => e.key)).toEqual(['volatile']);
  });
});
