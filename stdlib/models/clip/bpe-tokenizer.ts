// CLIP's byte-level BPE tokenizer, the one the OpenCLIP ViT-H/14 text tower of VideoCrafter2
// and ModelScope T2V's text encoder were trained with, built from the CONTENTS of the files
// users have (runtime/weights/tokenizer-files.ts finds and reads them):
//
//   'tokenizer.json'  a Hugging Face fast tokenizer (e.g. a diffusers folder's tokenizer/),
//                     with its tokenizer_config.json / special_tokens_map.json if present;
//   'vocab+merges'    Hugging Face's vocab.json + merges.txt (the slow CLIPTokenizer's files);
//   'open_clip'       the text of open_clip's / OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz
//                     (the caller gunzips): a header line, then one merge per line.
//
// The BPE itself is @huggingface/tokenizers (Tokenizers.js, pure JS): for the last two formats
// a CLIP tokenizer.json is built in memory (the layout of transformers' CLIPConverter in
// `convert_slow_tokenizer.py`: BPE with end_of_word_suffix '</w>', a Split pre-tokenizer on
// CLIP's regex, then ByteLevel without its own regex).
//
// Facts this follows (mlfoundations/open_clip `src/open_clip/tokenizer.py`, openai/CLIP
// `clip/simple_tokenizer.py`, huggingface/transformers `tokenization_clip.py`):
// - text is cleaned first (text-clean.ts: ftfy, HTML unescape, whitespace collapse, lower case);
// - pre-tokens: `'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`: contractions,
//   runs of letters, digits one at a time, runs of other non-space characters; whitespace
//   separates and is dropped; each pre-token's UTF-8 bytes are mapped to printable characters
//   (bytes_to_unicode) and its last symbol gets the end-of-word suffix '</w>' before merging;
// - the open_clip vocabulary is the 256 byte characters, the same with '</w>', one entry per
//   merge (the two halves joined), then the start and end tokens. open_clip reads merges
//   1 .. 49152-256-2 of the file (48,894), so the ids are 512 + 48,894 = 49,406 (start) and
//   49,407 (end), 49,408 in all;
// - a prompt is [start] ids [end] in `context_length` (77) slots; a longer one is cut to 77 and
//   its last slot set to the end token, so the end token is always there;
// - padding: open_clip pads with 0 (which is the byte character '!'); Hugging Face's
//   CLIPTokenizer pads with its `pad_token`: '<|endoftext|>' by default, '!' (id 0) in the
//   folders converted from OpenCLIP models that set it in tokenizer_config.json.
// OpenAI names the special tokens '<|startoftext|>' / '<|endoftext|>', open_clip
// '<start_of_text>' / '<end_of_text>'; only their ids matter to the model, and the open_clip
// vocabulary built here uses the OpenAI names (those of Hugging Face's vocab.json).
import { Tokenizer } from '@huggingface/tokenizers';
import { cleanText, type CleanMode } from './text-clean.ts';
import type { TextTokenizer } from './text-tokenizer.ts';

export const CLIP_START_TOKEN = '<|startoftext|>';
export const CLIP_END_TOKEN = '<|endoftext|>';
export const CLIP_END_OF_WORD = '</w>';
export const CLIP_CONTEXT_LENGTH = 77;
/** Merges open_clip reads from bpe_simple_vocab_16e6.txt (lines 1 .. 49152-256-2 after the header). */
export const OPEN_CLIP_MERGES = 49152 - 256 - 2;
/** CLIP's pre-tokenizer pattern (Oniguruma syntax, as in tokenizer.json). */
export const CLIP_PRETOKENIZE_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** Which file the problem is in, so the runtime can name it. */
export type ClipTokenizerPart = 'tokenizer.json' | 'tokenizer_config.json' | 'special_tokens_map.json' | 'vocab.json' | 'merges.txt' | 'bpe_simple_vocab';

/** A tokenizer file whose contents cannot be used (the runtime turns it into VPL7135). */
export class ClipTokenizerFormatError extends Error {
  constructor(
    readonly part: ClipTokenizerPart,
    message: string,
  ) {
    super(message);
    this.name = 'ClipTokenizerFormatError';
  }
}

export type ClipTokenizerSource =
  | { format: 'tokenizer.json'; tokenizerJson: string; tokenizerConfig?: string; specialTokensMap?: string }
  | { format: 'vocab+merges'; vocabJson: string; mergesTxt: string; tokenizerConfig?: string; specialTokensMap?: string }
  | { format: 'open_clip'; mergesTxt: string };

/** 'zero': open_clip's 0; 'eot': the end token; a number: that id; a string: that token. */
export type PadSpec = 'zero' | 'eot' | number | string;

export interface ClipTokenizerOptions {
  /** Default 77. */
  contextLength?: number;
  /**
   * Default: 'zero' for 'open_clip'; for the Hugging Face formats the `pad_token` of
   * tokenizer_config.json / special_tokens_map.json, else tokenizer.json's padding, else 'eot'.
   * A model must be fed the padding it was trained with: VideoCrafter2's FrozenOpenCLIPEmbedder
   * calls open_clip.tokenize, so 0, whatever files the tokenizer is read from.
   */
  pad?: PadSpec;
  /** Default 'lower' (CLIP's and open_clip's). */
  clean?: CleanMode;
  /** 'open_clip' only: how many merges after the header line are read (default OPEN_CLIP_MERGES). */
  maxMerges?: number;
}

// ---------------------------------------------------------------- byte characters

/**
 * GPT-2 / CLIP `bytes_to_unicode`: byte b -> a printable character. The printable Latin-1 bytes
 * ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the other 68 to U+0100.. in byte order.
 * Index i of the returned list is the character of vocabulary id i in open_clip's layout.
 */
export function byteCharacters(): { byteOf: Map<string, number>; charOf: string[]; vocabOrder: string[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const order = [...printable];
  const charOf: string[] = new Array(256);
  for (const b of printable) charOf[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (charOf[b] === undefined) {
      charOf[b] = String.fromCharCode(256 + n++);
      order.push(b);
    }
  }
  return { byteOf: new Map(charOf.map((c, b) => [c, b])), charOf, vocabOrder: order.map((b) => charOf[b]!) };
}

// ---------------------------------------------------------------- file contents

function parseJson(part: ClipTokenizerPart, text: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new ClipTokenizerFormatError(part, `is not valid JSON (${(error as Error).message})`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merge lines as 'a b' strings: blank lines dropped, each must have exactly two halves. */
function mergeLines(part: ClipTokenizerPart, lines: string[], firstLine: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const halves = line.trim().split(/\s+/);
    if (halves.length !== 2) throw new ClipTokenizerFormatError(part, `has a bad line ${firstLine + i}: a merge is two symbols separated by a space, got ${JSON.stringify(line.slice(0, 60))}`);
    out.push(`${halves[0]} ${halves[1]}`);
  }
  return out;
}

/** Hugging Face merges.txt: an optional '#version' header, then one merge per line. */
export function parseMergesTxt(text: string): string[] {
  const lines = text.split('\n');
  const skip = lines[0]?.startsWith('#version') ? 1 : 0;
  return mergeLines('merges.txt', lines.slice(skip), skip + 1);
}

/**
 * open_clip's vocabulary from bpe_simple_vocab_16e6.txt: the header line is skipped, the next
 * `maxMerges` lines are the merges; ids as described at the top of this file.
 */
export function openClipVocabulary(mergesTxt: string, maxMerges = OPEN_CLIP_MERGES): { vocab: string[]; merges: string[] } {
  const lines = mergesTxt.split('\n');
  if (lines.length < 2) throw new ClipTokenizerFormatError('bpe_simple_vocab', 'has no merges after its header line');
  const merges = mergeLines('bpe_simple_vocab', lines.slice(1, 1 + maxMerges), 2);
  const bytes = byteCharacters().vocabOrder;
  const vocab = [...bytes, ...bytes.map((c) => c + CLIP_END_OF_WORD), ...merges.map((m) => m.replace(' ', '')), CLIP_START_TOKEN, CLIP_END_TOKEN];
  return { vocab, merges };
}

function tokenName(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

/** bos/eos/pad token names from tokenizer_config.json, then special_tokens_map.json. */
function specialNames(tokenizerConfig: string | undefined, specialTokensMap: string | undefined): { bos?: string; eos?: string; pad?: string; padFrom?: ClipTokenizerPart } {
  const out: { bos?: string; eos?: string; pad?: string; padFrom?: ClipTokenizerPart } = {};
  for (const [part, text] of [['special_tokens_map.json', specialTokensMap], ['tokenizer_config.json', tokenizerConfig]] as const) {
    if (text === undefined) continue;
    const json = parseJson(part, text);
    if (!isRecord(json)) throw new ClipTokenizerFormatError(part, 'is not a JSON object');
    const bos = tokenName(json.bos_token);
    const eos = tokenName(json.eos_token);
    const pad = tokenName(json.pad_token);
    if (bos !== undefined) out.bos = bos;
    if (eos !== undefined) out.eos = eos;
    if (pad !== undefined) {
      out.pad = pad;
      out.padFrom = part;
    }
  }
  return out;
}

// ---------------------------------------------------------------- the in-memory tokenizer.json

function addedToken(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** A CLIP tokenizer.json (CLIPConverter's layout, without normalizer: text-clean.ts does that). */
function clipTokenizerJson(vocab: Record<string, number>, merges: string[], start: string, end: string): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(vocab[start]!, start), addedToken(vocab[end]!, end)],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_PRETOKENIZE_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: end, continuing_subword_prefix: '', end_of_word_suffix: CLIP_END_OF_WORD, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

// ---------------------------------------------------------------- the tokenizer

export type ClipTokenizerFormat = ClipTokenizerSource['format'];

export class ClipBpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly sotId: number;
  readonly eotId: number;
  readonly padId: number;
  readonly contextLength: number;
  readonly clean: CleanMode;

  constructor(
    readonly format: ClipTokenizerFormat,
    private readonly tokenizer: Tokenizer,
    ids: { sot: number; eot: number; pad: number; vocabSize: number },
    options: { contextLength: number; clean: CleanMode },
  ) {
    this.sotId = ids.sot;
    this.eotId = ids.eot;
    this.padId = ids.pad;
    this.vocabSize = ids.vocabSize;
    this.contextLength = options.contextLength;
    this.clean = options.clean;
  }

  /** The BPE token strings of `text` after clean-up, without start/end tokens. */
  tokens(text: string): string[] {
    return this.tokenizer.tokenize(cleanText(text, this.clean));
  }

  /** The ids of `text` after clean-up, without start/end tokens and not truncated. */
  encode(text: string): number[] {
    const cleaned = cleanText(text, this.clean);
    return cleaned.length === 0 ? [] : this.tokenizer.encode(cleaned, { add_special_tokens: false }).ids;
  }

  /** [start] ids [end] [pad]...: `contextLength` ids; a long text is cut and ends with [end] (open_clip). */
  tokenize(text: string, contextLength = this.contextLength): BigInt64Array {
    const out = new BigInt64Array(checkContextLength(contextLength));
    this.writeRow(text, out, 0, contextLength);
    return out;
  }

  /** Several texts as one [N, contextLength] row-major array. */
  tokenizeBatch(texts: readonly string[], contextLength = this.contextLength): BigInt64Array {
    const out = new BigInt64Array(texts.length * checkContextLength(contextLength));
    texts.forEach((t, i) => this.writeRow(t, out, i * contextLength, contextLength));
    return out;
  }

  private writeRow(text: string, out: BigInt64Array, at: number, contextLength: number): void {
    const body = this.encode(text);
    const n = Math.min(body.length, contextLength - 2);
    out[at] = BigInt(this.sotId);
    for (let i = 0; i < n; i++) out[at + 1 + i] = BigInt(body[i]!);
    out[at + 1 + n] = BigInt(this.eotId);
    if (this.padId !== 0) out.fill(BigInt(this.padId), at + 2 + n, at + contextLength);
  }

  /** The text of the ids between [start] and the first [end] (open_clip's decode, '</w>' -> ' ', trimmed). */
  detokenize(tokens: ArrayLike<bigint | number>): string {
    const ids: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const id = Number(tokens[i]);
      if (id === this.eotId) break;
      if (i === 0 && id === this.sotId) continue;
      ids.push(id);
    }
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }).trim();
  }

  /** Byte-level BPE represents every text. */
  unknownWords(_text: string): string[] {
    return [];
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}

function checkContextLength(contextLength: number): number {
  if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`tokenize: the context length must be an integer >= 2, got ${contextLength}`);
  return contextLength;
}

function resolvePad(pad: PadSpec, eot: number, lookup: (token: string) => number | undefined, vocabSize: number): number {
  if (pad === 'zero') return 0;
  if (pad === 'eot') return eot;
  if (typeof pad === 'number') {
    if (!Number.isInteger(pad) || pad < 0 || pad >= vocabSize) throw new Error(`pad id ${pad} is outside the vocabulary (0..${vocabSize - 1})`);
    return pad;
  }
  const id = lookup(pad);
  if (id === undefined) throw new Error(`pad token ${JSON.stringify(pad)} is not in the vocabulary`);
  return id;
}

function build(
  format: ClipTokenizerFormat,
  json: Record<string, unknown>,
  names: { bos: string; eos: string; pad?: string; padFrom?: ClipTokenizerPart },
  defaultPad: PadSpec,
  options: ClipTokenizerOptions,
  part: ClipTokenizerPart,
): ClipBpeTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, {});
  } catch (error) {
    throw new ClipTokenizerFormatError(part, `cannot be built into a tokenizer (${(error as Error).message})`);
  }
  const sot = tokenizer.token_to_id(names.bos);
  const eot = tokenizer.token_to_id(names.eos);
  if (sot === undefined) throw new ClipTokenizerFormatError(part, `has no start token ${JSON.stringify(names.bos)}`);
  if (eot === undefined) throw new ClipTokenizerFormatError(part, `has no end token ${JSON.stringify(names.eos)}`);
  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  let pad: number;
  try {
    pad = resolvePad(options.pad ?? names.pad ?? defaultPad, eot, (t) => tokenizer.token_to_id(t), vocabSize);
  } catch (error) {
    if (options.pad !== undefined) throw error;
    throw new ClipTokenizerFormatError(names.padFrom ?? part, `names the pad token ${JSON.stringify(names.pad)}, which is not in the vocabulary`);
  }
  return new ClipBpeTokenizer(format, tokenizer, { sot, eot, pad, vocabSize }, { contextLength: checkContextLength(options.contextLength ?? CLIP_CONTEXT_LENGTH), clean: options.clean ?? 'lower' });
}

function fromTokenizerJson(text: string, tokenizerConfig: string | undefined, specialTokensMap: string | undefined, options: ClipTokenizerOptions): ClipBpeTokenizer {
  const json = parseJson('tokenizer.json', text);
  if (!isRecord(json) || !isRecord(json.model)) throw new ClipTokenizerFormatError('tokenizer.json', 'is not a Hugging Face tokenizer.json (no "model" object)');
  const model = json.model;
  const type = model.type ?? (model.merges !== undefined ? 'BPE' : undefined);
  if (type !== 'BPE') throw new ClipTokenizerFormatError('tokenizer.json', `is a ${String(type)} tokenizer, not CLIP's byte-level BPE`);
  if (model.end_of_word_suffix !== CLIP_END_OF_WORD) {
    throw new ClipTokenizerFormatError('tokenizer.json', `is a BPE tokenizer without CLIP's '${CLIP_END_OF_WORD}' end-of-word suffix (end_of_word_suffix ${JSON.stringify(model.end_of_word_suffix ?? null)}): not a CLIP tokenizer`);
  }
  if (!isRecord(model.vocab) || !Array.isArray(model.merges)) throw new ClipTokenizerFormatError('tokenizer.json', 'has no model.vocab object or model.merges list');
  const full: Record<string, unknown> = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, ...json, added_tokens: Array.isArray(json.added_tokens) ? json.added_tokens : [] };
  const names = specialNames(tokenizerConfig, specialTokensMap);
  const padding = isRecord(json.padding) && typeof json.padding.pad_token === 'string' ? json.padding.pad_token : undefined;
  const pad = names.pad ?? padding;
  return build('tokenizer.json', full, { bos: names.bos ?? CLIP_START_TOKEN, eos: names.eos ?? CLIP_END_TOKEN, ...(pad !== undefined ? { pad, padFrom: names.padFrom ?? 'tokenizer.json' } : {}) }, 'eot', options, 'tokenizer.json');
}

function fromVocabMerges(vocabJson: string, mergesTxt: string, tokenizerConfig: string | undefined, specialTokensMap: string | undefined, options: ClipTokenizerOptions): ClipBpeTokenizer {
  const vocab = parseJson('vocab.json', vocabJson);
  if (!isRecord(vocab)) throw new ClipTokenizerFormatError('vocab.json', 'is not a JSON object of token -> id');
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new ClipTokenizerFormatError('vocab.json', `token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, not a non-negative integer`);
  }
  const ids = vocab as Record<string, number>;
  const merges = parseMergesTxt(mergesTxt);
  const names = specialNames(tokenizerConfig, specialTokensMap);
  const bos = names.bos ?? CLIP_START_TOKEN;
  const eos = names.eos ?? CLIP_END_TOKEN;
  if (ids[bos] === undefined) throw new ClipTokenizerFormatError('vocab.json', `has no start token ${JSON.stringify(bos)}`);
  if (ids[eos] === undefined) throw new ClipTokenizerFormatError('vocab.json', `has no end token ${JSON.stringify(eos)}`);
  return build('vocab+merges', clipTokenizerJson(ids, merges, bos, eos), { bos, eos, ...(names.pad !== undefined ? { pad: names.pad, padFrom: names.padFrom! } : {}) }, 'eot', options, 'vocab.json');
}

function fromOpenClip(mergesTxt: string, options: ClipTokenizerOptions): ClipBpeTokenizer {
  const { vocab, merges } = openClipVocabulary(mergesTxt, options.maxMerges);
  const ids: Record<string, number> = {};
  vocab.forEach((token, id) => (ids[token] = id));
  return build('open_clip', clipTokenizerJson(ids, merges, CLIP_START_TOKEN, CLIP_END_TOKEN), { bos: CLIP_START_TOKEN, eos: CLIP_END_TOKEN }, 'zero', options, 'bpe_simple_vocab');
}

/** A CLIP tokenizer from file contents; throws ClipTokenizerFormatError naming the bad file. */
export function createClipTokenizer(source: ClipTokenizerSource, options: ClipTokenizerOptions = {}): ClipBpeTokenizer {
  switch (source.format) {
    case 'tokenizer.json':
      return fromTokenizerJson(source.tokenizerJson, source.tokenizerConfig, source.specialTokensMap, options);
    case 'vocab+merges':
      return fromVocabMerges(source.vocabJson, source.mergesTxt, source.tokenizerConfig, source.specialTokensMap, options);
    case 'open_clip':
      return fromOpenClip(source.mergesTxt, options);
  }
}
