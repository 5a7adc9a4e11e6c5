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
const ALIGN = 64;

export interface EmitProgramOptions {
  /** Initializers of at least this many bytes go to weights.bin (default 1 MiB). */
  externalThreshold?: number;
}

interface Blob {
  value: Value;
  init: Initializer;
  offset: number;
  length: number;
}

/** The emission plan: external-data layout and the model bytes of every graph. Writes nothing. */
export interface EmissionPlan {
  models: Map<string, Uint8Array>;
  blobs: Blob[];
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

export function planEmission(program: Program, options: EmitProgramOptions = {}): EmissionPlan {
  const threshold = options.externalThreshold ?? 1 << 20;
  const blobs = new Map<Value, Blob>();
  let offset = 0;
  const models = new Map<string, Uint8Array>();
  const graphs: ProgramJson['graphs'] = {};
  for (const name of Object.keys(program.graphs).sort()) {
    const graph = program.graphs[name];
    const view = new Graph(graph.name); // same nodes and values, initializers re-pointed
    view.inputs.push(...graph.inputs);
    view.outputs.push(...graph.outputs);
    view.nodes = graph.nodes;
    let external = 0;
    for (const [value, init] of graph.initializers) {
      if (byteLength(value) < threshold) {
        // small weights from a checkpoint are read in: the model must not point outside its directory
        view.initializers.set(value, init.data ? init : { data: readSmallExternal(value, init) });
        continue;
      }
      let blob = blobs.get(value);
      if (!blob) {
        const length = init.external?.length ?? byteLength(value);
        if (length !== byteLength(value)) throw new Error(`initializer '${value.name}': ${length} bytes of external data for ${byteLength(value)}`);
        blob = { value, init, offset, length };
        blobs.set(value, blob);
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
  const json: ProgramJson = {
    name: program.name,
    vplcVersion: VPLC_VERSION,
    hash: '',
    graphs,
    schedule: program.schedule,
    weights: program.weights,
    externalData: list.length ? { file: EXTERNAL_DATA_FILE, bytes: externalBytes } : null,
  };
  json.hash = hashPlan(models, list, json);
  return { models, blobs: list, externalBytes, json };
}

/** sha256 over the vplc version, the models (external data by reference), the blobs' contents or sources, schedule and manifest. */
function hashPlan(models: Map<string, Uint8Array>, blobs: Blob[], json: ProgramJson): string {
  const h = createHash('sha256');
  h.update(`vplc ${VPLC_VERSION}\n`);
  for (const [name, bytes] of models) h.update(`graph ${name} ${bytes.length}\n`).update(bytes);
  for (const blob of blobs) {
    h.update(`blob ${blob.value.name} ${blob.offset} ${blob.length}\n`);
    if (blob.init.data) h.update(new Uint8Array(blob.init.data.buffer, blob.init.data.byteOffset, blob.init.data.byteLength));
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
  for (const [name, bytes] of plan.models) fs.writeFileSync(path.join(dir, `${name}.onnx`), bytes);
  if (plan.blobs.length > 0) {
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
