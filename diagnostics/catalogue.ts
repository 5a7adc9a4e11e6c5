// Every diagnostic vplc can report, with its stable code. Codes never change meaning once
// shipped: tools and users grep for them. Ranges:
//   VPL1xxx syntax          (grammar/)
//   VPL2xxx names and types (compiler/check)
//   VPL3xxx cross-field     (compiler/check rules)
//   VPL4xxx files and extends
//   VPL5xxx command line (overrides, arguments)
//   VPL6xxx compile (graph building, shapes)
//   VPL7xxx runtime (files, weights, checkpoints, sessions, numerics)
// One problem has one code in every command (`vplc check`, `compile`, `run`, `sample`, ...):
// `vplc check` reports them as Diagnostics, the other commands also throw them as VplError
// (diagnostics/error.ts). A code that is no longer reported stays here, marked `retired`,
// and is never given to another problem. test/diagnostics/codes.test.ts keeps this table and
// the source in step.
import type { Severity } from './diagnostic.ts';

export interface CatalogueEntry {
  severity: Severity;
  /** What the code means, for docs/language.md and hover. */
  summary: string;
  /** No longer reported: the codes its cases are reported as now. */
  retired?: { replacedBy: readonly string[]; why: string };
}

export const catalogue = {
  // ---- syntax (grammar/)
  VPL1001: { severity: 'error', summary: 'Unexpected character in the source text.' },
  VPL1002: { severity: 'error', summary: 'Unterminated string literal.' },
  VPL1003: { severity: 'error', summary: 'Invalid escape sequence in a string.' },
  VPL1004: { severity: 'error', summary: 'Malformed number (bad exponent, unit or size literal).' },
  VPL1010: { severity: 'error', summary: 'Unexpected token: the parser expected something else here.' },
  VPL1011: { severity: 'error', summary: 'Missing closing brace, bracket or parenthesis.' },
  VPL1012: { severity: 'error', summary: 'Expected a value after `=`.' },
  VPL1013: { severity: 'error', summary: 'Nesting too deep.' },
  VPL1014: { severity: 'error', summary: 'The file is not valid UTF-8 text.' },
  // ---- names and types (compiler/check)
  VPL2001: { severity: 'error', summary: 'Unknown block: the keyword is not a pipeline block.' },
  VPL2002: { severity: 'error', summary: 'Unknown component: the block names a model, sampler, objective or dataset the stdlib does not have.' },
  VPL2003: { severity: 'error', summary: 'Unknown field: the block or component has no such parameter.' },
  VPL2004: { severity: 'error', summary: 'Written twice: a field, block, clause, reward or pipeline name appears more than once.' },
  VPL2005: { severity: 'error', summary: 'Wrong type: the value is not of the type the field takes.' },
  VPL2006: { severity: 'error', summary: 'Wrong unit: the unit written does not apply to this field.' },
  VPL2007: { severity: 'error', summary: 'Out of range: the value is outside the range the field allows.' },
  VPL2008: { severity: 'error', summary: 'Unknown name in a value: a reward, prompt set, enum value, LoRA target or component the stdlib does not have.' },
  VPL2009: { severity: 'error', summary: 'Missing: a required field or block is not given.' },
  VPL2010: { severity: 'error', summary: 'Wrong arguments: a call form got too many, too few or unknown arguments.' },
  VPL2011: { severity: 'error', summary: 'Variant misuse: the block needs a component name, or takes none.' },
  VPL2012: { severity: 'error', summary: 'Misplaced statement: a clause or declaration where it is not allowed.' },
  // ---- cross-field rules (compiler/check/rules.ts)
  VPL3001: { severity: 'error', summary: 'Truncated backprop reaches further back than the sampler has steps.' },
  VPL3002: { severity: 'error', summary: 'A reward needs more frames than are decoded or generated.' },
  VPL3003: { severity: 'error', summary: 'The objective learns from real videos and needs a `data` block.' },
  VPL3004: { severity: 'error', summary: 'An image-to-video model needs an `images` block.' },
  VPL3005: { severity: 'warning', summary: 'An `images` block is ignored by a text-to-video model.' },
  VPL3006: { severity: 'error', summary: 'The frames to decode lie outside the video.' },
  VPL3007: { severity: 'error', summary: 'The size is not a multiple of the model\'s spatial stride.' },
  VPL3008: { severity: 'error', summary: 'The frame count does not fit the model\'s temporal VAE.' },
  VPL3009: { severity: 'error', summary: 'A range is reversed: its lower bound is above its upper bound.' },
  VPL3010: { severity: 'error', summary: 'The sampler cannot integrate this model\'s prediction type.' },
  VPL3011: { severity: 'warning', summary: 'An interval is longer than the whole run, so it never fires.' },
  VPL3012: { severity: 'error', summary: 'The pipeline needs prompts (a text-to-video model or a text reward) but has none.' },
  VPL3013: { severity: 'error', summary: 'Consistency distillation needs an epsilon-prediction model as its teacher.' },
  VPL3014: { severity: 'error', summary: 'The teacher solver grid runs past the training schedule (steps x skip > 1000).' },
  VPL3015: { severity: 'error', summary: 'EDM noise levels need an EDM model (svd, svd_xt).' },
  VPL3016: { severity: 'error', summary: 'The held-out reward of the reward-hacking watch (`watch`) is also a term of the reward mix.' },
  // ---- files and extends
  VPL4001: { severity: 'error', summary: 'A pipeline file (or a file it extends) cannot be read.' },
  VPL4002: { severity: 'error', summary: 'The `extends` chain comes back to a file already in it.' },
  VPL4003: { severity: 'error', summary: 'More than one `extends` in a file.' },
  VPL4004: { severity: 'warning', summary: 'A learned reward\'s files are not in the folder vplc looks for them in (`vplc check` looks; `vplc run` stops with VPL7136).' },
  // ---- command line
  VPL5001: { severity: 'error', summary: 'A command-line override is not of the form `block.field=value`.' },
  VPL5002: { severity: 'error', summary: 'A command-line override names no block of the pipeline language.' },
  // ---- compile (compiler/lower)
  VPL6001: {
    severity: 'error',
    summary: 'The pipeline cannot be compiled: its model weights are missing or it uses a feature not lowered yet.',
    retired: { replacedBy: ['VPL7130', 'VPL7131', 'VPL7132'], why: '`vplc compile` reported what `vplc run` reports as VPL7130 (weights), VPL7131 (objective) and VPL7132 (not lowered)' },
  },
  // ---- files (runtime/fs)
  VPL7001: { severity: 'error', summary: 'A file or folder vplc needs does not exist.' },
  VPL7002: { severity: 'error', summary: 'Permission denied reading or writing a file.' },
  VPL7003: { severity: 'error', summary: 'The disk is full (or over quota) while writing a file.' },
  VPL7004: { severity: 'error', summary: 'Another input/output error while reading or writing a file.' },
  // ---- safetensors (runtime/weights/safetensors.ts)
  VPL7010: { severity: 'error', summary: 'A safetensors file has an invalid header (not JSON, bad offsets, bad shapes).' },
  VPL7011: { severity: 'error', summary: 'A weights file is truncated: it ends before the data its header describes.' },
  VPL7012: { severity: 'error', summary: 'A tensor has a dtype vplc cannot read or convert.' },
  VPL7013: { severity: 'error', summary: 'A tensor name was asked for that the file does not contain.' },
  VPL7014: { severity: 'error', summary: 'A tensor given to a writer does not match its declared shape or dtype.' },
  // ---- PyTorch checkpoints (runtime/weights/pickle.ts, zip.ts, torch-zip.ts)
  VPL7020: { severity: 'error', summary: 'A pickle asks for a Python global that is not needed to rebuild tensors: refused.' },
  VPL7021: { severity: 'error', summary: 'A pickle is malformed or uses an opcode vplc does not support.' },
  VPL7022: { severity: 'error', summary: 'A zip archive is malformed (no central directory, bad entry, unsupported compression).' },
  VPL7023: { severity: 'error', summary: 'A PyTorch file in the legacy (pre-1.6, non-zip) format.' },
  VPL7024: { severity: 'error', summary: 'A PyTorch zip archive is missing data.pkl or a tensor storage it refers to.' },
  // ---- mapping checkpoint keys to a model (runtime/weights/mapping.ts)
  VPL7030: { severity: 'error', summary: 'A checkpoint does not match the model: missing keys, unexpected keys or shape mismatches.' },
  // ---- LoRA adapters (runtime/weights/lora-peft.ts)
  VPL7040: { severity: 'error', summary: 'A LoRA adapter folder is invalid (config, key layout or shapes).' },
  // ---- checkpoints (runtime/checkpoint)
  VPL7050: { severity: 'error', summary: 'A checkpoint is incomplete or corrupt (state.json or a tensor file).' },
  VPL7051: { severity: 'error', summary: 'No complete checkpoint was found to resume from.' },
  VPL7052: { severity: 'error', summary: 'A checkpoint was written by a different pipeline or vplc version.' },
  // ---- prompts and data (stdlib/prompts, stdlib/data)
  VPL7060: { severity: 'error', summary: 'A prompt file cannot be used (empty, not UTF-8, or a line too long).' },
  VPL7061: { severity: 'error', summary: 'A captions CSV is malformed (header, quoting or columns).' },
  VPL7062: { severity: 'error', summary: 'The ffmpeg program is needed to decode videos but is not installed.' },
  VPL7063: { severity: 'error', summary: 'A dataset gives no usable videos: it has none, or every one was skipped.' },
  // ---- sessions (runtime/session.ts)
  VPL7100: { severity: 'error', summary: 'The CUDA execution provider was asked for but is not installed (or cannot load).' },
  VPL7101: { severity: 'error', summary: 'A compiled program folder is missing or invalid, or onnxruntime could not load a graph.' },
  VPL7102: { severity: 'error', summary: 'A graph was run without one of its inputs, or with an input it does not have.' },
  VPL7103: { severity: 'error', summary: 'A graph input has the wrong shape or dtype.' },
  // ---- training (runtime/train, runtime/random.ts)
  VPL7110: { severity: 'error', summary: 'The loss, a gradient or the new training state is NaN or infinite: the run stopped.' },
  VPL7111: { severity: 'error', summary: 'A training step function returned something the trainer cannot use.' },
  VPL7112: { severity: 'error', summary: 'Invalid training options (steps, accumulate, checkpoint interval, seed).' },
  // ---- reports (cli/commands/report.ts)
  VPL7120: { severity: 'error', summary: 'The run folder given to `vplc report` is missing or is not a run folder.' },
  // ---- model weights and lowering, in every command that compiles (run, sample, compile, explain --graph, diff --graph)
  VPL7130: { severity: 'error', summary: 'The weights of the pipeline\'s model are missing, do not match it, or cannot be loaded yet.' },
  VPL7131: { severity: 'error', summary: 'The pipeline\'s objective is not supported by the command yet (not lowered, or no `vplc run` / `vplc sample` driver).' },
  VPL7132: { severity: 'error', summary: 'The pipeline cannot be compiled: it uses a mode or model that is not lowered yet.' },
  VPL7133: { severity: 'error', summary: 'A LoRA given to `vplc sample --lora` is missing, invalid or belongs to another pipeline.' },
  VPL7134: {
    severity: 'error',
    summary: 'The pipeline\'s prompts cannot be used (none given, unknown set, or a bad prompt file).',
    retired: { replacedBy: ['VPL3012', 'VPL2008', 'VPL7060', 'VPL3003', 'VPL7063'], why: 'each case has the code `vplc check` or the prompt file reader gives it (no prompts VPL3012, unknown set VPL2008, bad file VPL7060); its data uses go to VPL3003 (no data block) and VPL7063 (no usable videos)' },
  },
  VPL7135: { severity: 'error', summary: 'The CLIP tokenizer files of a model are missing or cannot be used (tokenizer.json, vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz).' },
  VPL7136: { severity: 'error', summary: 'A learned reward of the pipeline needs network weights that are missing, or that vplc cannot load yet.' },
  VPL7137: { severity: 'error', summary: 'A command-line option has a value vplc cannot read (such as a memory size for `--gpu-memory`).' },
  VPL7138: { severity: 'error', summary: 'A prompt names no class of a classifier reward (actpred: none of its Kinetics-400 labels).' },
} as const satisfies Record<string, CatalogueEntry>;

/** Every code in the catalogue, retired ones included (they may still be read back from logs). */
export type DiagnosticCode = keyof typeof catalogue;

export function catalogueEntry(code: DiagnosticCode): CatalogueEntry {
  return catalogue[code];
}

export function isCatalogued(code: string): code is DiagnosticCode {
  return Object.hasOwn(catalogue, code);
}
