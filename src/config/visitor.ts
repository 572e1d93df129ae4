/**
 * CST → generic AST (src/config/ast.ts). Stateless: the file name travels as the visitor
 * parameter, so one instance serves every file. Children are read directly instead of going
 * through `this.visit`: 150k-line configs make that generic dispatch noticeable.
 */
import type { IToken } from 'chevrotain';
import type { Arg, Directive } from './ast.js';
import type {
  BlockCstChildren,
  ConfigCstChildren,
  ConfigCstNode,
  ICstNodeVisitor,
  StatementCstChildren,
  StatementCstNode,
} from './cst.js';
import type { Loc } from '../errors.js';
import { tokenValue } from './lexer.js';
import { configParser } from './parser.js';
import { QuotedString } from './tokens.js';

const BaseVisitor = configParser.getBaseCstVisitorConstructorWithDefaults();

function tokenLoc(t: IToken, file: string): Loc {
  return { file, line: t.startLine!, column: t.startColumn!, length: t.image.length };
}

class ConfigVisitor extends BaseVisitor implements ICstNodeVisitor<string, unknown> {
  constructor() {
    super();
    this.validateVisitor();
  }

  config(children: ConfigCstChildren, file = ''): Directive[] {
    return this.#statements(children.statement, file);
  }

  statement(children: StatementCstChildren, file = ''): Directive {
    const name = children.name[0]!;
    const argTokens = children.Argument;
    const args: Arg[] = [];
    if (argTokens !== undefined) {
      for (const t of argTokens) {
        args.push({ value: tokenValue(t), quoted: t.tokenType === QuotedString, loc: tokenLoc(t, file) });
      }
    }
    const blockNode = children.block?.[0];
    return {
      name: tokenValue(name),
      args,
      block: blockNode === undefined ? null : this.block(blockNode.children, file),
      loc: tokenLoc(name, file),
    };
  }

  block(children: BlockCstChildren, file = ''): Directive[] {
    return this.#statements(children.statement, file);
  }

  #statements(nodes: StatementCstNode[] | undefined, file: string): Directive[] {
    const out: Directive[] = [];
    if (nodes === undefined) return out;
    for (const s of nodes) {
      // Recovery may leave a statement without its name token; it carries no directive.
      if (s.children.name?.[0] === undefined) continue;
      out.push(this.statement(s.children, file));
    }
    return out;
  }
}

const visitor = new ConfigVisitor();

/** The directives of a (possibly partial, after recovery) CST. */
export function cstToDirectives(cst: ConfigCstNode, file: string): Directive[] {
  return visitor.config(cst.children, file);
}
