// The .vpl parser: chevrotain with embedded actions, building the AST of ast.ts directly.
//
// Error handling is mostly explicit rather than left to chevrotain's generic recovery: every
// place where a token may be missing is an OPTION or a gated alternative that reports a
// diagnostic in the user's terms ("expected a value after '=' but found '}'") and carries on.
// Text that fits no statement is skipped up to the next statement start or closing brace
// (the `junk` rule), so one run reports every problem in the file.
import { EmbeddedActionsParser, EOF, tokenMatcher, type IOrAlt, type IToken, type OrMethodOpts, type ParserMethod, type TokenType } from './chevrotain.ts';
import type {
  Argument,
  Block,
  BooleanLiteral,
  CallExpression,
  Clause,
  ClausePart,
  ErrorExpression,
  Expression,
  Identifier,
  ListExpression,
  NumberLiteral,
  ObjectExpression,
  PathExpression,
  SizeLiteral,
  SourceFile,
  Span,
  Statement,
  StringLiteral,
} from './ast.ts';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { DiagnosticCode } from '../diagnostics/catalogue.ts';
import { attachComments } from './comments.ts';
import { lex, splitNumber } from './lexer.ts';
import { hasUnclosedBraces, limitNesting } from './nesting.ts';
import { endOf, LineMap } from './positions.ts';
import { decodeString } from './strings.ts';
import * as t from './tokens.ts';

/** Longest chain of binary operators (`a + b + ...`) or unary minuses in one expression. */
export const maxOperatorChain = 256;
/** A file with more problems than this is not worth reading further. */
const maxDiagnostics = 100;

type StatementKind = 'pipeline' | 'extends' | 'block' | 'assignment' | 'clause';

interface Bracketed<T> {
  items: T[];
  close?: IToken;
}

class VplParser extends EmbeddedActionsParser {
  private lines = new LineMap('', '');
  private problems: Diagnostic[] = [];
  /** Set when braces do not balance: a block then also ends at a less indented block start. */
  private closeByIndentation = false;
  private statementAlternatives?: OrMethodOpts<Statement>;
  private primaryAlternatives?: IOrAlt<Expression>[];

  constructor() {
    super(t.allTokens, { recoveryEnabled: true, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  parseTokens(tokens: IToken[], lines: LineMap): { file: SourceFile; problems: Diagnostic[] } {
    this.lines = lines;
    this.problems = [];
    this.closeByIndentation = hasUnclosedBraces(tokens);
    this.input = tokens;
    const file = this.sourceFile();
    for (const error of this.errors) {
      // chevrotain's own recovery is a safety net; report what it saw in our words
      const token = error.token;
      this.report('VPL1010', this.tokenSpan(token), `unexpected ${this.describe(token)}`);
    }
    return { file, problems: this.problems };
  }

  // ------------------------------------------------------------------ statements

  private sourceFile = this.RULE('sourceFile', (): SourceFile => {
    const body = this.SUBRULE(this.statementList, { ARGS: [undefined] });
    return this.ACTION(() => ({
      kind: 'SourceFile',
      body,
      danglingComments: [],
      span: this.lines.span(0, this.lines.text.length),
    }));
  });

  /** Statements up to `}` (inside `owner`'s braces) or to the end of the file. */
  private statementList = this.RULE('statementList', (owner: IToken | undefined): Statement[] => {
    const body: Statement[] = [];
    this.MANY({
      GATE: () => this.continuesList(owner),
      DEF: () => {
        this.OR({
          IGNORE_AMBIGUITIES: true,
          DEF: [
            { ALT: () => this.CONSUME(t.Semicolon) },
            {
              GATE: () => this.statementKind() !== undefined,
              ALT: () => {
                const statement = this.SUBRULE(this.statement);
                this.ACTION(() => statement && body.push(statement));
              },
            },
            { ALT: () => this.SUBRULE(this.junk, { ARGS: [owner] }) },
          ],
        });
      },
    });
    return body;
  });

  private statement = this.RULE('statement', (): Statement => {
    // alternatives built once: this runs for every statement, and closures are not free
    this.statementAlternatives ??= {
      IGNORE_AMBIGUITIES: true,
      DEF: [
        { GATE: () => this.statementKind() === 'pipeline', ALT: () => this.SUBRULE(this.pipelineDeclaration) },
        { GATE: () => this.statementKind() === 'extends', ALT: () => this.SUBRULE(this.extendsDeclaration) },
        { GATE: () => this.statementKind() === 'block', ALT: () => this.SUBRULE(this.block) },
        { GATE: () => this.statementKind() === 'clause', ALT: () => this.SUBRULE(this.clause) },
        { ALT: () => this.SUBRULE(this.assignment) },
      ],
    };
    return this.OR(this.statementAlternatives);
  });

  private pipelineDeclaration = this.RULE('pipelineDeclaration', (): Statement => {
    const keyword = this.CONSUME(t.Pipeline);
    const name = this.CONSUME(t.Name);
    return this.ACTION(() => ({
      kind: 'PipelineDeclaration',
      name: this.identifier(name),
      trivia: { leading: [] },
      span: this.spanOf(keyword, name),
    }));
  });

  private extendsDeclaration = this.RULE('extendsDeclaration', (): Statement => {
    const keyword = this.CONSUME(t.Extends);
    const path = this.CONSUME(t.StringLike);
    return this.ACTION(() => ({
      kind: 'ExtendsDeclaration',
      path: this.stringLiteral(path),
      trivia: { leading: [] },
      span: this.spanOf(keyword, path),
    }));
  });

  private block = this.RULE('block', (): Block => {
    const keyword = this.CONSUME(t.Name);
    const variant = this.OPTION(() => this.CONSUME2(t.Name));
    const open = this.CONSUME(t.LCurly);
    const body = this.SUBRULE(this.statementList, { ARGS: [keyword] });
    const close = this.OPTION2(() => this.CONSUME(t.RCurly));
    return this.ACTION(() => {
      if (!close) this.reportUnclosed(open, '}', `the block '${keyword.image}'`);
      return {
        kind: 'Block',
        keyword: this.identifier(keyword),
        ...(variant ? { variant: this.identifier(variant) } : {}),
        body,
        danglingComments: [],
        trivia: { leading: [] },
        span: this.spanOf(keyword, close ?? this.LA(0)),
      };
    });
  });

  private assignment = this.RULE('assignment', (): Statement => {
    const target = this.SUBRULE(this.path);
    const equals = this.OPTION(() => this.CONSUME(t.Equals));
    this.ACTION(() => {
      if (!equals) {
        this.report('VPL1010', this.tokenSpan(this.LA(1)), `expected '=' after '${this.pathText(target)}' but found ${this.describe(this.LA(1))}`, {
          help: `write '${this.pathText(target)} = value'`,
        });
      }
    });
    const value = this.SUBRULE(this.valueAfter, { ARGS: [equals ?? this.LA(0), equals !== undefined] });
    return this.ACTION(() => ({
      kind: 'Assignment',
      target,
      value,
      trivia: { leading: [] },
      span: this.lines.span(target.span.start.offset, value.span.end.offset),
    }));
  });

  private clause = this.RULE('clause', (): Clause => {
    const keyword = this.CONSUME(t.Name);
    const parts: ClausePart[] = [];
    this.MANY({
      GATE: () => tokenMatcher(this.LA(1), t.ClauseWord),
      DEF: () => {
        const part = this.SUBRULE(this.clausePart);
        this.ACTION(() => parts.push(part));
      },
    });
    return this.ACTION(() => ({
      kind: 'Clause',
      keyword: this.identifier(keyword),
      parts,
      trivia: { leading: [] },
      span: this.lines.span(keyword.startOffset, parts.at(-1)?.span.end.offset ?? endOf(keyword)),
    }));
  });

  private clausePart = this.RULE('clausePart', (): ClausePart => {
    const word = this.CONSUME(t.ClauseWord);
    const count = this.OPTION(() => this.CONSUME(t.NumberLike));
    this.ACTION(() => {
      if (!count) {
        this.report('VPL1010', this.tokenSpan(this.LA(1)), `expected a number after '${word.image}' but found ${this.describe(this.LA(1))}`, {
          help: `write it like '${word.image} 8 steps'`,
        });
      }
    });
    const unit = this.OPTION2({ GATE: () => this.isClauseUnit(), DEF: () => this.CONSUME2(t.Name) });
    return this.ACTION(() => {
      const value: NumberLiteral = count
        ? this.numberLiteral(count)
        : { kind: 'Number', value: 0, raw: '', span: this.lines.span(endOf(word), endOf(word)) };
      const last = unit ?? count ?? word;
      return {
        kind: 'ClausePart',
        word: this.identifier(word),
        value,
        ...(unit ? { unit: this.identifier(unit) } : {}),
        span: this.spanOf(word, last),
      };
    });
  });

  /** Tokens that fit no statement: skipped up to the next statement, `;` or `}`, as one error. */
  private junk = this.RULE('junk', (owner: IToken | undefined): void => {
    const previous = this.LA(0);
    const first = this.CONSUME(t.AnyToken);
    let depth = 0;
    this.ACTION(() => {
      this.reportJunk(first, previous, owner);
      if (tokenMatcher(first, t.LCurly)) depth++;
    });
    this.MANY({
      GATE: () => this.continuesJunk(depth),
      DEF: () => {
        const token = this.CONSUME2(t.AnyToken);
        this.ACTION(() => {
          if (tokenMatcher(token, t.LCurly)) depth++;
          else if (tokenMatcher(token, t.RCurly)) depth--;
        });
      },
    });
  });

  // ----------------------------------------------------------------- expressions

  /** The value after `=`, an operator or `(`: reports a missing one instead of failing. */
  private valueAfter = this.RULE('valueAfter', (previous: IToken, reportMissing: boolean): Expression => {
    return this.operandAfter(previous, this.expression, reportMissing);
  });

  private expression = this.RULE('expression', (): Expression => {
    return this.operatorChain([t.Plus, t.Minus], this.term, this.termAfter);
  });

  private termAfter = this.RULE('termAfter', (operator: IToken): Expression => {
    return this.operandAfter(operator, this.term, true);
  });

  private term = this.RULE('term', (): Expression => {
    return this.operatorChain([t.Star, t.Slash], this.unary, this.unaryAfter);
  });

  private unaryAfter = this.RULE('unaryAfter', (operator: IToken): Expression => {
    return this.operandAfter(operator, this.unary, true);
  });

  /** `-x`, `- -x`: a loop rather than recursion, so a long run of minuses cannot overflow. */
  private unary = this.RULE('unary', (): Expression => {
    const minuses: IToken[] = [];
    this.MANY(() => {
      const minus = this.CONSUME(t.Minus);
      this.ACTION(() => minuses.push(minus));
    });
    const operand = this.OR([
      { GATE: () => this.startsPrimary(this.LA(1)), ALT: () => this.SUBRULE(this.primary) },
      { ALT: () => this.ACTION(() => this.missingValue(minuses.at(-1) ?? this.LA(0), true)) },
    ]);
    return this.ACTION(() => {
      if (minuses.length > maxOperatorChain) this.reportLongChain(maxOperatorChain + 1, minuses[maxOperatorChain]!);
      let result = operand;
      for (const minus of minuses.slice(0, maxOperatorChain).reverse()) {
        result = { kind: 'Unary', operator: '-', operand: result, span: this.lines.span(minus.startOffset, result.span.end.offset) };
      }
      return result;
    });
  });

  private primary = this.RULE('primary', (): Expression => {
    this.primaryAlternatives ??= [
      {
        ALT: () => {
          const token = this.CONSUME(t.NumberLike);
          return this.ACTION(() => this.numberLiteral(token));
        },
      },
      {
        ALT: () => {
          const token = this.CONSUME(t.Size);
          return this.ACTION((): SizeLiteral => ({ kind: 'Size', dims: token.image.split('x').map(Number), span: this.tokenSpan(token) }));
        },
      },
      {
        ALT: () => {
          const token = this.CONSUME(t.StringLike);
          return this.ACTION(() => this.stringLiteral(token));
        },
      },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
      { ALT: () => this.SUBRULE(this.nameExpression) },
    ];
    return this.OR(this.primaryAlternatives);
  });

  /** A name, then what makes it a call, an object, a dotted path or a boolean. */
  private nameExpression = this.RULE('nameExpression', (): Expression => {
    const name = this.CONSUME(t.Name);
    const call = this.OPTION(() => this.SUBRULE(this.callArguments));
    const object = this.OPTION2({ GATE: () => call === undefined, DEF: () => this.SUBRULE(this.objectBody, { ARGS: [name] }) });
    const parts: Identifier[] = [];
    this.MANY({
      GATE: () => call === undefined && object === undefined,
      DEF: () => {
        const part = this.SUBRULE(this.dottedPart);
        this.ACTION(() => part && parts.push(part));
      },
    });
    return this.ACTION((): Expression => {
      if (call) {
        return { kind: 'Call', callee: this.identifier(name), args: call.items, span: this.spanOf(name, call.close ?? this.LA(0)) } satisfies CallExpression;
      }
      if (object) return object;
      if (parts.length === 0 && (tokenMatcher(name, t.True) || tokenMatcher(name, t.False))) {
        return { kind: 'Boolean', value: tokenMatcher(name, t.True), span: this.tokenSpan(name) } satisfies BooleanLiteral;
      }
      const all = [this.identifier(name), ...parts];
      return { kind: 'Path', parts: all, span: this.lines.span(name.startOffset, all.at(-1)!.span.end.offset) } satisfies PathExpression;
    });
  });

  /** `a.b.c` as an assignment target. */
  private path = this.RULE('path', (): PathExpression => {
    const first = this.CONSUME(t.Name);
    const parts: Identifier[] = [];
    this.MANY(() => {
      const part = this.SUBRULE(this.dottedPart);
      this.ACTION(() => part && parts.push(part));
    });
    return this.ACTION(() => {
      const all = [this.identifier(first), ...parts];
      return { kind: 'Path', parts: all, span: this.lines.span(first.startOffset, all.at(-1)!.span.end.offset) };
    });
  });

  /** `.name` in a path; a missing name is reported and the dot skipped. */
  private dottedPart = this.RULE('dottedPart', (): Identifier | undefined => {
    this.CONSUME(t.Dot);
    const name = this.OPTION(() => this.CONSUME(t.Name));
    return this.ACTION(() => {
      if (name) return this.identifier(name);
      this.report('VPL1010', this.tokenSpan(this.LA(1)), `expected a name after '.' but found ${this.describe(this.LA(1))}`, {
        help: 'write a dotted name like attn.q',
      });
      return undefined;
    });
  });

  private callArguments = this.RULE('callArguments', (): Bracketed<Argument> => {
    const open = this.CONSUME(t.LParen);
    const items = this.commaSeparated(this.argument, 'an argument', ')');
    const close = this.OPTION(() => this.CONSUME(t.RParen));
    this.ACTION(() => !close && this.reportUnclosed(open, ')', 'the argument list'));
    return { items, ...(close ? { close } : {}) };
  });

  private argument = this.RULE('argument', (): Argument => {
    return this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        {
          GATE: () => tokenMatcher(this.LA(2), t.Equals),
          ALT: () => {
            const name = this.CONSUME(t.Name);
            const equals = this.CONSUME(t.Equals);
            const value = this.SUBRULE(this.valueAfter, { ARGS: [equals, true] });
            return this.ACTION((): Argument => ({
              kind: 'Argument',
              name: this.identifier(name),
              value,
              span: this.lines.span(name.startOffset, value.span.end.offset),
            }));
          },
        },
        {
          ALT: () => {
            const value = this.SUBRULE(this.expression);
            return this.ACTION((): Argument => ({ kind: 'Argument', value, span: value.span }));
          },
        },
      ],
    });
  });

  private list = this.RULE('list', (): ListExpression => {
    const open = this.CONSUME(t.LBracket);
    const items = this.commaSeparated(this.expression, 'a list item', ']');
    const close = this.OPTION(() => this.CONSUME(t.RBracket));
    return this.ACTION(() => {
      if (!close) this.reportUnclosed(open, ']', 'the list');
      return { kind: 'List', items, span: this.spanOf(open, close ?? this.LA(0)) };
    });
  });

  private parenthesized = this.RULE('parenthesized', (): Expression => {
    const open = this.CONSUME(t.LParen);
    const expression = this.SUBRULE(this.valueAfter, { ARGS: [open, true] });
    const close = this.OPTION(() => this.CONSUME(t.RParen));
    return this.ACTION(() => {
      if (!close) this.reportUnclosed(open, ')', 'the parenthesis');
      return { kind: 'Parenthesized', expression, span: this.spanOf(open, close ?? this.LA(0)) };
    });
  });

  private objectBody = this.RULE('objectBody', (name: IToken): ObjectExpression => {
    const open = this.CONSUME(t.LCurly);
    const body = this.SUBRULE(this.statementList, { ARGS: [name] });
    const close = this.OPTION(() => this.CONSUME(t.RCurly));
    return this.ACTION(() => {
      if (!close) this.reportUnclosed(open, '}', `'${name.image} { ... }'`);
      return { kind: 'Object', name: this.identifier(name), body, danglingComments: [], span: this.spanOf(name, close ?? this.LA(0)) };
    });
  });

  // ------------------------------------------------------------ shared rule bodies

  // Bodies that several rules share. They are called from inside a rule and record into it;
  // the rules stay separate, rather than one rule taking the rule to call as an argument,
  // because chevrotain records each rule's grammar by running it once without arguments.

  /** `operand` if a value follows `previous`, else an ErrorExpression, reported if `reportMissing`. */
  private operandAfter(previous: IToken, operand: ParserMethod<[], Expression>, reportMissing: boolean): Expression {
    return this.OR([
      { GATE: () => this.startsValueAfter(previous), ALT: () => this.SUBRULE(operand) },
      { ALT: () => this.ACTION(() => this.missingValue(previous, reportMissing)) },
    ]);
  }

  /**
   * `operand (operator operand)*`, grouped to the left. Past maxOperatorChain operators the rest
   * is still parsed, but left out of the tree.
   */
  private operatorChain(
    operators: readonly [TokenType, TokenType],
    operand: ParserMethod<[], Expression>,
    operandAfter: ParserMethod<[IToken], Expression>,
  ): Expression {
    const [first, second] = operators;
    let left = this.SUBRULE(operand);
    let count = 0;
    this.MANY(() => {
      const operator = this.OR([{ ALT: () => this.CONSUME(first) }, { ALT: () => this.CONSUME(second) }]);
      const right = this.SUBRULE(operandAfter, { ARGS: [operator] });
      this.ACTION(() => {
        if (++count > maxOperatorChain) return this.reportLongChain(count, operator);
        left = this.binary(operator, left, right);
      });
    });
    return left;
  }

  /**
   * The items of a list or call up to its closing bracket, separated by commas. A missing or
   * extra comma is reported and parsing carries on, so one run finds every such slip.
   */
  private commaSeparated<T>(item: ParserMethod<[], T>, itemName: string, closer: string): T[] {
    const items: T[] = [];
    let needComma = false;
    this.MANY({
      GATE: () => this.continuesItems(),
      DEF: () => {
        this.OR([
          {
            ALT: () => {
              const comma = this.CONSUME(t.Comma);
              this.ACTION(() => {
                if (!needComma) this.report('VPL1010', this.tokenSpan(comma), `expected ${itemName} before ','`, { help: 'remove the extra comma' });
                needComma = false;
              });
            },
          },
          {
            ALT: () => {
              this.ACTION(() => needComma && this.reportMissingComma(closer));
              const value = this.SUBRULE(item);
              this.ACTION(() => {
                items.push(value);
                needComma = true;
              });
            },
          },
        ]);
      },
    });
    return items;
  }

  // ------------------------------------------------------------------ lookahead

  /** What statement the next tokens start, if any. Newlines carry no meaning here. */
  private statementKind(): StatementKind | undefined {
    const [a, b, c] = [this.LA(1), this.LA(2), this.LA(3)];
    if (tokenMatcher(a, t.Pipeline) && tokenMatcher(b, t.Name) && !tokenMatcher(c, t.LCurly)) return 'pipeline';
    if (tokenMatcher(a, t.Extends) && tokenMatcher(b, t.StringLike)) return 'extends';
    if (!tokenMatcher(a, t.Name)) return undefined;
    if (tokenMatcher(b, t.Equals) || tokenMatcher(b, t.Dot)) return 'assignment';
    if (tokenMatcher(b, t.LCurly) || (tokenMatcher(b, t.Name) && tokenMatcher(c, t.LCurly))) return 'block';
    if (tokenMatcher(b, t.ClauseWord)) return 'clause';
    return undefined;
  }

  private continuesList(owner: IToken | undefined): boolean {
    const next = this.LA(1);
    if (tokenMatcher(next, EOF)) return false;
    if (owner === undefined) return true;
    if (tokenMatcher(next, t.RCurly)) return false;
    if (!this.closeByIndentation || !this.startsLine(next) || this.statementKind() !== 'block') return true;
    // braces do not balance: a block start no more indented than the owner's line most
    // likely follows a block whose `}` was forgotten
    return this.column(next) > this.lines.indentColumn(owner.startOffset);
  }

  private continuesJunk(depth: number): boolean {
    const next = this.LA(1);
    if (tokenMatcher(next, EOF)) return false;
    if (depth > 0) return true;
    return !tokenMatcher(next, t.RCurly) && !tokenMatcher(next, t.Semicolon) && this.statementKind() === undefined;
  }

  /**
   * The next list item or argument, or a comma. Right after `[`, `(` or `,` an item must come;
   * after an item, a new line that starts a statement means the closing bracket was forgotten.
   */
  private continuesItems(): boolean {
    const next = this.LA(1);
    if (tokenMatcher(next, t.Comma)) return true;
    const previous = this.LA(0);
    if ([t.Comma, t.LParen, t.LBracket].some((type) => tokenMatcher(previous, type))) return this.startsExpression(next);
    return this.startsValueAfter(previous);
  }

  private startsPrimary(token: IToken): boolean {
    return [t.NumberLike, t.Size, t.StringLike, t.LBracket, t.LParen, t.Name].some((type) => tokenMatcher(token, type));
  }

  private startsExpression(token: IToken): boolean {
    return tokenMatcher(token, t.Minus) || this.startsPrimary(token);
  }

  /** A value may follow `previous`, unless what follows is, on a new line, clearly the next statement. */
  private startsValueAfter(previous: IToken): boolean {
    const next = this.LA(1);
    if (!this.startsExpression(next)) return false;
    if (!this.startsNewLineAfter(next, previous)) return true;
    const kind = this.statementKind();
    return kind === undefined || kind === 'block';
  }

  /** The unit of a clause part (`steps` in `every 80 steps`): on the number's line, or not a statement. */
  private isClauseUnit(): boolean {
    const next = this.LA(1);
    if (!tokenMatcher(next, t.Name) || tokenMatcher(next, t.ClauseWord)) return false;
    if (!this.startsNewLineAfter(next, this.LA(0))) return true;
    return this.statementKind() === undefined;
  }

  private startsLine(token: IToken): boolean {
    return this.startsNewLineAfter(token, this.LA(0));
  }

  private startsNewLineAfter(token: IToken, previous: IToken): boolean {
    if (tokenMatcher(previous, EOF) || tokenMatcher(token, EOF)) return true;
    return this.lines.position(token.startOffset).line > this.lines.position(endOf(previous) - 1).line;
  }

  private column(token: IToken): number {
    return this.lines.position(token.startOffset).column;
  }

  // ---------------------------------------------------------------- node builders

  private identifier(token: IToken): Identifier {
    return { kind: 'Identifier', name: token.image, span: this.tokenSpan(token) };
  }

  private numberLiteral(token: IToken): NumberLiteral {
    const span = this.tokenSpan(token);
    if (tokenMatcher(token, t.BadExponent)) {
      // reported by the lexer; keep the digits before the `e`
      return { kind: 'Number', value: parseFloat(token.image), raw: token.image, span };
    }
    const { raw, unit } = splitNumber(token.image);
    return { kind: 'Number', value: Number(raw), raw, ...(unit !== undefined ? { unit } : {}), span };
  }

  private stringLiteral(token: IToken): StringLiteral {
    return { kind: 'String', value: decodeString(token.image).value, span: this.tokenSpan(token) };
  }

  private binary(operator: IToken, left: Expression, right: Expression): Expression {
    return {
      kind: 'Binary',
      operator: operator.image as '+' | '-' | '*' | '/',
      left,
      right,
      span: this.lines.span(left.span.start.offset, right.span.end.offset),
    };
  }

  private missingValue(previous: IToken, report: boolean): ErrorExpression {
    const at = tokenMatcher(previous, EOF) ? 0 : endOf(previous);
    if (report) {
      const next = this.LA(1);
      const afterEquals = tokenMatcher(previous, t.Equals);
      this.report(
        afterEquals ? 'VPL1012' : 'VPL1010',
        this.tokenSpan(next),
        `expected a value after '${previous.image}' but found ${this.describe(next)}`,
        { help: afterEquals ? 'write a value after it: a number, a string, a name, a list [...] or a call' : 'write a value here, or remove the operator' },
      );
    }
    return { kind: 'ErrorExpression', span: this.lines.span(at, at) };
  }

  // ---------------------------------------------------------------- diagnostics

  private report(code: DiagnosticCode, span: Span, message: string, extra: Parameters<typeof diagnostic>[3] = {}): void {
    const last = this.problems.at(-1);
    // one report per place: recovery can pass the same token twice
    if (last && last.span.start.offset === span.start.offset && last.code === code) return;
    this.problems.push(diagnostic(code, span, message, extra));
  }

  private reportUnclosed(open: IToken, closer: string, what: string): void {
    const found = this.LA(1);
    this.report('VPL1011', this.tokenSpan(open), `missing '${closer}' to close ${what} opened here; found ${this.describe(found)}`, {
      help: `add '${closer}' where ${what} ends`,
      related: [{ span: this.tokenSpan(found), message: `expected '${closer}' before this` }],
    });
  }

  private reportMissingComma(closer: string): void {
    const found = this.LA(1);
    this.report('VPL1010', this.tokenSpan(found), `expected ',' or '${closer}' but found ${this.describe(found)}`, {
      help: "separate the items with ','",
    });
  }

  private reportLongChain(count: number, operator: IToken): void {
    if (count === maxOperatorChain + 1) {
      this.report('VPL1013', this.tokenSpan(operator), `expression too long: more than ${maxOperatorChain} operators in a row`, {
        help: 'split the expression; the rest of it was ignored',
      });
    }
  }

  private reportJunk(first: IToken, previous: IToken, owner: IToken | undefined): void {
    const found = this.describe(first);
    const span = this.tokenSpan(first);
    const next = this.LA(1);
    if (tokenMatcher(first, t.RCurly) && owner === undefined) {
      this.report('VPL1010', span, "unexpected '}': there is no open block to close", {
        help: "remove it, or check the '{' of the blocks above",
      });
    } else if (tokenMatcher(first, t.Pipeline)) {
      this.report('VPL1010', this.tokenSpan(next), `expected a pipeline name after 'pipeline' but found ${this.describe(next)}`, {
        help: 'write it like: pipeline pickscore',
      });
    } else if (tokenMatcher(first, t.Extends)) {
      this.report('VPL1010', this.tokenSpan(next), `expected a file path string after 'extends' but found ${this.describe(next)}`, {
        help: 'write it like: extends "base.vpl"',
      });
    } else if (tokenMatcher(first, t.LCurly)) {
      this.report('VPL1010', span, "unexpected '{': a block needs a name before its brace", { help: 'write it like: lora { rank = 16 }' });
    } else if (!tokenMatcher(previous, EOF) && !this.startsNewLineAfter(first, previous) && !tokenMatcher(previous, t.LCurly) && !tokenMatcher(previous, t.Semicolon)) {
      this.report('VPL1010', span, `unexpected ${found} after the end of the statement`, {
        help: "put each statement on its own line, or separate them with ';'",
      });
    } else if (tokenMatcher(first, t.Name)) {
      this.report('VPL1010', this.tokenSpan(next), `expected '=' or '{' after '${first.image}' but found ${this.describe(next)}`, {
        help: `write '${first.image} = value' or '${first.image} { ... }'`,
      });
    } else {
      this.report('VPL1010', span, `expected a statement but found ${found}`, {
        help: "statements look like 'name = value', 'name { ... }' or 'pipeline name'",
      });
    }
  }

  /** How a token reads in a message: `'}'`, `number '16'`, `the end of the file`. */
  private describe(token: IToken): string {
    if (tokenMatcher(token, EOF) || token.image === undefined || Number.isNaN(token.startOffset)) return 'the end of the file';
    const image = token.image.length > 24 ? `${token.image.slice(0, 24)}...` : token.image;
    if (tokenMatcher(token, t.StringLike)) return `string ${image}`;
    if (tokenMatcher(token, t.NumberLike)) return `number '${image}'`;
    if (tokenMatcher(token, t.Size)) return `size '${image}'`;
    return `'${image}'`;
  }

  private tokenSpan(token: IToken): Span {
    if (tokenMatcher(token, EOF) || Number.isNaN(token.startOffset)) {
      const end = this.lines.text.length;
      return this.lines.span(end, end);
    }
    return this.lines.span(token.startOffset, endOf(token));
  }

  private spanOf(first: IToken, last: IToken): Span {
    const end = tokenMatcher(last, EOF) || Number.isNaN(last.startOffset) ? endOf(first) : endOf(last);
    return this.lines.span(first.startOffset, Math.max(end, endOf(first)));
  }

  private pathText(path: PathExpression): string {
    return path.parts.map((part) => part.name).join('.');
  }
}

// Built once: chevrotain's grammar analysis is the expensive part.
const parser = new VplParser();

export interface ParseResult {
  ast: SourceFile;
  diagnostics: Diagnostic[];
}

/** Parses .vpl text. Never throws: every problem becomes a diagnostic. */
export function parse(text: string, file: string): ParseResult {
  const lines = new LineMap(text, file);
  try {
    const lexed = lex(text, lines);
    const nesting = limitNesting(lexed.tokens, lines);
    const { file: ast, problems } = parser.parseTokens(nesting.tokens, lines);
    attachComments(ast, lexed.comments, lines);
    const diagnostics = [...lexed.diagnostics, ...(nesting.diagnostic ? [nesting.diagnostic] : []), ...problems];
    diagnostics.sort((a, b) => a.span.start.offset - b.span.start.offset);
    return { ast, diagnostics: diagnostics.slice(0, maxDiagnostics) };
  } catch (error) {
    // A bug in the parser must not take the whole tool down with a stack trace.
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ast: { kind: 'SourceFile', body: [], danglingComments: [], span: lines.span(0, text.length) },
      diagnostics: [
        diagnostic('VPL1010', lines.span(0, 0), `the parser could not read this file (${detail})`, {
          help: 'please report this as a vplc bug, with the file',
        }),
      ],
    };
  }
}
