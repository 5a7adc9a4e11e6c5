// The Python globals a PyTorch state dict needs, and nothing else: the tensor rebuild
// functions, the storage types, OrderedDict, torch.Size, dtypes, and a few pure builtins.
// Each is a small JS function that builds a description; none can reach the outside world.
import { VplError } from '../../diagnostics/error.ts';
import type { Dtype } from './dtype.ts';
import { GlobalRef, PyDict, type AllowedGlobal, type PyObject, type PyValue } from './pickle.ts';

/** A storage class (`torch.FloatStorage`): which element type its bytes hold. */
export class TorchStorageType implements PyObject {
  readonly pyClass = 'torch.StorageType';
  constructor(
    readonly torchName: string,
    readonly dtype: Dtype | undefined,
  ) {}
}

/** A storage: one entry `data/<key>` in the archive. */
export class TorchStorage implements PyObject {
  readonly pyClass = 'torch.Storage';
  constructor(
    readonly key: string,
    readonly type: TorchStorageType,
    readonly location: string,
    /** Elements, as recorded by torch (its bytes are this times the dtype size). */
    readonly numel: number,
  ) {}
}

/** A tensor: a strided view into a storage. Its data is read later, on demand. */
export class TorchTensorRef implements PyObject {
  readonly pyClass = 'torch.Tensor';
  requiresGrad = false;
  constructor(
    readonly storage: TorchStorage,
    /** In elements, not bytes. */
    readonly storageOffset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {}

  setState(): void {
    // Tensor state (hooks, subclass attributes) does not affect the data.
  }
}

/** A torch.dtype named as a global (`torch.float16`), e.g. in a config saved beside weights. */
export class TorchDtypeMarker implements PyObject {
  readonly pyClass = 'torch.dtype';
  constructor(readonly torchName: string) {}
}

/** A class named only to be passed to another allowed global (torch.Tensor, Parameter). */
class ClassMarker implements PyObject {
  readonly pyClass = 'class';
  constructor(readonly qualifiedName: string) {}
}

const storageDtypes: Record<string, Dtype | undefined> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
  // Allowed (they are inert) but their tensors cannot be read: a clear error on read.
  ComplexFloatStorage: undefined,
  ComplexDoubleStorage: undefined,
  QInt8Storage: undefined,
  QUInt8Storage: undefined,
  QInt32Storage: undefined,
};

const torchDtypeNames = [
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'int64', 'long', 'int32', 'int',
  'int16', 'short', 'int8', 'uint8', 'bool', 'complex64', 'complex128',
];

/** Global values arrive as GlobalRefs; the rebuild functions want what they stand for. */
function unwrap(value: PyValue): PyValue {
  return value instanceof GlobalRef ? (value.impl.value ?? value) : value;
}

function argError(file: string, what: string, got: PyValue): VplError {
  return new VplError('VPL7021', `the pickle calls ${what} with unexpected arguments (${describe(got)})`, {
    file,
    help: 'the file is corrupt or was written by an unsupported torch version; re-save it, or convert it to safetensors',
  });
}

function describe(value: PyValue): string {
  if (Array.isArray(value)) return `(${value.map(describe).join(', ')})`;
  if (value instanceof PyDict) return 'a dict';
  if (typeof value === 'object' && value !== null && 'pyClass' in value) return value.pyClass;
  return JSON.stringify(typeof value === 'bigint' ? value.toString() : value) ?? String(value);
}

function intList(value: PyValue): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: number[] = [];
  for (const item of value as readonly PyValue[]) {
    if (typeof item !== 'number' || !Number.isSafeInteger(item)) return undefined;
    out.push(item);
  }
  return out;
}

function rebuildTensor(file: string, args: readonly PyValue[]): TorchTensorRef {
  const [storage, offset, size, stride] = args;
  const shape = intList(size ?? null);
  const strides = intList(stride ?? null);
  if (!(storage instanceof TorchStorage) || typeof offset !== 'number' || shape === undefined || strides === undefined || strides.length !== shape.length) {
    throw argError(file, 'torch._utils._rebuild_tensor_v2', Object.freeze([...args]));
  }
  const tensor = new TorchTensorRef(storage, offset, shape, strides);
  tensor.requiresGrad = args[4] === true;
  return tensor;
}

function passTensor(file: string, what: string, value: PyValue | undefined): PyValue {
  if (!(value instanceof TorchTensorRef)) throw argError(file, what, value ?? null);
  return value;
}

/** The allow-list, as `module.name` -> implementation. */
export function torchGlobals(file: string): Map<string, AllowedGlobal> {
  const globals = new Map<string, AllowedGlobal>();
  const fn = (name: string, call: (args: readonly PyValue[]) => PyValue): void => {
    globals.set(name, { call: (args) => call(args.map(unwrap)) });
  };

  fn('torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(file, args));
  fn('torch._utils._rebuild_tensor', (args) => rebuildTensor(file, args));
  fn('torch._utils._rebuild_parameter', (args) => passTensor(file, 'torch._utils._rebuild_parameter', args[0]));
  fn('torch._utils._rebuild_parameter_with_state', (args) => passTensor(file, 'torch._utils._rebuild_parameter_with_state', args[0]));
  // Tensor subclasses: _rebuild_from_type_v2(func, type, args, state) calls func(*args).
  fn('torch._tensor._rebuild_from_type_v2', (args) => {
    const [func, , inner] = args;
    if (!(func instanceof GlobalRef) || func.impl.call === undefined || !Array.isArray(inner)) {
      throw argError(file, 'torch._tensor._rebuild_from_type_v2', Object.freeze([...args]));
    }
    const impl = func.impl as Required<AllowedGlobal>;
    return impl.call(inner as readonly PyValue[]);
  });
  fn('collections.OrderedDict', (args) => {
    const dict = new PyDict();
    const pairs = args[0];
    if (Array.isArray(pairs)) {
      for (const pair of pairs as readonly PyValue[]) {
        if (Array.isArray(pair) && pair.length === 2) dict.items.set(pair[0] as PyValue, pair[1] as PyValue);
      }
    }
    return dict;
  });
  fn('torch.Size', (args) => Object.freeze([...((args[0] as readonly PyValue[] | undefined) ?? [])]));
  for (const module of ['builtins', '__builtin__']) {
    fn(`${module}.set`, (args) => new Set(Array.isArray(args[0]) ? (args[0] as readonly PyValue[]) : []));
    fn(`${module}.frozenset`, (args) => new Set(Array.isArray(args[0]) ? (args[0] as readonly PyValue[]) : []));
  }
  // Protocol 2 writes Python 3 bytes as _codecs.encode(text, 'latin1').
  fn('_codecs.encode', (args) => {
    const [text, encoding] = args;
    if (typeof text !== 'string') throw argError(file, '_codecs.encode', Object.freeze([...args]));
    return encoding === 'latin1' || encoding === 'latin-1' ? Uint8Array.from(text, (c) => c.charCodeAt(0)) : new TextEncoder().encode(text);
  });

  for (const [name, dtype] of Object.entries(storageDtypes)) {
    globals.set(`torch.${name}`, { value: new TorchStorageType(name, dtype) });
  }
  globals.set('torch.storage.UntypedStorage', { value: new TorchStorageType('UntypedStorage', 'U8') });
  for (const name of torchDtypeNames) globals.set(`torch.${name}`, { value: new TorchDtypeMarker(name) });
  for (const name of ['torch.Tensor', 'torch.nn.parameter.Parameter']) {
    globals.set(name, { value: new ClassMarker(name) });
  }
  return globals;
}

/**
 * torch.save's persistent ids: ('storage', storage_type, key, location, numel).
 * `storage_type` is a storage class, or for untyped storages a torch.dtype.
 */
export function torchPersistentLoad(file: string): (pid: PyValue) => PyValue {
  const storages = new Map<string, TorchStorage>();
  return (rawPid) => {
    const pid = Array.isArray(rawPid) ? (rawPid as readonly PyValue[]).map(unwrap) : [];
    const [kind, type, key, location, numel] = pid;
    if (kind !== 'storage' || typeof key !== 'string' || typeof numel !== 'number') {
      throw argError(file, 'persistent_load', rawPid);
    }
    let storageType: TorchStorageType;
    if (type instanceof TorchStorageType) storageType = type;
    else if (type instanceof TorchDtypeMarker) storageType = new TorchStorageType(type.torchName, dtypeOfTorchName(type.torchName));
    else throw argError(file, 'persistent_load', rawPid);
    // The same storage is named once per tensor that views it: share one object.
    let storage = storages.get(key);
    if (storage === undefined) {
      storage = new TorchStorage(key, storageType, typeof location === 'string' ? location : 'cpu', numel);
      storages.set(key, storage);
    }
    return storage;
  };
}

function dtypeOfTorchName(name: string): Dtype | undefined {
  const table: Record<string, Dtype> = {
    float32: 'F32', float: 'F32', float64: 'F64', double: 'F64', float16: 'F16', half: 'F16', bfloat16: 'BF16',
    int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  };
  return table[name];
}
