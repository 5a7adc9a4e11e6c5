import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { MAX_PROMPT_LENGTH, parsePromptText, promptFileSet, readPromptFile } from '../../../stdlib/prompts/index.ts';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-prompts-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string | Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

/** The VplError a call throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): VplError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(VplError);
    return error as VplError;
  }
  throw new Error('expected a VplError');
}

describe('readPromptFile', () => {
  it('reads one prompt a line, skipping blank lines and # comments, trimming spaces', () => {
    write('basic.txt', '# my prompts\n\na fox in snow\n   # indented comment\n  a cat on a roof  \n\n\ta sign saying #1\n');
    expect(readPromptFile('basic.txt', { baseDir: dir })).toEqual(['a fox in snow', 'a cat on a roof', 'a sign saying #1']);
  });

  it('strips a UTF-8 BOM and handles CRLF, lone CR and no final newline', () => {
    const file = write('crlf.txt', '\ufeff# header\r\nfirst prompt\r\nsecond prompt\rthird — with ünïcödé\r\nlast');
    expect(readPromptFile(file)).toEqual(['first prompt', 'second prompt', 'third — with ünïcödé', 'last']);
    // The BOM is not glued onto a first line that is a prompt.
    write('bom.txt', '\ufeffa prompt\n');
    expect(readPromptFile('bom.txt', { baseDir: dir })).toEqual(['a prompt']);
  });

  it('names the missing file and where it was looked for', () => {
    const error = thrown(() => readPromptFile('nope/prompts.txt', { baseDir: dir }));
    expect(error.code).toBe('VPL7001');
    expect(error.message).toContain("'nope/prompts.txt'");
    expect(error.message).toContain(path.join(dir, 'nope', 'prompts.txt'));
    expect(error.message).toContain(`relative to ${dir}`);
    expect(error.file).toBe('nope/prompts.txt');
    const absolute = path.join(dir, 'absent.txt');
    expect(thrown(() => readPromptFile(absolute)).message).toBe(`prompt file '${absolute}' not found: looked for ${absolute}`);
  });

  it('says an empty file has no prompts', () => {
    for (const [name, content] of [['empty.txt', ''], ['comments.txt', '# only\n\n   \n# comments\r\n'], ['bomonly.txt', '\ufeff']]) {
      write(name!, content!);
      const error = thrown(() => readPromptFile(name!, { baseDir: dir }));
      expect(error.message).toBe(`prompt file '${name}' has no prompts (only blank lines and # comments)`);
      expect(error.help).toMatch(/one prompt per line/);
    }
  });

  it('names a line over 1000 characters', () => {
    const ok = 'x'.repeat(MAX_PROMPT_LENGTH);
    write('long.txt', `# c\nshort\n${ok}\n\n${'y'.repeat(MAX_PROMPT_LENGTH + 1)}\n`);
    const error = thrown(() => readPromptFile('long.txt', { baseDir: dir }));
    expect(error.message).toBe(`line 5 of prompt file 'long.txt' is 1001 characters long; a prompt may have at most 1000`);
    expect(error.help).toMatch(/line 5/);
    write('ok.txt', `${ok}\n`);
    expect(readPromptFile('ok.txt', { baseDir: dir })).toEqual([ok]);
    // Line numbers count CRLF line ends once.
    expect(() => parsePromptText(`a\r\nb\r\n${'z'.repeat(1001)}`, 'f.txt')).toThrow(/^line 3 of prompt file 'f.txt'/);
  });

  it('refuses folders and text that is not UTF-8', () => {
    fs.mkdirSync(path.join(dir, 'folder.txt'), { recursive: true });
    expect(thrown(() => readPromptFile('folder.txt', { baseDir: dir })).message).toMatch(/is a folder/);
    write('latin1.txt', Uint8Array.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(thrown(() => readPromptFile('latin1.txt', { baseDir: dir })).message).toBe("prompt file 'latin1.txt' is not valid UTF-8 text");
  });

  it('makes a prompt set of the file', () => {
    write('set.txt', 'one\ntwo\nthree\n');
    const set = promptFileSet('set.txt', { baseDir: dir });
    expect(set.size).toBe(3);
    expect(set.list).toEqual(['one', 'two', 'three']);
    expect(set.sample({ uniform: () => 0.5 })).toBe('two');
  });
});
