// PyTorch checkpoints (.ckpt, .pt, .pth, .bin) as written by torch.save since 1.6: a zip
// archive holding `<name>/data.pkl` (the pickled object, tensors as references) and
// `<name>/data/<key>` (one raw little-endian storage per key). The pickle is read with the
// safe reader (pickle.ts) and the torch allow-list; tensor bytes are read later, one tensor
// at a time, with positioned reads into the archive.
import { open } from 'node:fs/promises';
import { VplError } from '../../diagnostics/error.ts';
import { ioError } from '../fs/io-error.ts';
import { dtypes, numelOf, toFloat32, viewAs, type Dtype, type TypedArray } from './dtype.ts';
import { PyDict, unpickle, type PyValue } from './pickle.ts';
import { TorchTensorRef, torchGlobals, torchPersistentLoad } from './torch-globals.ts';
import { ZipReader, type ZipEntry } from './zip.ts';

export interface TorchTensorInfo {
  /** Dotted path in the state dict (`model.diffusion_model.input_blocks.0.0.weight`). */
  name: string;
  dtype: Dtype;
  shape: number[];
  strides: number[];
  /** In elements. */
  storageOffset: number;
  /** The archive entry holding the storage (`archive/data/17`). */
  storageEntry: string;
  /** The raw elements in row-major order (F16/BF16 as Uint16 bits). */
  read(): Promise<TypedArray>;
  readFloat32(): Promise<Float32Array>;
}

export interface TorchCheckpoint {
  path: string;
  /** The unpickled object (tensors appear as TorchTensorRef). For fields like `global_step`. */
  root: PyValue;
  /** The state dict's tensors, in file order. */
  tensors: Map<string, TorchTensorInfo>;
  close(): Promise<void>;
}

const zipMagic = [0x50, 0x4b, 0x03, 0x04];

const legacyHelp =
  're-save it with torch >= 1.6 (torch.save(torch.load(path), path)) or convert it to safetensors';

/** Says what a file is from its first bytes, with a clear error for what cannot be read. */
async function checkFormat(path: string): Promise<void> {
  let head: Uint8Array;
  try {
    const handle = await open(path, 'r');
    try {
      head = new Uint8Array(512);
      const { bytesRead } = await handle.read(head, 0, 512, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioError(error, path, 'read');
  }
  if (zipMagic.every((b, i) => head[i] === b)) return;
  if (head[0] === 0x80) {
    throw new VplError('VPL7023', 'this is a PyTorch file in the legacy (pre-1.6, non-zip) format, which vplc does not read', { file: path, help: legacyHelp });
  }
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') {
    throw new VplError('VPL7023', 'this is a PyTorch file in the oldest (tar) format, which vplc does not read', { file: path, help: legacyHelp });
  }
  throw new VplError('VPL7022', 'this is neither a PyTorch zip checkpoint nor a legacy PyTorch file', {
    file: path,
    help: 'vplc reads .safetensors files and PyTorch checkpoints written by torch.save; check the path',
  });
}

/** The `<name>/` prefix of the archive: the folder that holds data.pkl. */
function archivePrefix(zip: ZipReader): string {
  let best: string | undefined;
  for (const name of zip.entries.keys()) {
    if (name === 'data.pkl' || name.endsWith('/data.pkl')) {
      const prefix = name.slice(0, name.length - 'data.pkl'.length);
      if (best === undefined || prefix.length < best.length) best = prefix;
    }
  }
  if (best === undefined) {
    const torchScript = [...zip.entries.keys()].some((n) => n.endsWith('constants.pkl'));
    throw new VplError('VPL7024', torchScript
      ? 'this zip archive is a TorchScript module (torch.jit.save), not a state dict saved with torch.save'
      : 'this zip archive has no data.pkl, so it is not a PyTorch checkpoint', {
      file: zip.path,
      help: 'save the model\'s state_dict() with torch.save, or convert it to safetensors',
    });
  }
  return best;
}

/** Opens a checkpoint, reads its pickle and lists its tensors; no tensor data is read yet. */
export async function openTorchCheckpoint(path: string): Promise<TorchCheckpoint> {
  await checkFormat(path);
  const zip = await ZipReader.open(path);
  try {
    const prefix = archivePrefix(zip);
    const byteorder = zip.entries.get(`${prefix}byteorder`);
    if (byteorder !== undefined) {
      const order = new TextDecoder().decode(await zip.read(byteorder)).trim();
      if (order !== 'little') {
        throw new VplError('VPL7024', `the checkpoint's tensors are stored ${order}-endian; vplc reads little-endian ones only`, {
          file: path,
          help: 're-save it on a little-endian machine, or convert it to safetensors',
        });
      }
    }
    const pickle = await zip.read(zip.entries.get(`${prefix}data.pkl`)!);
    const root = unpickle(pickle, { file: path, globals: torchGlobals(path), persistentLoad: torchPersistentLoad(path) });
    const tensors = new Map<string, TorchTensorInfo>();
    for (const [name, ref] of stateDictTensors(root)) {
      tensors.set(name, describeTensor(zip, prefix, name, ref));
    }
    return { path, root, tensors, close: () => zip.close() };
  } catch (error) {
    await zip.close();
    throw error;
  }
}

/**
 * The tensors of a state dict, with dotted names. A `state_dict` key (Lightning and many
 * training scripts wrap weights as {"state_dict": {...}, "epoch": ...}) is unwrapped;
 * otherwise nested dicts and lists are flattened (`{"model": {"w": t}}` gives `model.w`).
 */
export function stateDictTensors(root: PyValue): Map<string, TorchTensorRef> {
  let dict = root;
  while (dict instanceof PyDict && dict.get('state_dict') instanceof PyDict) dict = dict.get('state_dict')!;
  const out = new Map<string, TorchTensorRef>();
  const seen = new Set<unknown>();
  const walk = (value: PyValue, path: string): void => {
    if (value instanceof TorchTensorRef) {
      out.set(path, value);
      return;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value); // pickles can hold cycles
    const join = (key: string): string => (path === '' ? key : `${path}.${key}`);
    if (value instanceof PyDict) {
      for (const [key, item] of value.items) {
        if (typeof key === 'string' || typeof key === 'number') walk(item, join(String(key)));
      }
    } else if (Array.isArray(value)) {
      (value as readonly PyValue[]).forEach((item, i) => walk(item, join(String(i))));
    }
  };
  walk(dict, '');
  return out;
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= Math.max(shape[i]!, 1);
  }
  return strides;
}

function describeTensor(zip: ZipReader, prefix: string, name: string, ref: TorchTensorRef): TorchTensorInfo {
  const file = zip.path;
  const entryName = `${prefix}data/${ref.storage.key}`;
  const dtype = ref.storage.type.dtype;
  if (dtype === undefined) {
    throw new VplError('VPL7012', `tensor '${name}' is stored as ${ref.storage.type.torchName}, which vplc cannot read`, {
      file,
      help: 'convert the tensor to float32, float16 or bfloat16 before saving',
    });
  }
  const size = dtypes[dtype].bytes;
  const numel = numelOf(ref.shape);
  const contiguous = ref.strides.every((s, i) => s === contiguousStrides(ref.shape)[i] || ref.shape[i] === 1);

  const entry = (): ZipEntry => {
    const found = zip.entries.get(entryName);
    if (found === undefined) {
      throw new VplError('VPL7024', `tensor '${name}' refers to storage '${entryName}', which the archive does not contain`, {
        file,
        help: 'the archive is incomplete; re-download it or re-save it with torch.save',
      });
    }
    return found;
  };

  const read = async (): Promise<TypedArray> => {
    if (numel === 0) return viewAs(dtype, new Uint8Array(0));
    const storage = entry();
    if (contiguous) {
      return viewAs(dtype, await zip.readRange(storage, ref.storageOffset * size, numel * size));
    }
    // A strided view (a transpose or slice saved as-is): read the span it touches, then gather.
    let last = ref.storageOffset;
    for (let i = 0; i < ref.shape.length; i++) last += (ref.shape[i]! - 1) * ref.strides[i]!;
    const span = await zip.readRange(storage, ref.storageOffset * size, (last - ref.storageOffset + 1) * size);
    const out = new Uint8Array(new ArrayBuffer(numel * size));
    const index = new Array<number>(ref.shape.length).fill(0);
    for (let n = 0; n < numel; n++) {
      let element = 0;
      for (let d = 0; d < index.length; d++) element += index[d]! * ref.strides[d]!;
      out.set(span.subarray(element * size, element * size + size), n * size);
      for (let d = index.length - 1; d >= 0; d--) {
        if (++index[d]! < ref.shape[d]!) break;
        index[d] = 0;
      }
    }
    return viewAs(dtype, out);
  };

  return {
    name,
    dtype,
    shape: [...ref.shape],
    strides: [...ref.strides],
    storageOffset: ref.storageOffset,
    storageEntry: entryName,
    read,
    readFloat32: async () => toFloat32(dtype, await read()),
  };
}
