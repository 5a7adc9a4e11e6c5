// Errors the runtime reports to users: a stable code, the file it concerns and one line
// saying how to fix it. The CLI prints them as `file: error VPL7001: message` followed by
// `help: ...`, never with a stack trace, so every message must stand on its own.

/** The runtime's codes (VPL7xxx). A code never changes meaning once shipped. */
export const runtimeErrorCodes = {
  // ---- files (runtime/fs)
  VPL7001: 'A file or folder vplc needs does not exist.',
  VPL7002: 'Permission denied reading or writing a file.',
  VPL7003: 'The disk is full (or over quota) while writing a file.',
  VPL7004: 'Another input/output error while reading or writing a file.',
  // ---- safetensors (runtime/weights/safetensors.ts)
  VPL7010: 'A safetensors file has an invalid header (not JSON, bad offsets, bad shapes).',
  VPL7011: 'A weights file is truncated: it ends before the data its header describes.',
  VPL7012: 'A tensor has a dtype vplc cannot read or convert.',
  VPL7013: 'A tensor name was asked for that the file does not contain.',
  VPL7014: 'A tensor given to a writer does not match its declared shape or dtype.',
  // ---- PyTorch checkpoints (runtime/weights/pickle.ts, zip.ts, torch-zip.ts)
  VPL7020: 'A pickle asks for a Python global that is not needed to rebuild tensors: refused.',
  VPL7021: 'A pickle is malformed or uses an opcode vplc does not support.',
  VPL7022: 'A zip archive is malformed (no central directory, bad entry, unsupported compression).',
  VPL7023: 'A PyTorch file in the legacy (pre-1.6, non-zip) format.',
  VPL7024: 'A PyTorch zip archive is missing data.pkl or a tensor storage it refers to.',
  // ---- mapping checkpoint keys to a model (runtime/weights/mapping.ts)
  VPL7030: 'A checkpoint does not match the model: missing keys, unexpected keys or shape mismatches.',
  // ---- LoRA adapters (runtime/weights/lora-peft.ts)
  VPL7040: 'A LoRA adapter folder is invalid (config, key layout or shapes).',
  // ---- checkpoints (runtime/checkpoint)
  VPL7050: 'A checkpoint is incomplete or corrupt (state.json or a tensor file).',
  VPL7051: 'No complete checkpoint was found to resume from.',
  VPL7052: 'A checkpoint was written by a different pipeline or vplc version.',
  // ---- prompts and data (stdlib/prompts, stdlib/data)
  VPL7060: 'A prompt file cannot be used (empty, not UTF-8, or a line too long).',
  VPL7061: 'A captions CSV is malformed (header, quoting or columns).',
  VPL7062: 'The ffmpeg program is needed to decode videos but is not installed.',
  // ---- sessions (runtime/session.ts)
  VPL7100: 'The CUDA execution provider was asked for but is not installed (or cannot load).',
  VPL7101: 'A compiled program folder is missing or invalid, or onnxruntime could not load a graph.',
  VPL7102: 'A graph was run without one of its inputs, or with an input it does not have.',
  VPL7103: 'A graph input has the wrong shape or dtype.',
  // ---- training (runtime/train, runtime/random.ts)
  VPL7110: 'The loss, a gradient or the new training state is NaN or infinite: the run stopped.',
  VPL7111: 'A training step function returned something the trainer cannot use.',
  VPL7112: 'Invalid training options (steps, accumulate, checkpoint interval, seed).',
  // ---- reports (cli/commands/report.ts)
  VPL7120: 'The run folder given to `vplc report` is missing or is not a run folder.',
  // ---- vplc run / vplc sample (runtime/methods)
  VPL7130: 'The weights of the pipeline\'s model are missing, do not match it, or cannot be loaded yet.',
  VPL7131: 'The pipeline\'s objective is not supported by `vplc run` / `vplc sample` yet.',
  VPL7132: 'The pipeline cannot be compiled for running (a mode or model not lowered yet).',
  VPL7133: 'A LoRA given to `vplc sample --lora` is missing, invalid or belongs to another pipeline.',
  VPL7134: 'The pipeline\'s prompts cannot be used (none given, unknown set, or a bad prompt file).',
} as const;

export type RuntimeErrorCode = keyof typeof runtimeErrorCodes;

/** Any vplc code is accepted so other parts of the runtime can reuse the class. */
export type VplErrorCode = RuntimeErrorCode | `VPL${number}`;

export interface VplErrorOptions {
  /** The file the error is about (printed first, like a compiler diagnostic). */
  file?: string;
  /** One line telling the user what to do about it. */
  help?: string;
  /** The underlying error (kept for debugging, never printed to users). */
  cause?: unknown;
}

export class VplError extends Error {
  readonly code: string;
  readonly file?: string;
  readonly help?: string;

  constructor(code: VplErrorCode, message: string, options: VplErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VplError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.help !== undefined) this.help = options.help;
  }
}

export function isVplError(value: unknown): value is VplError {
  return value instanceof VplError;
}

/** `file: error VPL7001: message` plus a `help:` line: what the CLI prints. */
export function formatVplError(error: VplError): string {
  const where = error.file === undefined ? '' : `${error.file}: `;
  const lines = [`${where}error ${error.code}: ${error.message}`];
  if (error.help !== undefined) lines.push(`help: ${error.help}`);
  return lines.join('\n');
}
