// A run's checkpoints: `<runDir>/checkpoints/step-000080/` holding lora.safetensors,
// optimizer.safetensors and state.json. A checkpoint becomes visible only when complete:
// it is written into a temp folder (every file fsynced, state.json last, with each file's
// size and hash), then the folder is renamed into place. That rename is the commit point;
// the `latest` file, updated atomically afterwards, is a pointer for people and tools.
// Reading trusts the folders, not the pointer, and skips any that fail validation.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VplError } from '../../diagnostics/error.ts';
import { fsyncDirectory, renameDurably, writeFileAtomic, writeFileDurably } from '../fs/atomic.ts';
import { errnoOf, ioError } from '../fs/io-error.ts';
import { readSafetensors, safetensorsContent, SafetensorsReader, type LoadedTensor, type TensorToWrite } from '../weights/safetensors.ts';
import {
  checkCompatibility,
  checkpointFormat,
  checkpointFormatVersion,
  parseCheckpointState,
  type CheckpointFileRecord,
  type CheckpointState,
  type Compatibility,
  type ExpectedRun,
  type JsonValue,
  type RngState,
} from './state.ts';

export const stateFile = 'state.json';
export const latestPointerFile = 'latest';
const stepDirPattern = /^step-(\d+)$/;
const tempPrefix = '.tmp-';
const trashPrefix = '.trash-';
const ownerPattern = /\.pid-(\d+)\./;

/** A scratch folder name that records which process made it, so leftovers can be cleaned. */
function scratchName(prefix: string, label: string): string {
  return `${prefix}${label}.pid-${process.pid}.${Date.now().toString(36)}`;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

export interface SaveCheckpointInput {
  step: number;
  pipelineHash: string;
  vplcVersion: string;
  rng: RngState;
  metrics: JsonValue;
  /** File name -> tensors (`lora.safetensors`, `optimizer.safetensors`). */
  tensors: Record<string, TensorToWrite[]>;
  /** Extra JSON files (`adapter_config.json`). */
  json?: Record<string, JsonValue>;
}

/** Reported while saving; awaited, so a caller can also throttle or (in tests) pause. */
export type SaveProgress =
  | { phase: 'file'; file: string }
  | { phase: 'tensor'; file: string; tensor: string }
  | { phase: 'commit'; dir: string }
  | { phase: 'pointer'; dir: string };

export interface CheckpointStoreOptions {
  /** How many complete checkpoints to keep (the newest are kept). Default 5. */
  keepLast?: number;
  /** Where skipped or pruned checkpoints are reported. Default: stderr. */
  warn?: (message: string) => void;
  onProgress?: (event: SaveProgress) => void | Promise<void>;
}

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  state: CheckpointState;
  compatibility: Compatibility;
  /** Reads one of the checkpoint's tensor files whole (they are LoRA-sized). */
  readTensors(file: string): Promise<Map<string, LoadedTensor>>;
}

export interface LoadOptions {
  /** Compared with the saved state; differences come back in `compatibility`. */
  expected?: ExpectedRun;
  /** 'hash' (default) rereads every file and checks its SHA-256; 'size' only sizes and headers. */
  verify?: 'hash' | 'size';
}

export class CheckpointStore {
  readonly dir: string;
  private readonly keepLast: number;
  private readonly warn: (message: string) => void;
  private readonly onProgress: CheckpointStoreOptions['onProgress'];

  constructor(runDir: string, options: CheckpointStoreOptions = {}) {
    this.dir = join(runDir, 'checkpoints');
    this.keepLast = options.keepLast ?? 5;
    if (!Number.isInteger(this.keepLast) || this.keepLast < 1) {
      // an invalid training option (as train() reports `keep`), not a corrupt checkpoint
      throw new VplError('VPL7112', `keep ${this.keepLast} checkpoints: at least 1 must be kept`, { help: 'set `keep` to 1 or more' });
    }
    this.warn = options.warn ?? ((message) => process.stderr.write(`warning: ${message}\n`));
    this.onProgress = options.onProgress;
  }

  /** Writes a checkpoint, makes it visible, points `latest` at it and prunes old ones. */
  async save(input: SaveCheckpointInput): Promise<LoadedCheckpoint> {
    if (!Number.isSafeInteger(input.step) || input.step < 0) {
      throw new VplError('VPL7050', `cannot save a checkpoint at step ${input.step}`, { help: 'this is a bug in the trainer; please report it' });
    }
    await this.ensureDir();
    await this.removeAbandonedTemps();
    const name = stepDirName(input.step);
    const temp = join(this.dir, scratchName(tempPrefix, name));
    try {
      await mkdir(temp);
    } catch (error) {
      throw ioError(error, temp, 'create');
    }
    try {
      const files: Record<string, CheckpointFileRecord> = {};
      for (const [file, tensors] of Object.entries(input.tensors)) {
        await this.onProgress?.({ phase: 'file', file });
        const reported = tensors.map((t) => ({
          ...t,
          data: async () => {
            await this.onProgress?.({ phase: 'tensor', file, tensor: t.name });
            return typeof t.data === 'function' ? t.data() : t.data;
          },
        }));
        const path = join(temp, file);
        const result = await writeFileDurably(path, safetensorsContent(reported, { format: 'pt', step: String(input.step) }, join(this.dir, name, file)), { sha256: true });
        files[file] = { bytes: result.bytes, sha256: result.sha256! };
      }
      for (const [file, value] of Object.entries(input.json ?? {})) {
        await this.onProgress?.({ phase: 'file', file });
        const result = await writeFileDurably(join(temp, file), `${JSON.stringify(value, null, 2)}\n`, { sha256: true });
        files[file] = { bytes: result.bytes, sha256: result.sha256! };
      }
      const state: CheckpointState = {
        format: checkpointFormat,
        formatVersion: checkpointFormatVersion,
        step: input.step,
        pipelineHash: input.pipelineHash,
        vplcVersion: input.vplcVersion,
        rng: input.rng,
        metrics: input.metrics,
        savedAt: new Date().toISOString(),
        files,
      };
      await writeFileDurably(join(temp, stateFile), `${JSON.stringify(state, null, 2)}\n`);
      await fsyncDirectory(temp);

      const final = join(this.dir, name);
      await this.onProgress?.({ phase: 'commit', dir: final });
      await this.replaceDir(temp, final);
      await this.onProgress?.({ phase: 'pointer', dir: final });
      await writeFileAtomic(join(this.dir, latestPointerFile), `${name}\n`);
      await this.prune();
      return this.describe(final, state, {});
    } catch (error) {
      await rm(temp, { recursive: true, force: true }).catch(() => undefined);
      if (error instanceof VplError && error.code === 'VPL7003') {
        const previous = (await this.steps()).filter((s) => s !== input.step).pop();
        const intact = previous === undefined ? 'no earlier checkpoint exists' : `the previous checkpoint (${stepDirName(previous)}) is intact`;
        throw new VplError('VPL7003', `disk full while writing checkpoint ${name}; ${intact}`, {
          file: error.file ?? join(this.dir, name),
          help: error.help ?? 'free some space and run again',
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Steps of the folders that look like checkpoints, ascending (not validated). */
  async steps(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw ioError(error, this.dir, 'list');
    }
    return names
      .map((n) => stepDirPattern.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  /** The newest checkpoint that validates; broken newer ones are skipped with a warning. */
  async latest(options: LoadOptions = {}): Promise<LoadedCheckpoint | undefined> {
    const steps = await this.steps();
    for (const step of steps.reverse()) {
      try {
        return await this.load(step, options);
      } catch (error) {
        if (!(error instanceof VplError)) throw error;
        this.warn(`skipping checkpoint ${join(this.dir, stepDirName(step))}: ${error.message}`);
      }
    }
    return undefined;
  }

  /** Like latest(), but an error when there is none to resume from. */
  async requireLatest(options: LoadOptions = {}): Promise<LoadedCheckpoint> {
    const found = await this.latest(options);
    if (found === undefined) {
      throw new VplError('VPL7051', 'there is no complete checkpoint to resume from', {
        file: this.dir,
        help: 'start the run from scratch, or point at the run folder that holds its checkpoints',
      });
    }
    return found;
  }

  /** Loads and validates one checkpoint; throws VPL7050 when it is incomplete or corrupt. */
  async load(step: number, options: LoadOptions = {}): Promise<LoadedCheckpoint> {
    const dir = join(this.dir, stepDirName(step));
    const statePath = join(dir, stateFile);
    let text: string;
    try {
      text = await readFile(statePath, 'utf8');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        throw new VplError('VPL7050', 'the checkpoint is incomplete: it has no state.json', {
          file: dir,
          help: 'delete this checkpoint folder to resume from the one before it',
        });
      }
      throw ioError(error, statePath, 'read');
    }
    const state = parseCheckpointState(text, statePath);
    if (state.step !== step) {
      throw new VplError('VPL7050', `the checkpoint is corrupt: its folder says step ${step} but state.json says ${state.step}`, {
        file: statePath,
        help: 'delete this checkpoint folder to resume from the one before it',
      });
    }
    for (const [file, record] of Object.entries(state.files)) {
      await verifyFile(join(dir, file), record, options.verify ?? 'hash');
    }
    return this.describe(dir, state, options);
  }

  /** Keeps the newest `keepLast` complete checkpoints; never deletes the newest complete one. */
  async prune(): Promise<void> {
    const steps = (await this.steps()).reverse();
    let kept = 0;
    for (const step of steps) {
      const dir = join(this.dir, stepDirName(step));
      let complete = true;
      try {
        await this.load(step, { verify: 'size' });
      } catch (error) {
        if (!(error instanceof VplError)) throw error;
        complete = false;
      }
      if (complete && kept < this.keepLast) {
        kept++;
        continue;
      }
      // Broken checkpoints newer than every kept one are left for the user to inspect.
      if (!complete && kept === 0) continue;
      if (!complete) this.warn(`removing broken checkpoint ${dir}`);
      await this.removeDir(dir, stepDirName(step));
    }
  }

  private describe(dir: string, state: CheckpointState, options: LoadOptions): LoadedCheckpoint {
    return {
      dir,
      step: state.step,
      state,
      compatibility: checkCompatibility(state, options.expected ?? {}),
      readTensors: async (file) => {
        if (!Object.hasOwn(state.files, file)) {
          throw new VplError('VPL7050', `the checkpoint has no file '${file}'`, {
            file: dir,
            help: `it has: ${Object.keys(state.files).join(', ')}`,
          });
        }
        return (await readSafetensors(join(dir, file))).tensors;
      },
    };
  }

  private async ensureDir(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (error) {
      throw ioError(error, this.dir, 'create');
    }
  }

  /** Replaces `final` (a re-save of the same step) so that a complete copy always exists. */
  private async replaceDir(temp: string, final: string): Promise<void> {
    let exists = true;
    try {
      await stat(final);
    } catch {
      exists = false;
    }
    if (!exists) return renameDurably(temp, final);
    const old = join(this.dir, scratchName(trashPrefix, final.slice(this.dir.length + 1)));
    try {
      await rename(final, old);
    } catch (error) {
      throw ioError(error, final, 'rename');
    }
    await renameDurably(temp, final);
    await rm(old, { recursive: true, force: true }).catch(() => undefined);
  }

  /** Renames first, so a crash mid-delete never leaves a half-deleted `step-` folder. */
  private async removeDir(dir: string, name: string): Promise<void> {
    const trash = join(this.dir, scratchName(trashPrefix, name));
    try {
      await rename(dir, trash);
      await rm(trash, { recursive: true, force: true });
    } catch (error) {
      throw ioError(error, dir, 'delete');
    }
  }

  /** Temp and trash folders left by writers that were killed (their process is gone). */
  private async removeAbandonedTemps(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(tempPrefix) && !name.startsWith(trashPrefix)) continue;
      const owner = ownerPattern.exec(name);
      const pid = owner === null ? undefined : Number(owner[1]);
      if (pid === process.pid || (pid !== undefined && isAlive(pid))) continue;
      await rm(join(this.dir, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

async function verifyFile(path: string, record: CheckpointFileRecord, verify: 'hash' | 'size'): Promise<void> {
  const help = 'delete this checkpoint folder to resume from the one before it';
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') throw new VplError('VPL7050', 'the checkpoint is incomplete: this file is missing', { file: path, help });
    throw ioError(error, path, 'read');
  }
  if (size !== record.bytes) {
    throw new VplError('VPL7050', `the checkpoint is corrupt: this file has ${size} bytes but ${record.bytes} were written${size < record.bytes ? ' (it is truncated)' : ''}`, {
      file: path,
      help,
    });
  }
  if (path.endsWith('.safetensors')) {
    // Validates the header; an error here names the file and what is wrong.
    await (await SafetensorsReader.open(path)).close();
  }
  if (verify === 'hash') {
    const digest = await sha256Of(path);
    if (digest !== record.sha256) {
      throw new VplError('VPL7050', 'the checkpoint is corrupt: this file\'s content differs from the hash recorded when it was saved', { file: path, help });
    }
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    throw ioError(error, path, 'read');
  }
  return hash.digest('hex');
}
