/**
 * Token definitions of the config language. Like nginx's ngx_conf_read_token there are no
 * keyword tokens: every directive name and bare argument is a Word; meaning comes later, from
 * the directive table.
 *
 * Whitespace is only ' ', '\t', CR and LF (as in nginx); any other character may be part of a word.
 * These patterns are the executable statement of the lexical rules (grammar/tsproxy.ebnf);
 * lexer.ts scans by hand with the same rules, for speed, and tests check that both agree.
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

/** `#` starts a comment only where a token could start (`a#b` is one word); kept in a group for a future formatter. */
export const Comment = createToken({
  name: 'Comment',
  pattern: /#[^\r\n]*/,
  group: 'comments',
  line_breaks: false,
});

/**
 * `argument = Word | String`, as a token category rather than a rule: a rule would build one
 * CST node per argument, and arguments are most of a config's tokens.
 */
export const Argument = createToken({ name: 'Argument', pattern: Lexer.NA, label: 'argument' });

export const LCurly = createToken({ name: 'LCurly', pattern: '{', label: '"{"' });
export const RCurly = createToken({ name: 'RCurly', pattern: '}', label: '"}"' });
export const Semi = createToken({ name: 'Semi', pattern: ';', label: '";"' });

/**
 * "double" or 'single' quoted; a backslash protects the next character (even a newline), so the
 * lexer only has to find the closing quote; `unescape` in lexer.ts resolves the escapes.
 */
export const QuotedString = createToken({
  name: 'QuotedString',
  label: 'String',
  categories: [Argument],
  pattern: /"(?:[^"\\]|\\[^])*"|'(?:[^'\\]|\\[^])*'/,
  line_breaks: true,
  start_chars_hint: ['"', "'"],
});

/**
 * A quote that is never closed runs to the end of the input. Matching it as a token (instead of
 * letting the lexer fail on one character and resume inside the string) gives one clear error
 * instead of a cascade; lexer.ts reports it and drops the token.
 */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\]|\\[^])*|'(?:[^'\\]|\\[^])*/,
  line_breaks: true,
  start_chars_hint: ['"', "'"],
});

/**
 * A bare word ends at whitespace, `;`, `{` or `}`, except that `${name}` is part of the word
 * (`${host}foo`, `a${b}c`) and a backslash protects the next character (`a\ b`, nginx).
 * It cannot start with a quote or `#` (those start strings and comments).
 */
export const Word = createToken({
  name: 'Word',
  categories: [Argument],
  start_chars_hint: wordStartChars(),
  line_breaks: true,
  pattern:
    /(?:[^ \t\r\n;{}"'#\\$]|\\[^]?|\$\{[^}; \t\r\n{]*\}?|\$)(?:[^ \t\r\n;{}\\$]|\\[^]?|\$\{[^}; \t\r\n{]*\}?|\$)*/,
});

/**
 * Every character a word may start with, for Chevrotain's first-character dispatch (it cannot
 * analyse a complement set by itself). Above 255 it buckets char codes by 256, so one code per
 * bucket stands for the whole bucket.
 */
function wordStartChars(): number[] {
  const notStart = new Set([...' \t\r\n;{}"\'#'].map((c) => c.charCodeAt(0)));
  const out: number[] = [];
  for (let c = 0; c < 256; c++) if (!notStart.has(c)) out.push(c);
  for (let c = 256; c < 65536; c += 256) out.push(c);
  return out;
}

/** Lexer order: strings before the unterminated fallback; the rest cannot overlap by first character. */
export const allTokens: TokenType[] = [
  Argument,
  WhiteSpace,
  Comment,
  LCurly,
  RCurly,
  Semi,
  QuotedString,
  UnterminatedString,
  Word,
];
