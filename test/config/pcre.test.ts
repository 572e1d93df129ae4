/**
 * The PCRE → JS translator. Accepted/refused patterns and the matches below were checked against
 * nginx 1.22 (PCRE2 10.42, `nginx -t` and requests through /work/shared/tools/ask-nginx); where
 * tsproxy cannot do what PCRE does, the pattern must be refused with the offset of the construct.
 */
import { describe, expect, test } from 'vitest';
import { translatePcre } from '../../src/config/pcre.js';
import { compileConfigRegex, regexCaptureNames } from '../../src/config/template.js';

const re = (p: string, caseless = false): RegExp => compileConfigRegex(p, caseless);

function refusal(p: string, caseless = false): { message: string; at: string } {
  const t = translatePcre(p, caseless);
  if (t.ok) throw new Error(`${p} was accepted as /${t.value.source}/${t.value.flags}`);
  return { message: t.error.message, at: p.slice(t.error.offset, t.error.offset + t.error.length) };
}

describe('PCRE spellings JS lacks', () => {
  test('(?P<name>..), (?P=name), (?\'name\'..), \\k and \\g references', () => {
    const m = re('^/(?P<user>[a-z]+)/(?P=user)$').exec('/bob/bob');
    expect(m?.groups).toEqual({ user: 'bob' });
    expect(re('^/(?P<user>[a-z]+)/(?P=user)$').test('/bob/ann')).toBe(false);
    expect(re("^(?'a'x)\\k<a>\\k'a'\\k{a}\\g{a}$").test('xxxxx')).toBe(true);
    expect(re('^(a)(b)\\g{-1}\\g1\\g{2}$').test('abbab')).toBe(true);
    expect(regexCaptureNames('^(?<user>.+)\\.(?P<dom>x)(?\'t\'y)$')).toEqual(['user', 'dom', 't']);
  });

  test('\\Q..\\E quotes, also in a class and up to the end', () => {
    expect(re('^/q/\\Qa.b\\E$').test('/q/a.b')).toBe(true);
    expect(re('^/q/\\Qa.b\\E$').test('/q/axb')).toBe(false);
    expect(re('^\\Q(*)').test('(*)')).toBe(true);
    expect(re('^[\\Q]^\\E]+$').test('^]')).toBe(true);
    // a quantifier after \E applies to the last quoted character, as PCRE
    expect(re('^\\Qab\\E+$').test('abbb')).toBe(true);
  });

  test('anchors: \\A, \\z, \\Z, and `$` also before a final newline (PCRE, not JS)', () => {
    expect(re('^/n/x$').test('/n/x\n')).toBe(true);
    expect(re('^/z/x\\z').test('/z/x\n')).toBe(false);
    expect(re('^/z/x\\Z').test('/z/x\n')).toBe(true);
    expect(re('\\A/a').test('x/a')).toBe(false);
    expect(re('(?m)^b$').test('a\nb\nc')).toBe(true);
    expect(re('^b').test('a\nb')).toBe(false);
  });

  test('`.` misses only \\n; (?s) takes it too', () => {
    expect(re('^a.b$').test('a\rb')).toBe(true);
    expect(re('^a.b$').test('a\u2028b')).toBe(true);
    expect(re('^a.b$').test('a\nb')).toBe(false);
    expect(re('(?s)^a.b$').test('a\nb')).toBe(true);
  });

  test('class escapes are ASCII as in PCRE: \\s has VT, not NBSP', () => {
    expect(re('^a\\sb$').test('a\u000bb')).toBe(true);
    expect(re('^a\\sb$').test('a\u00a0b')).toBe(false);
    expect(re('^a[^\\s]b$').test('a\u00a0b')).toBe(true);
    expect(re('^\\h\\v\\R$').test(' \n\r\n')).toBe(true);
    expect(re('^\\N$').test('\n')).toBe(false);
  });

  test('POSIX classes, negated too', () => {
    expect(re('^[[:alpha:]_-]+$').test('a-B_')).toBe(true);
    expect(re('^[[:^digit:]]+$').test('ab')).toBe(true);
    expect(re('^[[:^digit:]]+$').test('a1')).toBe(false);
    expect(re('^[[:upper:]]$', true).test('a')).toBe(true);
  });

  test('inline flags: at the start, scoped, and changed mid-group', () => {
    expect(re('^/i/(?i)abc$').test('/i/ABC')).toBe(true);
    expect(re('^/I/(?i)abc$').test('/i/ABC')).toBe(false);
    expect(re('(?i)^abc$').flags).toBe('i');
    // PCRE: a change inside a group carries into later branches of the group
    const mixed = re('^(a(?i)b|c)$');
    expect(['ab', 'aB', 'c', 'C'].map((s) => mixed.test(s))).toEqual([true, true, true, true]);
    expect(mixed.test('Ab')).toBe(false);
    expect(re('^a(?i:b)c$').test('aBc')).toBe(true);
    expect(re('^a(?i:b)c$').test('aBC')).toBe(false);
    expect(re('^[a-c](?-i)x$', true).test('Bx')).toBe(true);
    expect(re('^[a-c](?-i)x$', true).test('BX')).toBe(false);
    expect(re('^[^a](?-i)x$', true).test('Ax')).toBe(false);
    expect(re('(?x) ^ a  b # comment\n c $').test('abc')).toBe(true);
    expect(re('^(?n)(a)(?<k>b)$').exec('ab')?.length).toBe(2);
  });

  test('character escapes: hex, octal, control; \\NN is a backreference only with that many groups', () => {
    expect(re('^\\x41\\x{42}\\103\\o{104}\\cE$').test('ABCD\u0005')).toBe(true);
    expect(re('^\\x{e9}$').test('\u00e9')).toBe(true);
    expect(re('^(a)\\10$').test('a\u0008')).toBe(true);
    expect(re('^(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\\10$').test('abcdefghijj')).toBe(true);
    expect(re('^a{,3}$').test('a{,3}')).toBe(true);
    expect(re('^[]a]+$').test(']a')).toBe(true);
  });

  test('\\p{..} and the PCRE2 specials need the u flag', () => {
    expect(re('^/\\p{L}+$').flags).toBe('u');
    expect(re('^/\\p{L}+$').test('/abc')).toBe(true);
    expect(re('^/\\pL\\p{^L}\\P{L}$').test('/a11')).toBe(true);
    expect(re('^\\p{Greek}$').test('\u03b1')).toBe(true);
    expect(re('^\\p{L&}+$').test('aB')).toBe(true);
    expect(re('^[\\p{Xan}_]+$').test('a1_')).toBe(true);
    // caseless matching does not change \p{Lu} in PCRE (a JS `i` flag would)
    expect(re('^\\p{Lu}$', true).test('a')).toBe(false);
    expect(re('^\\p{Lu}x$', true).test('AX')).toBe(true);
  });

  test('caseless: one i flag when uniform; a backreference keeps its case-insensitive compare', () => {
    expect(re('^/(\\w+)/\\1$', true).test('/ab/AB')).toBe(true);
    expect(re('\\.PHP$', true).test('/x.php')).toBe(true);
  });
});

describe('what PCRE refuses, or tsproxy cannot run faithfully, is an error at the construct', () => {
  test.each([
    ['\\x{100}', 'character code point value in \\x{} or \\o{} is too large', '\\x{100}'],
    ['a\\y', 'unrecognized character follows \\', '\\y'],
    ['[\\w-.]', 'invalid range in character class', '\\w-'],
    ['[z-a]', 'range out of order in character class', 'z-a'],
    ['\\8', 'reference to non-existent subpattern', '\\8'],
    ['(a)\\k<b>', 'reference to non-existent subpattern', '\\k<b>'],
    ['(?<a>x)(?<a>y)', 'two named subpatterns have the same name (PCRE2_DUPNAMES not set)', 'a'],
    ['\\N{U+41}', '\\N{U+dddd} is supported only in Unicode (UTF) mode', '\\N'],
    ['x(', 'missing closing parenthesis', '('],
    ['x)', 'unmatched closing parenthesis', ')'],
    ['[ab', 'missing terminating ] for character class', '['],
    ['[:alpha:]', 'POSIX named classes are supported only within a class', '[:alpha:]'],
    ['\\p{Nope}', 'unknown property name after \\P or \\p', '\\p{Nope}'],
    ['a\\', '\\ at end of pattern', '\\'],
    ['*a', 'quantifier does not follow a repeatable item', '*'],
    ['a{3,2}', 'numbers out of order in {} quantifier', '{3,2}'],
  ])('%j (PCRE2 refuses it too)', (p, message, at) => {
    expect(refusal(p)).toEqual({ message, at });
  });

  test.each([
    ['a++', '"++" (possessive quantifier) is not supported', '++'],
    ['a{2}+', '"{2}+" (possessive quantifier) is not supported', '{2}+'],
    ['(?>a)', '"(?>" (atomic group) is not supported', '(?>'],
    ['(?|a)', '"(?|" (branch reset group) is not supported', '(?|'],
    ['(a)(?1)', '"(?1" (recursion or subroutine call) is not supported', '(?1'],
    ['(?R)', '"(?R" (recursion or subroutine call) is not supported', '(?R'],
    ['(?<n>a)(?&n)', '"(?&" (recursion or subroutine call) is not supported', '(?&'],
    ['(?<n>a)(?P>n)', '"(?P>" (subroutine call) is not supported', '(?P>'],
    ['(a)\\g<1>', '"\\g<" (subroutine call) is not supported', '\\g<'],
    ['(?(1)a|b)', '"(?(" (conditional group) is not supported', '(?('],
    ['a\\Kb', '"\\K" (reset of the match start) is not supported', '\\K'],
    ['\\X', '"\\X" (extended grapheme cluster) is not supported', '\\X'],
    ['\\Ga', '"\\G" (start of match anchor) is not supported', '\\G'],
    ['(*UTF)a', '"(*" (verbs and alternative assertion syntax) is not supported', '(*'],
    ['(?U)a+', '"(?U)" (ungreedy option) is not supported', 'U'],
    ['[\\P{L&}]', '"\\P{L&}" inside a character class is not supported', '\\P{L&}'],
    ['(a)(?i)\\1', 'a backreference in the caseless part of a regex that is partly case-sensitive is not supported', '\\1'],
  ])('%j (no JS equivalent)', (p, message, at) => {
    expect(refusal(p)).toEqual({ message, at });
  });
});
