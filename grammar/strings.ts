// String literal escapes: decoding what the user wrote, encoding what the printer writes.
// Allowed escapes: \" \\ \n \t \u{1F600}.

export interface EscapeProblem {
  /** Offset of the backslash, relative to the start of the literal's text. */
  offset: number;
  length: number;
  message: string;
}

const simpleEscapes: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t' };

/** Decodes a literal as written, quotes included; the closing quote may be missing. */
export function decodeString(image: string): { value: string; problems: EscapeProblem[] } {
  const problems: EscapeProblem[] = [];
  const end = image.length > 1 && image.endsWith('"') && !endsInsideEscape(image) ? image.length - 1 : image.length;
  let value = '';
  for (let i = 1; i < end; i++) {
    const ch = image[i]!;
    if (ch !== '\\') {
      value += ch;
      continue;
    }
    const next = image[i + 1];
    if (next !== undefined && next in simpleEscapes && i + 1 < end) {
      value += simpleEscapes[next];
      i++;
      continue;
    }
    if (next === 'u') {
      const match = /^\\u\{([0-9A-Fa-f]{1,6})\}/.exec(image.slice(i, end));
      const codePoint = match ? parseInt(match[1]!, 16) : NaN;
      if (match && codePoint <= 0x10ffff) {
        value += String.fromCodePoint(codePoint);
        i += match[0].length - 1;
        continue;
      }
      const length = match ? match[0].length : 2;
      problems.push({ offset: i, length, message: `invalid unicode escape '${image.slice(i, i + length)}'` });
      i += length - 1;
      continue;
    }
    const shown = next === undefined || i + 1 >= end ? '\\' : `\\${next}`;
    problems.push({ offset: i, length: shown.length, message: `invalid escape '${shown}' in string` });
    i += shown.length - 1;
  }
  return { value, problems };
}

/** `"abc\"` has no closing quote: the last quote is escaped. */
function endsInsideEscape(image: string): boolean {
  let backslashes = 0;
  for (let i = image.length - 2; i >= 0 && image[i] === '\\'; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** The literal the printer writes for `value`, quotes included. */
export function encodeString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) out += `\\u{${code.toString(16).toUpperCase()}}`;
    else out += ch;
  }
  return out + '"';
}
