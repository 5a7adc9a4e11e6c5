// Sessions: one onnxruntime-node InferenceSession per graph of a compiled Program, loaded
// from an emitted program folder (program.json + <graph>.onnx + weights.bin) or from an
// in-memory Program, with feeds checked before they reach onnxruntime so that a mistake names
// the graph, the input, and the expected and actual shape or dtype.
//
// Session options (CPU), measured on a small training graph: one MLP step with forward,
// autodiff gradients and AdamW (batch 256, 512 -> 1024 -> 1024 -> 1, 1.57M parameters), as
// emitted by our compiler; median (p10) ms per run() over 40 runs after 5 warm-up runs:
//   node --import tsx test/runtime/train/measure-session-options.ts
// on this 2-core build machine, onnxruntime-node 1.30.0, first of three runs (the machine was
// shared with other test suites, so later runs were 2-5x slower across the board):
//   intra=2 inter=1  'all'       arena+pattern   29.8 (26.2)
//   intra=2 inter=1  'extended'  arena+pattern   40.2 (24.5)
//   intra=2 inter=1  'basic'     arena+pattern   68.1 (56.5)
//   intra=2 inter=1  'all'       no arena/pattern 115.9 (64.9)
//   intra=1          'all'       arena+pattern   45.8 (43.0)
// Chosen: intra-op threads = cores (1.6x over one thread on 2 cores; matmul-bound graphs scale
// with cores), inter-op 1 and 'sequential' (our graphs are chains), 'all' (vs 'extended': no
// consistent difference here, their order flipped between runs under load; p10s agree within
// 10%), memory arena + pattern on (off was slower in every run; repeated runs of one shape
// reuse the planned buffers). These numbers are noisy: re-run the script on a quiet training
// machine (16+ cores) before tuning further.
//
// Devices: CPU by default. `device: 'cuda'` appends the CUDA execution provider, whose
// libraries are not in the npm package: when they are absent, a VplError says so and how to
// install them instead of onnxruntime's "Failed to load shared library".
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { dtypes, type DType, type TypedArray } from '../tensor/ir/dtype.ts';
import { compileCached } from '../tensor/program/cache.ts';
import { planEmission, SOURCE_LINK_PREFIX } from '../tensor/program/emit.ts';
import type { Program, ProgramJson, TensorSpec } from '../tensor/program/program.ts';
import { VplError } from '../diagnostics/error.ts';

export type Device = 'cpu' | 'cuda';

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads; default: the cores available to this process. */
  threads?: number;
  /** Default 'all' (measured: never slower than 'extended' on our graphs). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Default true (arena and memory pattern: repeated runs of one shape reuse buffers). */
  memoryArena?: boolean;
  /** Where an in-memory Program with external weights is emitted first (default .cache/vplc). */
  cacheRoot?: string;
  /** In-memory Programs: initializers of at least this many bytes go to weights.bin (default 1 MiB). */
  externalThreshold?: number;
  /**
   * Keep frozen weights where onnxruntime maps them from disk, shared by every session (default:
   * on when the program's external weights reach 256 MiB): no prepacked copies of constant
   * matrices and, unless `optimization` says otherwise, level 'extended' (no NCHWc, whose
   * reordered convolution kernels are copies).
   */
  mappedWeights?: boolean;
}

/** External weights from this size on are kept mapped by default (see SessionOptions.mappedWeights). */
export const MAPPED_WEIGHTS_BYTES = 256 * 2 ** 20;

/** The options passed to onnxruntime for these settings (exported for the measurement script). */
export function ortSessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  const arena = options.memoryArena ?? true;
  return {
    executionProviders: options.device === 'cuda' ? [{ name: 'cuda' }, 'cpu'] : ['cpu'],
    intraOpNumThreads: options.threads ?? os.availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: options.optimization ?? (options.mappedWeights ? 'extended' : 'all'),
    enableCpuMemArena: arena,
    enableMemPattern: arena,
    ...(options.mappedWeights ? { extra: { session: { disable_prepacking: '1' } } } : {}),
  };
}

// ------------------------------------------------------------------------------------ CUDA

export const cudaInstallHelp =
  'reinstall onnxruntime-node with its CUDA 12 libraries: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` ' +
  '(the variable overrides this repository\'s .npmrc, which skips the download; or pass `--onnxruntime-node-install=cuda12`); ' +
  'the machine needs NVIDIA CUDA 12 and cuDNN 9 libraries on its library path (see onnxruntime-node\'s README), or run with `--device cpu`';

/** The folder holding onnxruntime-node's native binding and libraries for this platform. */
export function ortBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

export interface CudaAvailability {
  available: boolean;
  /** Why not, in words (for the error message). */
  reason?: string;
}

/** Whether the CUDA execution provider's libraries are installed beside the binding. */
export function cudaAvailability(binaryDir = ortBinaryDir()): CudaAvailability {
  if (process.platform !== 'linux' && process.platform !== 'win32') {
    return { available: false, reason: `onnxruntime-node has no CUDA execution provider for ${process.platform}` };
  }
  const ext = process.platform === 'win32' ? '.dll' : '.so';
  const prefix = process.platform === 'win32' ? '' : 'lib';
  const needed = [`${prefix}onnxruntime_providers_shared${ext}`, `${prefix}onnxruntime_providers_cuda${ext}`];
  const missing = needed.filter((f) => !fs.existsSync(path.join(binaryDir, f)));
  if (missing.length > 0) {
    return {
      available: false,
      reason: `the CUDA execution provider is not installed: onnxruntime-node's npm package ships the CPU provider only, and ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing from ${binaryDir}`,
    };
  }
  return { available: true };
}

function cudaError(reason: string, cause?: unknown): VplError {
  return new VplError('VPL7100', `--device cuda: ${reason}`, { help: cudaInstallHelp, cause });
}

// ------------------------------------------------------------------------------- sessions

/** A feed: a typed array of the input's declared shape, or data with an explicit shape. */
export type Feed = TypedArray | { data: TypedArray; shape: readonly number[] };
export type Feeds = Record<string, Feed>;
export type Outputs = Record<string, TypedArray>;

function arrayDtype(data: unknown): string {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'bool';
  if (data instanceof Uint16Array) return 'float16';
  return data === null || typeof data !== 'object' ? typeof data : (data as object).constructor?.name ?? 'object';
}

/** Which typed array holds each dtype (bool as Uint8Array, float16 as its bit patterns). */
const arrayForDtype: Record<DType, string> = {
  float32: 'Float32Array',
  float64: 'Float64Array',
  float16: 'Uint16Array',
  bfloat16: 'Uint16Array',
  int64: 'BigInt64Array',
  int32: 'Int32Array',
  bool: 'Uint8Array',
};

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export class GraphSession {
  private released = false;

  constructor(
    readonly name: string,
    readonly inputs: readonly TensorSpec[],
    readonly outputs: readonly TensorSpec[],
    private readonly session: ort.InferenceSession,
  ) {}

  /** Checks the feeds against the graph's inputs; throws VplError naming what is wrong. */
  check(feeds: Feeds): Record<string, ort.Tensor> {
    const tensors: Record<string, ort.Tensor> = {};
    const missing = this.inputs.filter((spec) => !Object.hasOwn(feeds, spec.name)).map((s) => `'${s.name}' ${s.dtype}${fmt(s.shape)}`);
    if (missing.length > 0) {
      throw new VplError('VPL7102', `graph '${this.name}': no feed for input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, {
        help: `feed every input of '${this.name}': ${this.inputs.map((s) => s.name).join(', ')}`,
      });
    }
    const known = new Set(this.inputs.map((s) => s.name));
    const extra = Object.keys(feeds).filter((k) => !known.has(k));
    if (extra.length > 0) {
      throw new VplError('VPL7102', `graph '${this.name}' has no input ${extra.map((e) => `'${e}'`).join(', ')}`, {
        help: `its inputs are: ${this.inputs.map((s) => s.name).join(', ')}`,
      });
    }
    for (const spec of this.inputs) {
      const feed = feeds[spec.name]!;
      const data = ArrayBuffer.isView(feed) ? feed : feed.data;
      const shape = ArrayBuffer.isView(feed) ? spec.shape : feed.shape;
      const where = `graph '${this.name}', input '${spec.name}'`;
      const ortType = dtypes[spec.dtype].ort;
      if (!ortType) {
        throw new VplError('VPL7103', `${where}: ${spec.dtype} cannot cross the JavaScript boundary of onnxruntime-node`, {
          help: 'this is a compiler bug: graph inputs must be float32, float16, int64, int32 or bool; please report it',
        });
      }
      if (!(data instanceof (globalThis as unknown as Record<string, new () => object>)[arrayForDtype[spec.dtype]]!)) {
        throw new VplError('VPL7103', `${where}: expected ${spec.dtype}${fmt(spec.shape)}, got ${arrayDtype(data)} data`, {
          help: `pass a ${arrayForDtype[spec.dtype]} of ${count(spec.shape)} elements`,
        });
      }
      const sameShape = shape.length === spec.shape.length && shape.every((d, i) => d === spec.shape[i]);
      if (!sameShape || data.length !== count(spec.shape)) {
        const actual = sameShape ? `${data.length} elements` : `${fmt(shape)}${data.length !== count(shape) ? ` with ${data.length} elements` : ''}`;
        throw new VplError('VPL7103', `${where}: expected shape ${fmt(spec.shape)} (${count(spec.shape)} elements), got ${actual}`, {
          help: `pass ${spec.dtype}${fmt(spec.shape)}`,
        });
      }
      tensors[spec.name] = new ort.Tensor(ortType, data as never, [...spec.shape]);
    }
    return tensors;
  }

  /** Runs the graph once (blocking the event loop while onnxruntime computes). */
  async run(feeds: Feeds): Promise<Outputs> {
    if (this.released) throw new Error(`graph session '${this.name}' was released`);
    const results = await this.session.run(this.check(feeds));
    const out: Outputs = {};
    for (const spec of this.outputs) out[spec.name] = results[spec.name]!.data as TypedArray;
    return out;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

export class ProgramSessions {
  constructor(
    readonly json: ProgramJson,
    readonly graphs: ReadonlyMap<string, GraphSession>,
    readonly device: Device,
    /** Whether the sessions keep the frozen weights mapped from disk (SessionOptions.mappedWeights). */
    readonly mappedWeights = false,
  ) {}

  graph(name: string): GraphSession {
    const g = this.graphs.get(name);
    if (!g) {
      throw new VplError('VPL7101', `the program '${this.json.name}' has no graph '${name}'`, {
        help: `its graphs are: ${[...this.graphs.keys()].join(', ')}`,
      });
    }
    return g;
  }

  async release(): Promise<void> {
    for (const g of this.graphs.values()) await g.release();
  }
}

async function createSession(graph: string, model: string | Uint8Array, options: SessionOptions, file: string | undefined): Promise<ort.InferenceSession> {
  const ortOptions = ortSessionOptions(options);
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, ortOptions)
      : await ort.InferenceSession.create(model, ortOptions);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const firstLine = message.split('\n')[0]!.replace(/\x1b\[[0-9;]*m/g, '');
    if (options.device === 'cuda' && /cuda|providers_shared|shared library|cudnn|cublas/i.test(message)) {
      throw cudaError(`onnxruntime could not start the CUDA execution provider: ${firstLine}`, error);
    }
    throw new VplError('VPL7101', `onnxruntime could not load graph '${graph}': ${firstLine}`, {
      ...(file === undefined ? {} : { file }),
      help: 'recompile the pipeline (delete the cached program folder); if it persists, please report it',
      cause: error,
    });
  }
}

function requireDevice(options: SessionOptions): Device {
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') {
    throw new VplError('VPL7100', `unknown device '${String(device)}'`, { help: 'use --device cpu (default) or --device cuda' });
  }
  if (device === 'cuda') {
    const cuda = cudaAvailability();
    if (!cuda.available) throw cudaError(cuda.reason!);
  }
  return device;
}

/** Bytes of the weights a program folder's models point to: weights.bin and the linked checkpoints. */
function externalWeightBytes(dir: string, json: ProgramJson): number {
  let bytes = json.externalData?.bytes ?? 0;
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith(SOURCE_LINK_PREFIX)) bytes += fs.statSync(path.join(dir, entry)).size;
  }
  return bytes;
}

/** Loads every graph of an emitted program folder (sessions from the model paths, so external data resolves). */
export async function loadProgramDir(dir: string, options: SessionOptions = {}): Promise<ProgramSessions> {
  const device = requireDevice(options);
  const jsonPath = path.join(dir, 'program.json');
  let json: ProgramJson;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as ProgramJson;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new VplError('VPL7101', missing ? 'this is not a compiled program folder: program.json is missing' : `program.json is invalid: ${(error as Error).message}`, {
      file: missing ? dir : jsonPath,
      help: 'compile the pipeline again; a program folder holds program.json and one .onnx file per graph',
      cause: error,
    });
  }
  if (typeof json !== 'object' || json === null || typeof json.graphs !== 'object' || json.graphs === null) {
    throw new VplError('VPL7101', 'program.json has no graphs', { file: jsonPath, help: 'compile the pipeline again' });
  }
  if (json.externalData && !fs.existsSync(path.join(dir, json.externalData.file))) {
    throw new VplError('VPL7101', `the program's external weights file '${json.externalData.file}' is missing`, {
      file: dir,
      help: 'compile the pipeline again (the folder was copied without its weights?)',
    });
  }
  const mappedWeights = options.mappedWeights ?? externalWeightBytes(dir, json) >= MAPPED_WEIGHTS_BYTES;
  const graphs = new Map<string, GraphSession>();
  try {
    for (const [name, entry] of Object.entries(json.graphs)) {
      const file = path.join(dir, entry.file);
      if (!fs.existsSync(file)) {
        throw new VplError('VPL7101', `graph '${name}' is missing: ${entry.file} is not in the program folder`, { file: dir, help: 'compile the pipeline again' });
      }
      graphs.set(name, new GraphSession(name, entry.inputs, entry.outputs, await createSession(name, file, { ...options, device, mappedWeights }, file)));
    }
  } catch (error) {
    for (const g of graphs.values()) await g.release();
    throw error;
  }
  return new ProgramSessions(json, graphs, device, mappedWeights);
}

/**
 * Loads an in-memory Program. Without external weights every model is created from bytes;
 * with them the program is emitted to the cache first (sessions from paths: a model over
 * 2 GB cannot be passed as bytes).
 */
export async function loadProgram(program: Program, options: SessionOptions = {}): Promise<ProgramSessions> {
  const device = requireDevice(options);
  // checkpoint tensors stay in their file: the cache entry links to it rather than copying GBs
  const emission = { referenceSources: true, ...(options.externalThreshold === undefined ? {} : { externalThreshold: options.externalThreshold }) };
  const plan = planEmission(program, emission);
  if (plan.blobs.length > 0 || plan.links.length > 0) {
    const cached = compileCached(program, { ...emission, ...(options.cacheRoot === undefined ? {} : { root: options.cacheRoot }) });
    return loadProgramDir(cached.dir, { ...options, device });
  }
  const graphs = new Map<string, GraphSession>();
  try {
    for (const [name, bytes] of plan.models) {
      const entry = plan.json.graphs[name]!;
      graphs.set(name, new GraphSession(name, entry.inputs, entry.outputs, await createSession(name, bytes, { ...options, device }, undefined)));
    }
  } catch (error) {
    for (const g of graphs.values()) await g.release();
    throw error;
  }
  return new ProgramSessions(plan.json, graphs, device);
}
