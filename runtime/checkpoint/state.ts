// state.json: what a checkpoint records besides its tensors, how it is validated when read
// back, and how a saved checkpoint is compared with the run that wants to resume from it.
import { VplError } from '../../diagnostics/error.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** RNG state as plain JSON: 64-bit words as decimal strings, small counters as numbers. */
export type RngState = Record<string, number | string | (number | string)[]>;

export const checkpointFormat = 'vplc-checkpoint';
export const checkpointFormatVersion = 1;

export interface CheckpointFileRecord {
  bytes: number;
  /** Hex SHA-256 of the file, computed while it was written. */
  sha256: string;
}

export interface CheckpointState {
  format: typeof checkpointFormat;
  formatVersion: number;
  step: number;
  /** Content hash of the compiled pipeline that wrote the checkpoint. */
  pipelineHash: string;
  vplcVersion: string;
  rng: RngState;
  /** Metrics so far (whatever the trainer keeps: history, best reward, ...). */
  metrics: JsonValue;
  /** ISO time of the save. */
  savedAt: string;
  /** Every other file in the checkpoint folder. */
  files: Record<string, CheckpointFileRecord>;
}

function corrupt(file: string, message: string): VplError {
  return new VplError('VPL7050', `the checkpoint is corrupt: ${message}`, {
    file,
    help: 'delete this checkpoint folder to resume from the one before it',
  });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks state.json's text; `file` names it in errors. */
export function parseCheckpointState(text: string, file: string): CheckpointState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, `state.json is not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(json) || json['format'] !== checkpointFormat) throw corrupt(file, 'state.json is not a vplc checkpoint state');
  const version = json['formatVersion'];
  if (typeof version !== 'number' || version > checkpointFormatVersion) {
    throw new VplError('VPL7052', `the checkpoint uses state format ${String(version)}, newer than this vplc reads (${checkpointFormatVersion})`, {
      file,
      help: 'resume it with the vplc version that wrote it, or a newer one',
    });
  }
  const { step, pipelineHash, vplcVersion, rng, savedAt, files } = json;
  if (typeof step !== 'number' || !Number.isSafeInteger(step) || step < 0) throw corrupt(file, `state.json has step ${JSON.stringify(step)}`);
  if (typeof pipelineHash !== 'string' || typeof vplcVersion !== 'string' || typeof savedAt !== 'string') {
    throw corrupt(file, 'state.json lacks pipelineHash, vplcVersion or savedAt');
  }
  if (!isObject(rng)) throw corrupt(file, 'state.json has no rng object');
  if (!isObject(files)) throw corrupt(file, 'state.json has no files object');
  for (const [name, record] of Object.entries(files)) {
    if (!isObject(record) || typeof record['bytes'] !== 'number' || typeof record['sha256'] !== 'string') {
      throw corrupt(file, `state.json's record of '${name}' lacks bytes or sha256`);
    }
  }
  return json as unknown as CheckpointState;
}

/** What the resuming run is; fields left out are not compared. */
export interface ExpectedRun {
  pipelineHash?: string;
  vplcVersion?: string;
}

export interface CheckpointDifference {
  field: 'pipelineHash' | 'vplcVersion';
  saved: string;
  current: string;
  /** 'error': resuming would silently mix two different runs. */
  severity: 'error' | 'warning';
  message: string;
}

export interface Compatibility {
  compatible: boolean;
  differences: CheckpointDifference[];
}

export function checkCompatibility(state: CheckpointState, expected: ExpectedRun): Compatibility {
  const differences: CheckpointDifference[] = [];
  if (expected.pipelineHash !== undefined && expected.pipelineHash !== state.pipelineHash) {
    differences.push({
      field: 'pipelineHash',
      saved: state.pipelineHash,
      current: expected.pipelineHash,
      severity: 'error',
      message: `the checkpoint was written by a different pipeline (hash ${short(state.pipelineHash)}, now ${short(expected.pipelineHash)})`,
    });
  }
  if (expected.vplcVersion !== undefined && expected.vplcVersion !== state.vplcVersion) {
    differences.push({
      field: 'vplcVersion',
      saved: state.vplcVersion,
      current: expected.vplcVersion,
      severity: 'warning',
      message: `the checkpoint was written by vplc ${state.vplcVersion}, this is ${expected.vplcVersion}`,
    });
  }
  return { compatible: differences.every((d) => d.severity !== 'error'), differences };
}

function short(hash: string): string {
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

/** Throws when resuming from the checkpoint would mix two different runs. */
export function requireCompatible(compatibility: Compatibility, checkpointDir: string): void {
  const errors = compatibility.differences.filter((d) => d.severity === 'error');
  if (errors.length === 0) return;
  throw new VplError('VPL7052', `cannot resume: ${errors.map((d) => d.message).join('; ')}`, {
    file: checkpointDir,
    help: 'use a new run folder for the changed pipeline, or restore the pipeline that wrote the checkpoint',
  });
}
