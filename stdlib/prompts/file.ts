// Prompt files: a user's own prompts, one a line, UTF-8.
//
//   # lines starting with '#' (after leading spaces) are comments
//   a fox running through snow
//   (blank lines are skipped)
//
// A UTF-8 byte-order mark is stripped; \r\n, \n and lone \r all end a line; surrounding
// spaces are trimmed. A '#' later in a line is part of the prompt ("a sign saying #1").
// Errors name the file (and the line) and say what to do.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VplError } from '../../diagnostics/error.ts';

/** The longest prompt accepted, in characters (UTF-16 code units) after trimming. */
export const MAX_PROMPT_LENGTH = 1000;

export interface ReadPromptFileOptions {
  /** Folder a relative path is resolved against (the .vpl file's folder); default the working directory. */
  baseDir?: string;
}

/** Code for a prompt file that exists but cannot be used (empty, not UTF-8, a line too long). */
export const PROMPT_FILE_INVALID = 'VPL7060';

/** Parses prompt file text (already read); `file` is only used in messages. */
export function parsePromptText(text: string, file: string): string[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const prompts: string[] = [];
  const lines = body.split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.length > MAX_PROMPT_LENGTH) {
      throw new VplError(
        PROMPT_FILE_INVALID,
        `line ${index + 1} of prompt file '${file}' is ${line.length} characters long; a prompt may have at most ${MAX_PROMPT_LENGTH}`,
        { file, help: `shorten line ${index + 1}, or split it into several prompts (one per line)` },
      );
    }
    prompts.push(line);
  });
  if (prompts.length === 0) {
    throw new VplError(PROMPT_FILE_INVALID, `prompt file '${file}' has no prompts (only blank lines and # comments)`, {
      file,
      help: 'write one prompt per line; lines starting with # are comments',
    });
  }
  return prompts;
}

/** The prompts in a text file; throws a VplError naming the file (and line) when it cannot be used. */
export function readPromptFile(file: string, options: ReadPromptFileOptions = {}): string[] {
  const baseDir = options.baseDir ?? process.cwd();
  const resolved = path.resolve(baseDir, file);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(resolved);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const where = path.isAbsolute(file) ? resolved : `${resolved} (relative to ${baseDir})`;
      throw new VplError('VPL7001', `prompt file '${file}' not found: looked for ${where}`, {
        file,
        help: 'check the path; a relative path is resolved from the folder of the .vpl file',
        cause: error,
      });
    }
    if (code === 'EISDIR') {
      throw new VplError(PROMPT_FILE_INVALID, `prompt file '${file}' is a folder (${resolved}), not a text file`, {
        file,
        help: 'name a text file with one prompt per line',
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new VplError('VPL7002', `permission denied reading prompt file '${file}' (${resolved})`, { file, cause: error });
    }
    throw new VplError('VPL7004', `could not read prompt file '${file}' (${resolved}): ${(error as Error).message}`, { file, cause: error });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new VplError(PROMPT_FILE_INVALID, `prompt file '${file}' is not valid UTF-8 text`, {
      file,
      help: 'save the file as UTF-8',
      cause: error,
    });
  }
  return parsePromptText(text, file);
}
