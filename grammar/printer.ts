// The canonical .vpl formatter. Rules:
//   - 2-space indent, one statement per line inside blocks, `key = value` with single spaces;
//   - a blank line between top-level blocks (and between a block and its neighbours), plus at
//     most one blank line where the user had one or more;
//   - comments stay where they were: above a statement, at the end of its line, or at the end
//     of a block;
//   - numbers keep their spelling (`raw` + unit), strings are re-escaped, lists fit on one line;
//   - binary expressions get spaces and only the parentheses the user wrote or the tree needs;
//   - blocks are always multi-line; an object (`adamw { lr = 2e-4 }`) stays on one line when
//     it has at most `maxInlineFields` assignments of simple values and no comments.
// The output ends with exactly one newline.
import type { Argument, ClausePart, Comment, Expression, Node, SourceFile, Statement } from './ast.ts';
import { encodeString } from './strings.ts';

const indentUnit = '  ';
export const maxInlineFields = 3;

export function print(ast: SourceFile): string {
  const out: string[] = [];
  printStatements(ast.body, ast.danglingComments, 0, true, out);
  return out.length === 0 ? '\n' : `${out.join('\n')}\n`;
}

/** Appends one line per entry of `out` (an empty string is a blank line). */
function printStatements(body: Statement[], dangling: Comment[], depth: number, topLevel: boolean, out: string[]): void {
  const indent = indentUnit.repeat(depth);
  const startLength = out.length;
  const blankLine = () => {
    if (out.length > startLength && out[out.length - 1] !== '') out.push('');
  };
  body.forEach((statement, i) => {
    const previous = body[i - 1];
    const wantsBlank = topLevel && previous !== undefined && (statement.kind === 'Block' || previous.kind === 'Block');
    if (wantsBlank) blankLine();
    for (const comment of statement.trivia.leading) {
      if (comment.blankLineBefore) blankLine();
      out.push(indent + comment.text);
    }
    if (statement.trivia.blankLineBefore) blankLine();
    const lines = printStatement(statement, depth).split('\n');
    const trailing = statement.trivia.trailing;
    if (trailing) lines[lines.length - 1] += ` ${trailing.text}`;
    out.push(indent + lines[0], ...lines.slice(1));
  });
  for (const comment of dangling) {
    if (comment.blankLineBefore) blankLine();
    out.push(indent + comment.text);
  }
}

/** A statement's text; continuation lines carry their own indentation, the first does not. */
function printStatement(statement: Statement, depth: number): string {
  switch (statement.kind) {
    case 'PipelineDeclaration':
      return `pipeline ${statement.name.name}`;
    case 'ExtendsDeclaration':
      return `extends ${encodeString(statement.path.value)}`;
    case 'Assignment':
      return `${printExpression(statement.target, depth)} = ${printExpression(statement.value, depth)}`;
    case 'Clause':
      return [statement.keyword.name, ...statement.parts.map(printClausePart)].join(' ');
    case 'Block': {
      const head = statement.variant ? `${statement.keyword.name} ${statement.variant.name}` : statement.keyword.name;
      return `${head} ${printBraces(statement.body, statement.danglingComments, depth)}`;
    }
  }
}

function printClausePart(part: ClausePart): string {
  const count = `${part.value.raw}${part.value.unit ?? ''}`;
  return part.unit ? `${part.word.name} ${count} ${part.unit.name}` : `${part.word.name} ${count}`;
}

/** `{ ... }` of a block or object, multi-line; `{}` when empty. */
function printBraces(body: Statement[], dangling: Comment[], depth: number): string {
  if (body.length === 0 && dangling.length === 0) return '{}';
  const inner: string[] = [];
  printStatements(body, dangling, depth + 1, false, inner);
  return `{\n${inner.join('\n')}\n${indentUnit.repeat(depth)}}`;
}

/** Binding strength: higher binds tighter. */
const precedence = { '+': 1, '-': 1, '*': 2, '/': 2 } as const;

function printExpression(expression: Expression, depth: number): string {
  switch (expression.kind) {
    case 'Number':
      return `${expression.raw}${expression.unit ?? ''}`;
    case 'Size':
      return expression.dims.join('x');
    case 'String':
      return encodeString(expression.value);
    case 'Boolean':
      return String(expression.value);
    case 'Path':
      return expression.parts.map((part) => part.name).join('.');
    case 'List':
      return `[${expression.items.map((item) => printExpression(item, depth)).join(', ')}]`;
    case 'Call':
      return `${expression.callee.name}(${expression.args.map((arg) => printArgument(arg, depth)).join(', ')})`;
    case 'Object':
      if (isInlineObject(expression)) {
        const fields = expression.body.map((statement) => printStatement(statement, depth));
        return `${expression.name.name} { ${fields.join('  ')} }`;
      }
      return `${expression.name.name} ${printBraces(expression.body, expression.danglingComments, depth)}`;
    case 'Binary':
      return printBinary(expression, depth);
    case 'Unary': {
      const operand = printExpression(expression.operand, depth);
      return expression.operand.kind === 'Binary' ? `-(${operand})` : `-${operand}`;
    }
    case 'Parenthesized':
      return `(${printExpression(expression.expression, depth)})`;
    case 'ErrorExpression':
      return '<error>';
  }
}

/** Left-deep chains (`a + b + c + ...`) are walked in a loop, not by recursion. */
function printBinary(expression: Expression & { kind: 'Binary' }, depth: number): string {
  const chain = [expression];
  let innermost = expression;
  // descend while the left operand binds at least as tightly (it then needs no parentheses)
  while (innermost.left.kind === 'Binary' && precedence[innermost.left.operator] >= precedence[innermost.operator]) {
    innermost = innermost.left;
    chain.push(innermost);
  }
  let text = printOperand(innermost.left, precedence[innermost.operator], false, depth);
  for (let i = chain.length - 1; i >= 0; i--) {
    const node = chain[i]!;
    text += ` ${node.operator} ${printOperand(node.right, precedence[node.operator], true, depth)}`;
  }
  return text;
}

function printOperand(operand: Expression, parentPrecedence: number, isRight: boolean, depth: number): string {
  const text = printExpression(operand, depth);
  if (operand.kind !== 'Binary') return text;
  const own = precedence[operand.operator];
  // operators are left-associative: an equal-precedence right operand needs its parentheses
  const needsParentheses = own < parentPrecedence || (isRight && own === parentPrecedence);
  return needsParentheses ? `(${text})` : text;
}

function printArgument(argument: Argument, depth: number): string {
  const value = printExpression(argument.value, depth);
  return argument.name ? `${argument.name.name} = ${value}` : value;
}

function isInlineObject(object: Expression & { kind: 'Object' }): boolean {
  if (object.body.length > maxInlineFields || object.danglingComments.length > 0) return false;
  return object.body.every(
    (statement) =>
      statement.kind === 'Assignment' &&
      statement.trivia.leading.length === 0 &&
      statement.trivia.trailing === undefined &&
      !containsObject(statement.value),
  );
}

function containsObject(expression: Expression): boolean {
  const stack = [expression];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e.kind === 'Object') return true;
    if (e.kind === 'List') stack.push(...e.items);
    else if (e.kind === 'Call') stack.push(...e.args.map((a) => a.value));
    else if (e.kind === 'Binary') stack.push(e.left, e.right);
    else if (e.kind === 'Unary') stack.push(e.operand);
    else if (e.kind === 'Parenthesized') stack.push(e.expression);
  }
  return false;
}

/** Layout-only keys: positions and blank lines, which formatting may change. */
const layoutKeys = new Set(['span', 'blankLineBefore']);

/**
 * A deep copy of `node` without spans and blank-line marks, for comparing structure:
 * `stripSpans(parse(print(ast)).ast)` equals `stripSpans(ast)`. Iterative, so deep trees are fine.
 */
export function stripSpans<T extends Node | Comment>(node: T): unknown {
  const root: { value?: unknown } = {};
  const work: { source: unknown; target: Record<string, unknown> | unknown[]; key: string | number }[] = [
    { source: node, target: root as Record<string, unknown>, key: 'value' },
  ];
  while (work.length > 0) {
    const { source, target, key } = work.pop()!;
    let copy: unknown = source;
    if (Array.isArray(source)) {
      const array: unknown[] = new Array(source.length);
      source.forEach((item, i) => work.push({ source: item, target: array, key: i }));
      copy = array;
    } else if (source !== null && typeof source === 'object') {
      const object: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(source)) {
        if (!layoutKeys.has(k) && v !== undefined) work.push({ source: v, target: object, key: k });
      }
      copy = object;
    }
    (target as Record<string | number, unknown>)[key] = copy;
  }
  return root.value;
}
