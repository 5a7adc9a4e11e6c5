// The trainer's tensors: named, typed, shaped arrays (trainable weights, optimizer state,
// gradient accumulators), their conversion to and from checkpoint files, and the NaN/inf scan.
import type { DType, TypedArray } from '../../tensor/ir/dtype.ts';
import { VplError } from '../../diagnostics/error.ts';
import type { Dtype as FileDtype } from '../weights/dtype.ts';
import type { LoadedTensor, TensorToWrite } from '../weights/safetensors.ts';

export interface StateTensor {
  dtype: DType;
  shape: readonly number[];
  data: TypedArray;
}

export type TensorState = Record<string, StateTensor>;

const toFile: Record<DType, FileDtype> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  bool: 'BOOL',
};

export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function toWrite(name: string, t: StateTensor): TensorToWrite {
  return { name, dtype: toFile[t.dtype], shape: [...t.shape], data: t.data };
}

/** A tensor read back from a checkpoint, checked against the tensor the program expects. */
export function fromLoaded(name: string, loaded: LoadedTensor | undefined, expected: StateTensor, file: string): StateTensor {
  const help = 'the checkpoint belongs to a different model or LoRA configuration: use a new run folder, or start over with --fresh';
  if (!loaded) throw new VplError('VPL7052', `the checkpoint has no tensor '${name}'`, { file, help });
  const shapeOk = loaded.shape.length === expected.shape.length && loaded.shape.every((d, i) => d === expected.shape[i]);
  if (loaded.dtype !== toFile[expected.dtype] || !shapeOk) {
    throw new VplError(
      'VPL7052',
      `checkpoint tensor '${name}' is ${loaded.dtype}[${loaded.shape.join(', ')}], the program expects ${toFile[expected.dtype]}[${expected.shape.join(', ')}]`,
      { file, help },
    );
  }
  // Copy into an array of our own (the loaded one may be a view into a shared file buffer).
  const data = expected.data.constructor as new (n: number) => TypedArray;
  const copy = new data(loaded.data.length);
  (copy as unknown as { set(a: ArrayLike<unknown>): void }).set(loaded.data as unknown as ArrayLike<unknown>);
  return { dtype: expected.dtype, shape: [...expected.shape], data: copy };
}

export interface NonFinite {
  count: number;
  index: number;
  value: number;
}

/** The non-finite elements of a float array (undefined when all are finite). */
export function findNonFinite(data: TypedArray): NonFinite | undefined {
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) return undefined;
  let count = 0;
  let index = -1;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    // x - x is 0 for finite x and NaN for NaN and +-Infinity: one comparison per element.
    if (x - x !== 0) {
      if (count === 0) index = i;
      count++;
    }
  }
  return count === 0 ? undefined : { count, index, value: data[index]! };
}

export function describeNonFinite(what: string, bad: NonFinite, length: number): string {
  const kind = Number.isNaN(bad.value) ? 'NaN' : String(bad.value);
  return `${what} has ${bad.count} non-finite value${bad.count > 1 ? 's' : ''} of ${length} (first: ${kind} at index ${bad.index})`;
}
