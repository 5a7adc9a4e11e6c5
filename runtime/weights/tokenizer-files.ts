// Finds and reads the CLIP tokenizer files of a model (the tokenizer itself, which takes file
// contents, is stdlib/models/clip/bpe-tokenizer.ts).
//
// Where they are looked for, first found wins:
// - `tokenizer` given (a pipeline's `tokenizer = "..."`, relative to `baseDir`): that file, or
//   that folder (and its tokenizer/ subfolder);
// - otherwise next to the weights: in `<dir>/tokenizer/` (a diffusers folder, e.g. ModelScope's
//   text-to-video-ms-1.7b), then `<dir>` itself, then, when `<dir>` is a diffusers component
//   folder (text_encoder/, unet/, ...), its sibling `../tokenizer/`; `<dir>` is the weights path
//   when it is a folder, else the folder holding the weights file.
// In each folder: tokenizer.json (Hugging Face fast tokenizer), vocab.json + merges.txt (the
// slow CLIPTokenizer's files), bpe_simple_vocab_16e6.txt.gz (open_clip / OpenAI CLIP; also
// accepted unzipped). tokenizer_config.json and special_tokens_map.json beside tokenizer.json or
// vocab.json are read when present (they name the pad token).
//
// Missing or unusable files are VPL7135 (read errors keep their VPL700x codes).
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VplError } from '../../diagnostics/error.ts';
import { ioError } from '../fs/io-error.ts';
import {
  ClipBpeTokenizer,
  ClipTokenizerFormatError,
  createClipTokenizer,
  type ClipTokenizerOptions,
  type ClipTokenizerPart,
  type ClipTokenizerSource,
} from '../../stdlib/models/clip/bpe-tokenizer.ts';

const CODE = 'VPL7135';

export const OPEN_CLIP_BPE_FILE = 'bpe_simple_vocab_16e6.txt.gz';
const COMPONENT_FOLDERS = new Set(['text_encoder', 'unet', 'vae', 'transformer', 'scheduler']);

const HELP =
  "copy the model's tokenizer next to its weights: the tokenizer/ folder of its Hugging Face repository " +
  '(tokenizer.json, or vocab.json + merges.txt, with tokenizer_config.json), or open_clip\'s bpe_simple_vocab_16e6.txt.gz ' +
  '(shipped in the open_clip_torch package, open_clip/, and in OpenAI CLIP, clip/); or give its path with tokenizer = "..."';

export type TokenizerFormat = ClipTokenizerSource['format'];

export interface TokenizerFiles {
  format: TokenizerFormat;
  /** tokenizer.json / vocab.json / the bpe file. */
  main: string;
  /** merges.txt for 'vocab+merges'. */
  merges?: string;
  tokenizerConfig?: string;
  specialTokensMap?: string;
}

export interface FindTokenizerOptions {
  /** An explicit tokenizer file or folder (the pipeline's `tokenizer = "..."`). */
  tokenizer?: string;
  /** What a relative `tokenizer` is resolved against (the pipeline's folder); default the current folder. */
  baseDir?: string;
  /** The file errors are reported against when no tokenizer file is found (the pipeline file). */
  reportFile?: string;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function withConfigs(files: TokenizerFiles, dir: string): TokenizerFiles {
  const config = path.join(dir, 'tokenizer_config.json');
  const map = path.join(dir, 'special_tokens_map.json');
  if (isFile(config)) files.tokenizerConfig = config;
  if (isFile(map)) files.specialTokensMap = map;
  return files;
}

/** The tokenizer files in one folder, or undefined. */
function inFolder(dir: string): TokenizerFiles | undefined {
  const json = path.join(dir, 'tokenizer.json');
  if (isFile(json)) return withConfigs({ format: 'tokenizer.json', main: json }, dir);
  const vocab = path.join(dir, 'vocab.json');
  const merges = path.join(dir, 'merges.txt');
  if (isFile(vocab) && isFile(merges)) return withConfigs({ format: 'vocab+merges', main: vocab, merges }, dir);
  for (const name of [OPEN_CLIP_BPE_FILE, 'bpe_simple_vocab_16e6.txt']) {
    const bpe = path.join(dir, name);
    if (isFile(bpe)) return { format: 'open_clip', main: bpe };
  }
  return undefined;
}

function notFound(message: string, file: string): VplError {
  return new VplError(CODE, message, { file, help: HELP });
}

/** An explicitly named tokenizer file: its format from its name. */
function namedFile(file: string): TokenizerFiles {
  const dir = path.dirname(file);
  const base = path.basename(file);
  if (base === 'vocab.json' || base === 'merges.txt') {
    const vocab = path.join(dir, 'vocab.json');
    const merges = path.join(dir, 'merges.txt');
    const other = base === 'vocab.json' ? merges : vocab;
    if (!isFile(other)) throw notFound(`the tokenizer ${file} needs ${path.basename(other)} beside it: ${other} does not exist`, file);
    return withConfigs({ format: 'vocab+merges', main: vocab, merges }, dir);
  }
  if (base.endsWith('.json')) return withConfigs({ format: 'tokenizer.json', main: file }, dir);
  if (base.endsWith('.gz') || base.endsWith('.txt')) return { format: 'open_clip', main: file };
  throw notFound(`cannot tell what kind of tokenizer file ${file} is: expected tokenizer.json, vocab.json, merges.txt or bpe_simple_vocab_16e6.txt.gz`, file);
}

/** Where the CLIP tokenizer of the model whose weights are at `weightsPath` is (VPL7135 when nowhere). */
export function findTokenizerFiles(weightsPath: string, options: FindTokenizerOptions = {}): TokenizerFiles {
  if (options.tokenizer !== undefined) {
    const given = path.resolve(options.baseDir ?? process.cwd(), options.tokenizer);
    if (isFile(given)) return namedFile(given);
    if (isDir(given)) {
      const found = inFolder(path.join(given, 'tokenizer')) ?? inFolder(given);
      if (found) return found;
      throw notFound(`no CLIP tokenizer files in ${given} (tokenizer = "${options.tokenizer}"): expected tokenizer.json, vocab.json + merges.txt, or ${OPEN_CLIP_BPE_FILE}`, options.reportFile ?? given);
    }
    throw notFound(`the tokenizer ${given} does not exist (tokenizer = "${options.tokenizer}")`, options.reportFile ?? given);
  }
  const weights = path.resolve(weightsPath);
  const dir = isDir(weights) ? weights : path.dirname(weights);
  const folders = [path.join(dir, 'tokenizer'), dir];
  if (COMPONENT_FOLDERS.has(path.basename(dir))) folders.push(path.join(path.dirname(dir), 'tokenizer'));
  for (const folder of folders) {
    const found = inFolder(folder);
    if (found) return found;
  }
  throw notFound(
    `no CLIP tokenizer files for the weights ${weights}: expected tokenizer.json, vocab.json + merges.txt, or ${OPEN_CLIP_BPE_FILE} in ${folders.join(' or ')}`,
    options.reportFile ?? weights,
  );
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (error) {
    throw ioError(error, file, 'read');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Uint8Array, file: string): string {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new VplError(CODE, `the tokenizer file ${file} is not UTF-8 text`, { file, help: HELP, cause: error });
  }
}

async function readText(file: string): Promise<string> {
  return decodeText(await readBytes(file), file);
}

/** The bpe file's text: gunzipped when it starts with gzip's magic bytes, whatever its name. */
async function readBpe(file: string): Promise<string> {
  const bytes = await readBytes(file);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return decodeText(bytes, file);
  let text: Uint8Array;
  try {
    text = gunzipSync(bytes);
  } catch (error) {
    throw new VplError(CODE, `the tokenizer file ${file} is not a valid gzip file (${(error as Error).message})`, { file, help: HELP, cause: error });
  }
  return decodeText(text, file);
}

/** The contents of the files, as createClipTokenizer takes them. */
export async function readTokenizerSource(files: TokenizerFiles): Promise<ClipTokenizerSource> {
  const config = files.tokenizerConfig === undefined ? undefined : await readText(files.tokenizerConfig);
  const map = files.specialTokensMap === undefined ? undefined : await readText(files.specialTokensMap);
  const extras = { ...(config !== undefined ? { tokenizerConfig: config } : {}), ...(map !== undefined ? { specialTokensMap: map } : {}) };
  switch (files.format) {
    case 'tokenizer.json':
      return { format: 'tokenizer.json', tokenizerJson: await readText(files.main), ...extras };
    case 'vocab+merges':
      return { format: 'vocab+merges', vocabJson: await readText(files.main), mergesTxt: await readText(files.merges!), ...extras };
    case 'open_clip':
      return { format: 'open_clip', mergesTxt: await readBpe(files.main) };
  }
}

function partPath(files: TokenizerFiles, part: ClipTokenizerPart): string {
  switch (part) {
    case 'merges.txt':
      return files.merges ?? files.main;
    case 'tokenizer_config.json':
      return files.tokenizerConfig ?? files.main;
    case 'special_tokens_map.json':
      return files.specialTokensMap ?? files.main;
    default:
      return files.main;
  }
}

export interface LoadedTokenizer {
  tokenizer: ClipBpeTokenizer;
  files: TokenizerFiles;
}

/** Finds, reads and builds the CLIP tokenizer of a model; every failure is a VplError. */
export async function loadClipTokenizer(weightsPath: string, options: FindTokenizerOptions & ClipTokenizerOptions = {}): Promise<LoadedTokenizer> {
  const files = findTokenizerFiles(weightsPath, options);
  const source = await readTokenizerSource(files);
  const { tokenizer: _t, baseDir: _b, reportFile: _r, ...tokenizerOptions } = options;
  try {
    return { tokenizer: createClipTokenizer(source, tokenizerOptions), files };
  } catch (error) {
    if (error instanceof ClipTokenizerFormatError) {
      const file = partPath(files, error.part);
      throw new VplError(CODE, `the tokenizer file ${file} cannot be used: it ${error.message}`, { file, help: HELP, cause: error });
    }
    throw error;
  }
}
