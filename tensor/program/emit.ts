// Emission of a Program to a directory:
//   <dir>/<graph>.onnx    one ONNX model per graph
//   <dir>/weights.bin     frozen initializers of at least `externalThreshold` bytes (default
//                         1 MiB), shared by all graphs (a weight used by sample_step and
//                         train_step is stored once), each 64-byte aligned
//   <dir>/program.json    schedule, weight manifest, graph interfaces, hash
//
// Models over 2 GB: protobuf cannot serialise a message over 2 GB, so large initializers must
// live outside the ModelProto. Here every initializer over the threshold is written to
// weights.bin and the model only holds (location, offset, length); the .onnx stays small whatever
// the weights weigh, and weights.bin is written tensor by tensor (in-memory data, or byte ranges
// copied from the source checkpoint in 16 MiB chunks), so nothing holds 2 GB at once. onnxruntime
// resolves `location` relative to the model file when the session is created from the path
// (InferenceSession.create('<dir>/train_step.onnx')); a session created from bytes instead needs
// the `externalData` session option ([{ path: 'weights.bin', data: <its bytes> }]; the Node
// binding takes bytes only, so over 2 GB load from the path).
// Loop-body initializers stay inline (small constants).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { emitModel } from '../emit/onnx.ts';
import { allocate, dtypes, type TypedArray } from '../ir/dtype.ts';
import { Graph, type Initializer, type Value } from '../ir/graph.ts';
import type { Program, ProgramJson, TensorSpec } from './program.ts';

export const VPLC_VERSION = '0.1.0';
export const EXTERNAL_DATA_FILE = 'weights.bin';
/** Hard links to source checkpoints in a program folder are named `source-<n><ext>`. */
export const SOURCE_LINK_PREFIX = 'source-';
const ALIGN = 64;

export interface EmitProgramOptions {
  /** Initializers of at least this many bytes go to weights.bin (default 1 MiB). */
  externalThreshold?: number;
  /**
   * Large weights that are byte ranges of a checkpoint stay there: the folder gets a hard link
   * to each source file (`source-<n><ext>`; a copy only across file systems) and the models
   * point into it, so a 5 GB checkpoint is neither copied nor read by vplc (the runtime's cache
   * uses this). Off: weights.bin holds a copy, and the folder stands alone (`vplc compile`).
   */
  referenceSources?: boolean;
}

interface Blob {
  value: Value;
  init: Initializer;
  offset: number;
  length: number;
}

/** A checkpoint file the models point into (referenceSources): `link` in the folder -> `file`. */
export interface SourceLink {
  link: string;
  file: string;
}

/** The emission plan: external-data layout and the model bytes of every graph. Writes nothing. */
export interface EmissionPlan {
  models: Map<string, Uint8Array>;
  blobs: Blob[];
  links: SourceLink[];
  externalBytes: number;
  json: ProgramJson;
}

function readSmallExternal(value: Value, init: Initializer): TypedArray {
  const { file, offset, length } = init.external!;
  const bytes = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try {
    if (fs.readSync(fd, bytes, 0, length, offset) !== length) throw new Error(`${file}: too short for weight '${value.name}'`);
  } finally {
    fs.closeSync(fd);
  }
  const data = allocate(value.dtype, value.size);
  new Uint8Array(data.buffer).set(bytes);
  return data;
}

function byteLength(v: Value): number {
  return v.size * dtypes[v.dtype].bytes;
}

/**
 * A Reshape of a weight (a 1x1 conv kernel used as a matrix, a norm's scale as [C, 1, 1]) is
 * emitted as a second initializer over the same bytes: onnxruntime would fold the Reshape into a
 * private copy of the weight, and a weight mapped from a checkpoint must stay mapped. Only the
 * emitted model changes; the IR graph keeps its nodes.
 */
export function reshapedWeightsAsViews(graph: Graph): { nodes: Graph['nodes']; initializers: Map<Value, Initializer> } {
  const initializers = new Map(graph.initializers);
  const reshaped = new Set<Value>();
  const nodes = graph.nodes.filter((node) => {
    const weight = node.op === 'Reshape' && node.inputs.length === 1 ? node.inputs[0]! : undefined;
    const source = weight && initializers.get(weight);
    if (!source || graph.outputs.includes(node.outputs[0]!)) return true;
    initializers.set(node.outputs[0]!, source);
    reshaped.add(weight);
    return false;
  });
  // a weight only ever used reshaped is not emitted (onnxruntime warns about unused initializers)
  const used = new Set<Value>(graph.outputs);
  const visit = (list: Graph['nodes']) => {
    for (const node of list) {
      for (const v of node.inputs) if (v) used.add(v);
      for (const a of Object.values(node.attributes)) if (a instanceof Graph) visit(a.nodes);
    }
  };
  visit(nodes);
  for (const weight of reshaped) if (!used.has(weight)) initializers.delete(weight);
  return { nodes, initializers };
}

export function planEmission(program: Program, options: EmitProgramOptions = {}): EmissionPlan {
  const threshold = options.externalThreshold ?? 1 << 20;
  // A weight used by several graphs is one Value per graph: stored once, keyed by where its
  // bytes come from.
  const blobs = new Map<string, Blob>();
  const dataIds = new WeakMap<TypedArray, number>();
  let nextDataId = 0;
  const sourceOf = (value: Value, init: Initializer): string => {
    if (init.lazy) return `lazy:${value.name}:${init.lazy.key}`;
    if (init.external) return `file:${init.external.file}:${init.external.offset}:${init.external.length}:${value.name}`;
    let id = dataIds.get(init.data!);
    if (id === undefined) dataIds.set(init.data!, (id = nextDataId++));
    return `data:${id}`;
  };
  const links = new Map<string, SourceLink>(); // source file -> its link
  const linkOf = (file: string): SourceLink => {
    let link = links.get(file);
    if (!link) links.set(file, (link = { link: `${SOURCE_LINK_PREFIX}${links.size}${path.extname(file)}`, file: path.resolve(file) }));
    return link;
  };
  let offset = 0;
  const models = new Map<string, Uint8Array>();
  const graphs: ProgramJson['graphs'] = {};
  for (const name of Object.keys(program.graphs).sort()) {
    const graph = program.graphs[name];
    const view = new Graph(graph.name); // same nodes and values, initializers re-pointed
    view.inputs.push(...graph.inputs);
    view.outputs.push(...graph.outputs);
    const { nodes, initializers } = reshapedWeightsAsViews(graph);
    view.nodes = nodes;
    let external = 0;
    for (const [value, init] of initializers) {
      if (byteLength(value) < threshold && !init.lazy) {
        // small weights from a checkpoint are read in: the model must not point outside its directory
        view.initializers.set(value, init.data ? init : { data: readSmallExternal(value, init) });
        continue;
      }
      if (options.referenceSources && init.external) {
        view.initializers.set(value, { external: { ...init.external, file: linkOf(init.external.file).link } });
        external++;
        continue;
      }
      const source = sourceOf(value, init);
      let blob = blobs.get(source);
      if (!blob) {
        const length = init.external?.length ?? byteLength(value);
        if (length !== byteLength(value)) throw new Error(`initializer '${value.name}': ${length} bytes of external data for ${byteLength(value)}`);
        blob = { value, init, offset, length };
        blobs.set(source, blob);
        offset = Math.ceil((offset + length) / ALIGN) * ALIGN;
      }
      view.initializers.set(value, { external: { file: EXTERNAL_DATA_FILE, offset: blob.offset, length: blob.length } });
      external++;
    }
    models.set(name, emitModel(view, { docString: `vplc program '${program.name}', graph '${name}'` }));
    const spec = (v: Value): TensorSpec => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] });
    graphs[name] = { file: `${name}.onnx`, inputs: graph.inputs.map(spec), outputs: graph.outputs.map(spec), externalInitializers: external };
  }
  const list = [...blobs.values()];
  const externalBytes = list.length ? list[list.length - 1].offset + list[list.length - 1].length : 0;
  const lazy = list.filter((blob) => blob.init.lazy).length;
  const json: ProgramJson = {
    name: program.name,
    vplcVersion: VPLC_VERSION,
    hash: '',
    graphs,
    schedule: program.schedule,
    weights: program.weights,
    externalData: list.length ? { file: EXTERNAL_DATA_FILE, bytes: externalBytes, ...(lazy > 0 ? { written: false, lazyTensors: lazy } : {}) } : null,
  };
  json.hash = hashPlan(models, list, json, [...links.values()]);
  return { models, blobs: list, links: [...links.values()], externalBytes, json };
}

/** sha256 over the vplc version, the models (external data by reference), the blobs' contents or sources, schedule and manifest. */
function hashPlan(models: Map<string, Uint8Array>, blobs: Blob[], json: ProgramJson, links: SourceLink[]): string {
  const h = createHash('sha256');
  h.update(`vplc ${VPLC_VERSION}\n`);
  for (const { link, file } of links) {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    h.update(`link ${link} ${file} ${stat?.size ?? -1} ${stat?.mtimeMs ?? -1}\n`);
  }
  for (const [name, bytes] of models) h.update(`graph ${name} ${bytes.length}\n`).update(bytes);
  for (const blob of blobs) {
    h.update(`blob ${blob.value.name} ${blob.offset} ${blob.length}\n`);
    if (blob.init.data) h.update(new Uint8Array(blob.init.data.buffer, blob.init.data.byteOffset, blob.init.data.byteLength));
    else if (blob.init.lazy) h.update(`lazy ${blob.init.lazy.key}\n`);
    else if (blob.init.external) {
      const { file, offset } = blob.init.external;
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      // a source checkpoint is identified by path, range, size and mtime (hashing GBs is too slow)
      h.update(`${path.resolve(file)} ${offset} ${stat?.size ?? -1} ${stat?.mtimeMs ?? -1}\n`);
    }
  }
  h.update(JSON.stringify({ schedule: json.schedule, weights: json.weights }));
  return h.digest('hex');
}

/** Write the planned program into `dir` (created if needed). */
export function writeEmission(plan: EmissionPlan, dir: string): ProgramJson {
  fs.mkdirSync(dir, { recursive: true });
  for (const { link, file } of plan.links) {
    // a hard link: onnxruntime refuses external data that resolves outside the model's folder
    // (symbolic links included); across file systems there is nothing to do but copy
    const at = path.join(dir, link);
    fs.rmSync(at, { force: true });
    try {
      fs.linkSync(file, at);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      fs.copyFileSync(file, at);
    }
  }
  for (const [name, bytes] of plan.models) fs.writeFileSync(path.join(dir, `${name}.onnx`), bytes);
  // weights known by shape only: the layout is planned, but there are no bytes to write (and a
  // weights.bin left by an earlier compile would not match the models)
  const lazy = plan.blobs.some((blob) => blob.init.lazy);
  if (lazy) fs.rmSync(path.join(dir, EXTERNAL_DATA_FILE), { force: true });
  if (plan.blobs.length > 0 && !lazy) {
    const fd = fs.openSync(path.join(dir, EXTERNAL_DATA_FILE), 'w');
    try {
      for (const blob of plan.blobs) writeBlob(fd, blob);
    } finally {
      fs.closeSync(fd);
    }
  }
  fs.writeFileSync(path.join(dir, 'program.json'), `${JSON.stringify(plan.json, null, 2)}\n`);
  return plan.json;
}

function writeBlob(fd: number, blob: Blob): void {
  if (blob.init.data) {
    const d = blob.init.data;
    fs.writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength), 0, d.byteLength, blob.offset);
    return;
  }
  const source = blob.init.external!;
  const src = fs.openSync(source.file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(16 << 20, blob.length));
    for (let done = 0; done < blob.length; ) {
      const n = fs.readSync(src, chunk, 0, Math.min(chunk.length, blob.length - done), source.offset + done);
      if (n === 0) throw new Error(`${source.file}: ends before byte ${source.offset + blob.length} (weight '${blob.value.name}')`);
      fs.writeSync(fd, chunk, 0, n, blob.offset + done);
      done += n;
    }
  } finally {
    fs.closeSync(src);
  }
}

export function emitProgram(program: Program, dir: string, options: EmitProgramOptions = {}): ProgramJson {
  return writeEmission(planEmission(program, options), dir);
}
