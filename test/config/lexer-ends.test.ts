/** Token end positions where the hand-written lexer once disagreed with Chevrotain's (found by fuzz.test.ts). */
import { describe, expect, it } from 'vitest';
import { referenceTokenize, tokenize } from '../../src/config/lexer.js';

const shape = (t: { image: string; startLine?: number; startColumn?: number; endLine?: number; endColumn?: number }) =>
  [t.image, t.startLine, t.startColumn, t.endLine, t.endColumn];

describe('a word made of escaped line ends', () => {
  for (const text of ['\\\n\\\n', 'a\\\n', 'a\\\nb\\\n', '\\\n\\\nx']) {
    it(JSON.stringify(text), () => {
      expect(tokenize(text, 'f.conf').tokens.map(shape)).toEqual(referenceTokenize(text).tokens.map(shape));
    });
  }
});
