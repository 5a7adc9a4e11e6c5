// The prompts' tokenizer of a run, decided once from the model build (ModelBuild.tokenizer):
//
//   the tiny CLIP text tower   the tiny world's word tokenizer (tiny_vc, every --tiny run);
//   a real CLIP text tower     CLIP's byte-level BPE read from the model's files: the pipeline's
//                              `tokenizer = "..."` (relative to the pipeline's folder), else the
//                              files next to the weights (runtime/weights/tokenizer-files.ts);
//                              VPL7135 when there are none, naming what was looked for and where.
//
// The padding is the model's, not the files': VideoCrafter2 pads with 0 as open_clip.tokenize
// does, ModelScope (diffusers) with the pad token its tokenizer files name, else the end token
// (the facts are cited at TextTokenizerSpec, stdlib/models/clip/config.ts).
import * as path from 'node:path';
import type { Plan } from '../../../compiler/plan.ts';
import { VplError } from '../../../diagnostics/error.ts';
import type { ClipBpeTokenizer, PadSpec } from '../../../stdlib/models/clip/bpe-tokenizer.ts';
import { tinyClipConfig } from '../../../stdlib/models/clip/config.ts';
import { type TextTokenizer, tinyTextTokenizer } from '../../../stdlib/models/clip/text-tokenizer.ts';
import type { ModelBuild } from '../../../stdlib/models/registry.ts';
import { findTokenizerFiles, loadClipTokenizer, type TokenizerFiles } from '../../weights/tokenizer-files.ts';

/** What the text conditioning needs from a tokenizer. */
export interface PromptTokenizer {
  /** What it is and where it came from (for messages). */
  readonly description: string;
  /** Ids per prompt: the `tokens` width of the text_encode graph. */
  readonly contextLength: number;
  /** [B, contextLength] int64 ids, row-major: [start] ids [end] [pad]... per prompt. */
  encode(prompts: readonly string[]): BigInt64Array;
  /** Words of `prompt` the tokenizer cannot represent (none for byte-level BPE). */
  unknown(prompt: string): string[];
}

/** A PromptTokenizer over any TextTokenizer, at its own context length. */
export function promptTokenizerOf(tokenizer: TextTokenizer, description: string): PromptTokenizer {
  const contextLength = tokenizer.contextLength;
  return {
    description,
    contextLength,
    encode: (prompts) => tokenizer.tokenizeBatch(prompts, contextLength),
    unknown: (prompt) => tokenizer.unknownWords(prompt),
  };
}

/** The tiny world's word tokenizer (16 ids, the tiny CLIP's context). */
export const tinyPromptTokenizer: PromptTokenizer = promptTokenizerOf(tinyTextTokenizer, 'the tiny world word tokenizer');

/** Whether the build's text tower is the tiny world's CLIP (whose ids only the tiny tokenizer gives). */
export function hasTinyText(build: ModelBuild): boolean {
  return build.text.name === tinyClipConfig.name;
}

/**
 * The `pad` option the BPE loader gets: 'from-files' is the files' pad token with the end token as
 * the fallback; the loader's own fallback for open_clip's file (which names none) would be 0.
 */
function padOption(pad: 'zero' | 'from-files', files: TokenizerFiles): PadSpec | undefined {
  if (pad === 'zero') return 'zero';
  return files.format === 'open_clip' ? 'eot' : undefined;
}

function padName(tokenizer: ClipBpeTokenizer): string {
  return tokenizer.padId === tokenizer.eotId ? `the end token ${tokenizer.eotId}` : `${tokenizer.padId}`;
}

/**
 * The tokenizer of a run of `plan` on `build`. Real text towers read CLIP's BPE files from
 * `plan.model.tokenizer` or next to `weightsPath`; every failure is VPL7135 (read errors keep
 * their VPL700x codes).
 */
export async function resolvePromptTokenizer(plan: Plan, build: ModelBuild, weightsPath?: string): Promise<PromptTokenizer> {
  if (hasTinyText(build)) return tinyPromptTokenizer;
  const spec = build.tokenizer;
  if (spec.kind !== 'clip-bpe') throw new Error(`internal: model '${build.name}' has the text tower ${build.text.name} but the ${spec.kind} tokenizer`);
  const explicit = plan.model.tokenizer;
  if (explicit === undefined && weightsPath === undefined) {
    throw new VplError('VPL7135', `model '${plan.model.name}' needs its CLIP tokenizer files, and there are no weights to look for them next to`, {
      file: plan.file,
      help: 'give their path with tokenizer = "..." in the model block (tokenizer.json, vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz, or their folder)',
    });
  }
  const from = weightsPath ?? plan.dir;
  const where = { ...(explicit !== undefined ? { tokenizer: explicit } : {}), baseDir: plan.dir, reportFile: plan.file };
  const files = findTokenizerFiles(from, where);
  const text = build.text.text;
  const pad = padOption(spec.pad, files);
  const { tokenizer } = await loadClipTokenizer(from, { ...where, contextLength: text.contextLength, ...(pad !== undefined ? { pad } : {}) });
  if (tokenizer.vocabSize !== text.vocabSize || tokenizer.eotId !== text.eotToken) {
    throw new VplError(
      'VPL7135',
      `the tokenizer ${files.main} does not fit the text encoder of model '${plan.model.name}': it has ${tokenizer.vocabSize} ids and the end token ${tokenizer.eotId}, the encoder takes ${text.vocabSize} ids with the end token ${text.eotToken}`,
      { file: files.main, help: `use the tokenizer the ${build.text.name} text encoder was trained with (CLIP's 49,408-entry BPE vocabulary)` },
    );
  }
  const relative = path.relative(process.cwd(), files.main) || files.main;
  return promptTokenizerOf(tokenizer, `CLIP BPE (${files.format}, ${relative}; padded with ${padName(tokenizer)})`);
}
