// Opening a whole model's checkpoint: detect its layout, apply the layout's key map
// (stdlib/models/layouts.ts) to the names the build's networks ask for, and check everything
// at once into a LoadReport before a single tensor is read.
//
//   a file (.ckpt/.pt/.pth/.bin, or .safetensors)  the lightning layout (VideoCrafter2)
//   a folder with model_index.json                 the diffusers layout (ModelScope T2V):
//                                                  unet/, vae/, text_encoder/, each one
//                                                  file, a *.fp16.* variant, or shards with
//                                                  an *.index.json
//
// The WeightSource it returns is lazy: a tensor that needs no change and whose bytes lie
// contiguous and uncompressed in its file is an `external` byte range (onnxruntime reads it,
// no JS copy); a converted (fp16/bf16 -> the compute dtype) or transformed (concatenated,
// transposed) one is built, with synchronous positioned reads, when its data is first asked for.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { VplError } from '../../diagnostics/error.ts';
import type { DType, TypedArray as IrTypedArray } from '../../tensor/ir/dtype.ts';
import { ignoredBecause, type KeyMap, plannedShape, type SourcePlan, sourceOf } from '../../stdlib/models/keymap.ts';
import { componentSources, diffusersFolders, keyMapFor, type LayoutName } from '../../stdlib/models/layouts.ts';
import { checkpointKey, type ModelBuild } from '../../stdlib/models/registry.ts';
import type { CheckpointTensor, WeightSource } from '../../stdlib/nn/parameters.ts';
import { ioError } from '../fs/io-error.ts';
import { dtypes, type Dtype, fromFloat32, numelOf, toFloat32, type TypedArray, viewAs } from './dtype.ts';
import type { LoadReport, MatchedParameter, Mismatch, MissingParameter, ReportComponent, UnexpectedKey } from './load-report.ts';
import { modelParameters, type ExpectedParameter } from './model-parameters.ts';
import { SafetensorsReader } from './safetensors.ts';
import { openTorchCheckpoint } from './torch-zip.ts';
import { compression, ZipReader } from './zip.ts';

export interface OpenModelCheckpointOptions {
  /** The dtype the networks compute in (float32 by default): every tensor is converted to it. */
  dtype?: DType;
  /** diffusers: which files of each folder (`fp16`: the *.fp16.* variant); default the plain ones, else the variant. */
  variant?: 'fp16';
  /** Parameter name -> the key the ParameterStore asks the source for (default: checkpointKey(build)). */
  keyOf?: (name: string) => string;
}

export interface ModelCheckpoint {
  source: WeightSource;
  report: LoadReport;
  /** `lightning`, `lightning (deepspeed)`, `diffusers`. */
  layout: string;
  /** The files read, by component for a diffusers folder. */
  files: string[];
  close(): Promise<void>;
}

// ------------------------------------------------------------------ source tensors

/** One tensor of the opened files, under its layout key (`unet/conv_in.weight` in a folder). */
interface SourceTensor {
  key: string;
  file: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte range in `file` when the elements lie there contiguous and uncompressed. */
  span?: { offset: number; length: number };
  /** The raw elements (F16/BF16 as Uint16 bits). */
  read(): TypedArray;
}

/** Open files read with synchronous positioned reads (WeightSource.get is synchronous). */
class Files {
  private readonly fds = new Map<string, number>();

  fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, 'r');
      } catch (error) {
        throw ioError(error, file, 'read');
      }
      this.fds.set(file, fd);
    }
    return fd;
  }

  read(file: string, offset: number, length: number): Uint8Array {
    const bytes = new Uint8Array(new ArrayBuffer(length));
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd(file), bytes, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new VplError('VPL7011', `the file ended at byte ${offset + done} while reading up to byte ${offset + length}: it is truncated`, { file, help: 're-download or restore the file' });
      done += n;
    }
    return bytes;
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

async function safetensorsTensors(file: string, files: Files, prefix: string): Promise<SourceTensor[]> {
  const reader = await SafetensorsReader.open(file);
  await reader.close(); // the header is all we need; data is read through `files`
  return [...reader.header.entries.values()].map((e) => ({
    key: prefix + e.name,
    file,
    dtype: e.dtype,
    shape: e.shape,
    span: { offset: e.fileOffset, length: e.byteLength },
    read: () => viewAs(e.dtype, files.read(file, e.fileOffset, e.byteLength)),
  }));
}

function contiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== step) return false;
    step *= shape[i];
  }
  return true;
}

/** A torch.save zip: tensors of stored (uncompressed) entries are byte ranges of the file. */
async function torchTensors(file: string, files: Files, prefix: string): Promise<SourceTensor[]> {
  const checkpoint = await openTorchCheckpoint(file);
  await checkpoint.close();
  const zip = await ZipReader.open(file);
  const starts = new Map<string, { offset: number; method: number; compressed: number }>();
  try {
    for (const t of checkpoint.tensors.values()) {
      if (starts.has(t.storageEntry)) continue;
      const entry = zip.entries.get(t.storageEntry);
      if (!entry) {
        throw new VplError('VPL7024', `tensor '${t.name}' refers to storage '${t.storageEntry}', which the archive does not contain`, { file, help: 'the archive is incomplete; re-download it or re-save it with torch.save' });
      }
      starts.set(t.storageEntry, { offset: await zip.dataOffset(entry), method: entry.method, compressed: entry.compressedSize });
    }
  } finally {
    await zip.close();
  }
  const inflated = new Map<string, Uint8Array>();
  return [...checkpoint.tensors.values()].map((t) => {
    const size = dtypes[t.dtype].bytes;
    const numel = numelOf(t.shape);
    const start = starts.get(t.storageEntry)!;
    const stored = start.method === compression.stored;
    const flat = contiguous(t.shape, t.strides);
    const span = stored && flat ? { offset: start.offset + t.storageOffset * size, length: numel * size } : undefined;
    // The bytes of the storage from `at` on (a deflated entry is inflated once, on first use).
    const storageBytes = (at: number, length: number): Uint8Array => {
      if (stored) return files.read(file, start.offset + at, length);
      let all = inflated.get(t.storageEntry);
      if (!all) inflated.set(t.storageEntry, (all = new Uint8Array(inflateRawSync(files.read(file, start.offset, start.compressed)))));
      return all.slice(at, at + length);
    };
    const read = (): TypedArray => {
      if (numel === 0) return viewAs(t.dtype, new Uint8Array(0));
      if (flat) return viewAs(t.dtype, storageBytes(t.storageOffset * size, numel * size));
      // A strided view saved as is (a transpose or slice): read the span it touches, then gather.
      let last = t.storageOffset;
      for (let i = 0; i < t.shape.length; i++) last += (t.shape[i] - 1) * t.strides[i];
      const touched = storageBytes(t.storageOffset * size, (last - t.storageOffset + 1) * size);
      const out = new Uint8Array(numel * size);
      const index = new Array<number>(t.shape.length).fill(0);
      for (let n = 0; n < numel; n++) {
        let element = 0;
        for (let d = 0; d < index.length; d++) element += index[d] * t.strides[d];
        out.set(touched.subarray(element * size, element * size + size), n * size);
        for (let d = index.length - 1; d >= 0; d--) {
          if (++index[d] < t.shape[d]) break;
          index[d] = 0;
        }
      }
      return viewAs(t.dtype, out);
    };
    return { key: prefix + t.name, file, dtype: t.dtype, shape: t.shape, ...(span ? { span } : {}), read };
  });
}

/** Chooses the reader by content (zip magic), as openWeights does. */
async function fileTensors(file: string, files: Files, prefix = ''): Promise<SourceTensor[]> {
  const head = files.read(file, 0, Math.min(4, fs.statSync(file).size));
  const torch = (head[0] === 0x50 && head[1] === 0x4b) || head[0] === 0x80;
  return torch ? torchTensors(file, files, prefix) : safetensorsTensors(file, files, prefix);
}

// ------------------------------------------------------------------ layouts on disk

interface Opened {
  layout: LayoutName;
  label: string;
  tensors: SourceTensor[];
  files: string[];
}

/** DeepSpeed checkpoints keep the state dict under module._forward_module. (VideoCrafter's load_model_checkpoint). */
const deepspeedPrefix = 'module._forward_module.';

async function openLightning(file: string, files: Files): Promise<Opened> {
  let tensors = await fileTensors(file, files);
  let label = 'lightning';
  if (tensors.length > 0 && tensors.every((t) => t.key.startsWith(deepspeedPrefix))) {
    tensors = tensors.map((t) => ({ ...t, key: t.key.slice(deepspeedPrefix.length) }));
    label = 'lightning (deepspeed)';
  }
  return { layout: 'lightning', label, tensors, files: [file] };
}

/** The weight files of one diffusers folder, in the order they are preferred. */
function folderCandidates(stems: readonly string[], variant: 'fp16' | undefined): string[] {
  const plain = stems.flatMap((s) => [`${s}.safetensors`, `${s}.safetensors.index.json`, `${s}.bin`, `${s}.bin.index.json`]);
  const fp16 = stems.flatMap((s) => [`${s}.fp16.safetensors`, `${s}.safetensors.index.fp16.json`, `${s}.fp16.bin`, `${s}.bin.index.fp16.json`]);
  return variant === 'fp16' ? [...fp16, ...plain] : [...plain, ...fp16];
}

const folderStems: Readonly<Record<keyof typeof diffusersFolders, readonly string[]>> = {
  unet: ['diffusion_pytorch_model'],
  vae: ['diffusion_pytorch_model'],
  // transformers names its files model.* (safetensors) and pytorch_model.* (torch).
  clip: ['model', 'pytorch_model'],
};

async function openDiffusers(dir: string, files: Files, variant: 'fp16' | undefined): Promise<Opened> {
  let index: Record<string, unknown>;
  try {
    index = JSON.parse(fs.readFileSync(path.join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new VplError('VPL7130', `model_index.json of the diffusers folder cannot be read: ${(error as Error).message}`, { file: dir, help: 'restore model_index.json (it names the pipeline and its folders)' });
  }
  const tensors: SourceTensor[] = [];
  const used: string[] = [];
  for (const [component, folder] of Object.entries(diffusersFolders) as [keyof typeof diffusersFolders, string][]) {
    const where = path.join(dir, folder);
    const candidates = folderCandidates(folderStems[component], variant);
    const found = candidates.find((name) => fs.existsSync(path.join(where, name)));
    if (!found) {
      throw new VplError('VPL7130', `the diffusers folder has no ${folder} weights: none of ${candidates.slice(0, 4).join(', ')} (or their fp16 variants) is in ${where}`, {
        file: dir,
        help: `download the ${folder}/ folder of the model (its config.json and weights) into ${dir}`,
      });
    }
    const prefix = `${folder}/`;
    if (found.includes('.index.')) {
      const indexFile = path.join(where, found);
      let map: Record<string, string>;
      try {
        map = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
      } catch (error) {
        throw new VplError('VPL7130', `the shard index cannot be read: ${(error as Error).message}`, { file: indexFile, help: 're-download the index and its shards' });
      }
      for (const shard of [...new Set(Object.values(map))]) {
        const shardFile = path.join(where, shard);
        if (!fs.existsSync(shardFile)) throw new VplError('VPL7130', `shard ${shard} named by ${found} is missing`, { file: indexFile, help: `download ${shard} into ${where}` });
        used.push(shardFile);
        tensors.push(...(await fileTensors(shardFile, files, prefix)));
      }
    } else {
      const file = path.join(where, found);
      used.push(file);
      tensors.push(...(await fileTensors(file, files, prefix)));
    }
  }
  const pipeline = typeof index._class_name === 'string' ? ` (${index._class_name})` : '';
  return { layout: 'diffusers', label: `diffusers${pipeline}`, tensors, files: used };
}

// ------------------------------------------------------------------ matching

/** Everything that resolved: the parameter, its plan and its source tensors. */
interface Resolved {
  parameter: ExpectedParameter;
  plan: SourcePlan;
  inputs: SourceTensor[];
  load: MatchedParameter['load'];
}

const irDtypeOf: Partial<Record<Dtype, DType>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const squeezed = (s: readonly number[]) => s.filter((d) => d !== 1);

function componentOfKey(key: string, sources: Readonly<Record<'unet' | 'vae' | 'clip', string>>): ReportComponent {
  for (const [component, prefix] of Object.entries(sources) as [ReportComponent, string][]) if (key.startsWith(prefix)) return component;
  return 'other';
}

/** Levenshtein distance, giving up (Infinity) beyond `limit`. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      best = Math.min(best, row[j]);
    }
    if (best > limit) return Infinity;
    previous = row;
  }
  return previous[b.length];
}

const lastPart = (key: string) => key.slice(key.lastIndexOf('.') + 1);

/**
 * The looked-for key nearest `key`: the same last part (weight, bias) first, then the
 * smallest edit distance within a third of the key's length. Skipped when there are too many
 * pairs to compare (a wrong layout: then nothing is near anyway).
 */
function nearest(key: string, wanted: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  const limit = Math.max(2, Math.floor(key.length / 3));
  for (const candidate of wanted) {
    const distance = editDistance(key, candidate, Math.min(limit, bestScore));
    const score = distance + (lastPart(candidate) === lastPart(key) ? 0 : 0.5);
    if (score < bestScore) (bestScore = score), (best = candidate);
  }
  return bestScore <= limit ? best : undefined;
}

/** How a report names what it read: the model, and which component a source key belongs to. */
interface ReportNaming {
  model: string;
  componentOfKey(key: string): ReportComponent;
  /** The components the report lists even when nothing of them was read (default unet, vae, clip). */
  components?: readonly string[];
}

function modelNaming(build: ModelBuild, layout: LayoutName): ReportNaming {
  const sources = componentSources[layout](build);
  return { model: build.name, componentOfKey: (key) => componentOfKey(key, sources) };
}

function match(map: KeyMap, opened: Pick<Opened, 'label' | 'tensors'>, target: string, expected: readonly ExpectedParameter[], naming: ReportNaming): { report: LoadReport; resolved: Resolved[] } {
  const byKey = new Map<string, SourceTensor>();
  for (const t of opened.tensors) if (!byKey.has(t.key)) byKey.set(t.key, t);
  const consumed = new Set<string>();
  const matched: MatchedParameter[] = [];
  const missing: MissingParameter[] = [];
  const mismatched: Mismatch[] = [];
  const absent: LoadReport['absent'] = [];
  const resolved: Resolved[] = [];

  for (const parameter of expected) {
    const { name, component } = parameter;
    const plan = sourceOf(map, name);
    if (!plan) {
      missing.push({ name, component, shape: parameter.shape, looked: [] });
      continue;
    }
    const found = plan.inputs.map((alternatives) => alternatives.map((k) => byKey.get(k)).find((t) => t !== undefined));
    for (const t of found) if (t) consumed.add(t.key);
    if (found.some((t) => t === undefined)) {
      if (plan.optional && found.every((t) => t === undefined)) absent.push({ name, component, why: plan.optional });
      else missing.push({ name, component, shape: parameter.shape, looked: plan.inputs.filter((_, i) => !found[i]).map((alternatives) => alternatives.join(' or ')) });
      continue;
    }
    const inputs = found as SourceTensor[];
    const keys = inputs.map((t) => t.key);
    const file = inputs[0].file;
    const first = inputs[0];
    const notFloat = inputs.find((t) => !dtypes[t.dtype].isFloat);
    if (notFloat) {
      mismatched.push({ name, component, keys, file, kind: 'dtype', expected: { shape: parameter.shape, dtype: parameter.dtype }, found: { shape: notFloat.shape, dtype: notFloat.dtype } });
      continue;
    }
    const planned = plannedShape(plan, inputs.map((t) => t.shape));
    const foundShape = typeof planned === 'string' ? first.shape : planned;
    const fits =
      typeof planned !== 'string' &&
      (sameShape(planned, parameter.shape) || (plan.reshape && numelOf(planned) === numelOf(parameter.shape) && sameShape(squeezed(planned), squeezed(parameter.shape))));
    if (!fits) {
      mismatched.push({
        name,
        component,
        keys,
        file,
        kind: 'shape',
        expected: { shape: parameter.shape, dtype: parameter.dtype },
        found: { shape: foundShape, dtype: first.dtype },
        ...(typeof planned === 'string' ? { why: planned } : {}),
      });
      continue;
    }
    const direct = plan.op === 'copy' && first.span !== undefined && irDtypeOf[first.dtype] === parameter.dtype;
    const load: MatchedParameter['load'] = direct ? 'external' : plan.op === 'copy' ? 'copied' : 'transformed';
    const bytes = inputs.reduce((n, t) => n + numelOf(t.shape) * dtypes[t.dtype].bytes, 0);
    matched.push({ name, component, keys, file, dtype: first.dtype, shape: [...foundShape], bytes, load });
    resolved.push({ parameter, plan, inputs, load });
  }

  const wanted = missing.flatMap((m) => m.looked.flatMap((l) => l.split(' or ')));
  const ignored = new Map<string, string[]>();
  const leftovers = opened.tensors.filter((t) => !consumed.has(t.key));
  const suggest = leftovers.length * wanted.length <= 250_000;
  const unexpected: UnexpectedKey[] = [];
  for (const t of leftovers) {
    const why = ignoredBecause(map, t.key);
    if (why !== undefined) {
      ignored.set(why, [...(ignored.get(why) ?? []), t.key]);
      continue;
    }
    const didYouMean = suggest ? nearest(t.key, wanted) : undefined;
    unexpected.push({ key: t.key, component: naming.componentOfKey(t.key), file: t.file, dtype: t.dtype, shape: t.shape, ...(didYouMean ? { didYouMean } : {}) });
  }
  const report: LoadReport = {
    path: target,
    layout: opened.label,
    model: naming.model,
    ...(naming.components ? { components: [...naming.components] } : {}),
    matched,
    missing,
    unexpected,
    mismatched,
    absent,
    ignored: [...ignored].map(([why, keys]) => ({ why, keys })),
  };
  return { report, resolved };
}

/** A tensor of a checkpoint listing (names, dtypes and shapes: a manifest, a file's header). */
export interface ListedTensor {
  key: string;
  dtype: Dtype;
  shape: number[];
  file?: string;
}

/**
 * The report of a checkpoint given by its listing alone (no files): what openModelCheckpoint
 * would say of a checkpoint with these keys in `layout`.
 */
export function reportForListing(model: ModelBuild, layout: LayoutName, listing: readonly ListedTensor[], options: { target?: string; dtype?: DType } = {}): LoadReport {
  const target = options.target ?? '(listing)';
  const tensors: SourceTensor[] = listing.map((t) => ({
    key: t.key,
    file: t.file ?? target,
    dtype: t.dtype,
    shape: [...t.shape],
    read: () => {
      throw new Error(`a listing has no data (${t.key})`);
    },
  }));
  const opened: Opened = { layout, label: layout, tensors, files: [] };
  return match(keyMapFor(model, layout), opened, target, modelParameters(model, { dtype: options.dtype ?? 'float32' }), modelNaming(model, layout)).report;
}

// ------------------------------------------------------------------ building tensors

function encode(values: Float32Array, dtype: DType): IrTypedArray {
  switch (dtype) {
    case 'float32':
      return values;
    case 'float16':
      return fromFloat32('F16', values) as Uint16Array;
    case 'bfloat16':
      return fromFloat32('BF16', values) as Uint16Array;
    case 'float64':
      return Float64Array.from(values);
    default:
      throw new Error(`cannot load weights as ${dtype}`);
  }
}

/** Row-major strides of `shape`. */
function stridesOf(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) (out[i] = step), (step *= shape[i]);
  return out;
}

function concatenate(parts: readonly Float32Array[], shapes: readonly (readonly number[])[], axis: number): Float32Array {
  const outer = numelOf(shapes[0].slice(0, axis));
  const chunks = shapes.map((s) => numelOf(s.slice(axis)));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (let o = 0; o < outer; o++) {
    parts.forEach((p, i) => {
      out.set(p.subarray(o * chunks[i], (o + 1) * chunks[i]), at);
      at += chunks[i];
    });
  }
  return out;
}

function splitPart(values: Float32Array, shape: readonly number[], axis: number, index: number, parts: number): Float32Array {
  const outer = numelOf(shape.slice(0, axis));
  const whole = numelOf(shape.slice(axis));
  const part = whole / parts;
  const out = new Float32Array(outer * part);
  for (let o = 0; o < outer; o++) out.set(values.subarray(o * whole + index * part, o * whole + (index + 1) * part), o * part);
  return out;
}

function transposed(values: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]);
  const inStrides = stridesOf(shape);
  const strides = perm.map((p) => inStrides[p]);
  const out = new Float32Array(values.length);
  const index = new Array<number>(outShape.length).fill(0);
  for (let n = 0; n < out.length; n++) {
    let from = 0;
    for (let d = 0; d < index.length; d++) from += index[d] * strides[d];
    out[n] = values[from];
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/** The parameter's elements in its dtype, built from its sources. */
function materialise(resolved: Resolved): IrTypedArray {
  const { plan, inputs, parameter } = resolved;
  const values = inputs.map((t) => toFloat32(t.dtype, t.read()));
  const shapes = inputs.map((t) => t.shape);
  let out: Float32Array;
  switch (plan.op) {
    case 'copy':
      out = values[0];
      break;
    case 'concat':
      out = concatenate(values, shapes, plan.axis);
      break;
    case 'split':
      out = splitPart(values[0], shapes[0], plan.axis, plan.index, plan.parts);
      break;
    case 'transpose':
      out = transposed(values[0], shapes[0], plan.perm);
      break;
  }
  return encode(out, parameter.dtype);
}

/** A CheckpointTensor whose `data` is read on first access (not enumerable, so copies never read it). */
function tensorOf(resolved: Resolved): CheckpointTensor {
  const { parameter, inputs, load } = resolved;
  const tensor: CheckpointTensor = { dtype: parameter.dtype, shape: [...parameter.shape] };
  if (load === 'external') {
    const { file, span } = inputs[0];
    tensor.external = { file, offset: span!.offset, length: span!.length };
  }
  let data: IrTypedArray | undefined;
  Object.defineProperty(tensor, 'data', { enumerable: false, get: () => (data ??= materialise(resolved)) });
  return tensor;
}

// ------------------------------------------------------------------ opening

/** Which layout `target` is in: a weights file, or a folder with model_index.json. */
function detect(target: string): LayoutName {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch (error) {
    throw ioError(error, target, 'read');
  }
  if (!stat.isDirectory()) return 'lightning';
  if (fs.existsSync(path.join(target, 'model_index.json'))) return 'diffusers';
  throw new VplError('VPL7130', 'this folder is not a diffusers pipeline folder (it has no model_index.json)', {
    file: target,
    help: 'give the checkpoint file (.ckpt, .pt, .bin or .safetensors), or the folder that holds model_index.json, unet/, vae/ and text_encoder/',
  });
}

/** The lazy WeightSource over what matched: each parameter under the key the store asks for. */
function checkpointOf(resolved: readonly Resolved[], keyOf: (name: string) => string, description: string): WeightSource {
  const byStoreKey = new Map<string, Resolved>(resolved.map((r) => [keyOf(r.parameter.name), r]));
  const tensors = new Map<string, CheckpointTensor>();
  return {
    description,
    get(key) {
      const r = byStoreKey.get(key);
      if (!r) return undefined;
      let tensor = tensors.get(key);
      if (!tensor) tensors.set(key, (tensor = tensorOf(r)));
      return tensor;
    },
    keys: () => byStoreKey.keys(),
  };
}

/**
 * Opens the checkpoint at `target` for `build`'s networks. Reads headers and pickles only:
 * the report is complete before any tensor data is read. The caller decides what to do with
 * a report that has problems (loadReportError(report) makes it a VPL7030).
 */
export async function openModelCheckpoint(model: ModelBuild, target: string, options: OpenModelCheckpointOptions = {}): Promise<ModelCheckpoint> {
  const layout = detect(target);
  const files = new Files();
  try {
    const opened = layout === 'diffusers' ? await openDiffusers(target, files, options.variant) : await openLightning(target, files);
    const expected = modelParameters(model, { dtype: options.dtype ?? 'float32' });
    const { report, resolved } = match(keyMapFor(model, layout), opened, target, expected, modelNaming(model, layout));
    const source = checkpointOf(resolved, options.keyOf ?? checkpointKey(model), `${target} (${opened.label})`);
    return { source, report, layout: opened.label, files: opened.files, close: async () => files.close() };
  } catch (error) {
    files.close();
    throw error;
  }
}

/** One file of a key-mapped checkpoint: its keys are read as `prefix + key`. */
export interface CheckpointPart {
  file: string;
  prefix: string;
}

export interface KeyMappedFilesOptions {
  /** What the report names as the checkpoint (a folder, a file). */
  target: string;
  /** The layout, for messages (`transformers CLIPModel`, `open_clip state dict`). */
  label: string;
  /** What the report says the weights are for (`reward pickscore`). */
  model: string;
  parts: readonly CheckpointPart[];
  map: KeyMap;
  expected: readonly ExpectedParameter[];
  /** Parameter name -> the key the ParameterStore asks the source for. */
  keyOf: (name: string) => string;
  /** The report's component of a source key (default: the part's prefix without its '/'). */
  componentOfKey?: (key: string) => ReportComponent;
  components?: readonly string[];
}

/**
 * Opens files read through one key map for parameters listed up front: what a network that is
 * not a model build's (a reward's image and text towers, its head) loads from. Lazy and strict
 * like openModelCheckpoint: headers only until a tensor is asked for, unchanged tensors as
 * external byte ranges, every problem in the report.
 */
export async function openKeyMappedFiles(o: KeyMappedFilesOptions): Promise<ModelCheckpoint> {
  const files = new Files();
  try {
    const tensors: SourceTensor[] = [];
    for (const part of o.parts) tensors.push(...(await fileTensors(part.file, files, part.prefix)));
    const byPrefix = (key: string): ReportComponent => o.parts.find((p) => p.prefix !== '' && key.startsWith(p.prefix))?.prefix.replace(/\/$/, '') ?? 'other';
    const naming: ReportNaming = { model: o.model, componentOfKey: o.componentOfKey ?? byPrefix, components: o.components ?? [] };
    const { report, resolved } = match(o.map, { label: o.label, tensors }, o.target, o.expected, naming);
    const source = checkpointOf(resolved, o.keyOf, `${o.target} (${o.label})`);
    return { source, report, layout: o.label, files: o.parts.map((p) => p.file), close: async () => files.close() };
  } catch (error) {
    files.close();
    throw error;
  }
}
