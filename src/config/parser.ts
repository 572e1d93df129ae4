/**
 * The grammar, and nothing else (see grammar/tsproxy.ebnf):
 *
 *   config    = { statement } EOF ;
 *   statement = argument { argument } ( ";" | block ) ;   (a quoted name is allowed, as nginx: map keys like '' )
 *   argument  = Word | String ;          (the token category Argument, see tokens.ts)
 *   block     = "{" { statement } "}" ;
 *
 * One parser instance is shared (Chevrotain builds its lookahead tables once; `parser.input = tokens`
 * resets it). Rules are class properties so a misspelt SUBRULE does not compile. Messages are
 * rewritten into nginx wording in parse.ts, where the whole token stream is known.
 * A correct config never reaches this parser: parse.ts tries the one-pass `scanDirectives` first
 * and only falls back to Chevrotain (the normative grammar) to report errors.
 */
import { CstParser } from 'chevrotain';
import { allTokens, Argument, LCurly, RCurly, Semi } from './tokens.js';

export class ConfigParser extends CstParser {
  constructor() {
    super(allTokens, { recoveryEnabled: true, maxLookahead: 1 });
    this.performSelfAnalysis();
  }

  config = this.RULE('config', () => {
    this.MANY(() => this.SUBRULE(this.statement));
  });

  statement = this.RULE('statement', () => {
    this.CONSUME1(Argument, { LABEL: 'name' });
    this.MANY(() => this.CONSUME2(Argument));
    this.OR([
      { ALT: () => this.CONSUME(Semi) },
      { ALT: () => this.SUBRULE(this.block) },
    ]);
  });

  block = this.RULE('block', () => {
    this.CONSUME(LCurly);
    this.MANY(() => this.SUBRULE(this.statement));
    this.CONSUME(RCurly);
  });
}

export const configParser = new ConfigParser();
