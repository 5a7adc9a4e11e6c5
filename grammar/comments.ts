// Re-attaches comments (which the lexer keeps aside) to the statements around them, so the
// printer can put every comment back in its place:
//   - a comment on the line where a statement ends is that statement's trailing comment;
//   - other comments go to the next statement in the same block as leading comments;
//   - comments after the last statement of a block or file are the block's dangling ones;
//   - a comment inside a statement (inside a multi-line list, say) leads that statement,
//     unless it is inside an object value, whose statements then get it.
// Also records blank lines, so the printer can keep one where the user had one.
import type { Comment, Expression, Statement } from './ast.ts';
import type { LineMap } from './positions.ts';

interface Container {
  body: Statement[];
  danglingComments: Comment[];
}

export function attachComments(root: Container, comments: Comment[], lines: LineMap): void {
  for (const comment of comments) {
    if (lines.hasBlankLineBefore(comment.span.start.offset)) comment.blankLineBefore = true;
  }
  attachIn(root, comments, lines);
}

function attachIn(container: Container, comments: Comment[], lines: LineMap): void {
  const { body } = container;
  for (const statement of body) {
    if (lines.hasBlankLineBefore(statement.span.start.offset)) statement.trivia.blankLineBefore = true;
  }
  const inner = new Map<Container, Comment[]>();
  let index = 0; // first statement that ends after the current comment
  for (const comment of comments) {
    const offset = comment.span.start.offset;
    while (index < body.length && body[index]!.span.end.offset <= offset) index++;
    const statement = body[index];
    if (statement && statement.span.start.offset <= offset) {
      const nested = innerContainers(statement).find((c) => contains(c, offset));
      if (nested) {
        const list = inner.get(nested);
        if (list) list.push(comment);
        else inner.set(nested, [comment]);
      }
      else statement.trivia.leading.push(comment);
      continue;
    }
    const previous = body[index - 1];
    if (previous && !previous.trivia.trailing && previous.span.end.line === comment.span.start.line) {
      previous.trivia.trailing = comment;
    } else if (statement) {
      statement.trivia.leading.push(comment);
    } else {
      container.danglingComments.push(comment);
    }
  }
  for (const [nested, nestedComments] of inner) attachIn(nested, nestedComments, lines);
  // nested containers with no comments still need their blank lines recorded
  for (const statement of body) {
    for (const nested of innerContainers(statement)) if (!inner.has(nested)) attachIn(nested, [], lines);
  }
}

type SpannedContainer = Container & { span: { start: { offset: number }; end: { offset: number } } };

function contains(container: SpannedContainer, offset: number): boolean {
  return container.span.start.offset <= offset && offset < container.span.end.offset;
}

/** The blocks and objects directly inside a statement (not those nested deeper). */
function innerContainers(statement: Statement): SpannedContainer[] {
  switch (statement.kind) {
    case 'Block':
      return [statement];
    case 'Assignment':
      return objectsIn(statement.value, []);
    default:
      return [];
  }
}

function objectsIn(expression: Expression, found: SpannedContainer[]): SpannedContainer[] {
  // iterative: a long operator chain is deep on the left
  const stack: Expression[] = [expression];
  while (stack.length > 0) {
    const e = stack.pop()!;
    switch (e.kind) {
      case 'Object':
        found.push(e);
        break;
      case 'List':
        stack.push(...e.items);
        break;
      case 'Call':
        stack.push(...e.args.map((a) => a.value));
        break;
      case 'Binary':
        stack.push(e.left, e.right);
        break;
      case 'Unary':
        stack.push(e.operand);
        break;
      case 'Parenthesized':
        stack.push(e.expression);
        break;
      default:
        break;
    }
  }
  return found;
}
