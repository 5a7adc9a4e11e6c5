// Offsets to line/column positions. The lexer only tracks offsets (cheaper); spans get their
// line and column from this table, so every span in a file is computed the same way.
import type { Position, Span } from './ast.ts';

export class LineMap {
  /** Offset of the first character of each line. */
  private readonly lineStarts: number[];

  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10 /* \n */) starts.push(i + 1);
      else if (ch === 13 /* \r */) {
        if (text.charCodeAt(i + 1) === 10) i++;
        starts.push(i + 1);
      }
    }
    this.lineStarts = starts;
  }

  position(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.lineStarts[mid]! <= clamped) low = mid;
      else high = mid - 1;
    }
    return { offset: clamped, line: low + 1, column: clamped - this.lineStarts[low]! + 1 };
  }

  /** A span from `start` (inclusive) to `end` (exclusive), both offsets. */
  span(start: number, end: number): Span {
    return { file: this.file, start: this.position(start), end: this.position(Math.max(start, end)) };
  }

  /** The column of the first non-space character on the line holding `offset`. */
  indentColumn(offset: number): number {
    const { line } = this.position(offset);
    let i = this.lineStarts[line - 1]!;
    while (this.text[i] === ' ' || this.text[i] === '\t') i++;
    return i - this.lineStarts[line - 1]! + 1;
  }

  /** True when a blank line separates `offset` from the previous non-space text. */
  hasBlankLineBefore(offset: number): boolean {
    let breaks = 0;
    for (let i = offset - 1; i >= 0; i--) {
      const ch = this.text.charCodeAt(i);
      if (ch === 10) {
        breaks++;
        if (this.text.charCodeAt(i - 1) === 13) i--;
      } else if (ch === 13) breaks++;
      else if (ch !== 32 && ch !== 9 && ch !== 12 && ch !== 11) return breaks >= 2;
    }
    return false; // the start of the file is not "a blank line before"
  }
}

/** Exclusive end offset of a token (the lexer tracks start offsets only). */
export function endOf(token: { startOffset: number; image: string }): number {
  return token.startOffset + token.image.length;
}
