// Element types of IR tensors and their ONNX, byte-size and JS-array counterparts.

export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'bool';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Uint16Array // float16 / bfloat16 bit patterns
  | BigInt64Array
  | Int32Array
  | Uint8Array; // bool

interface DTypeInfo {
  /** onnx.TensorProto.DataType */
  onnx: number;
  bytes: number;
  isFloat: boolean;
  /** The name onnxruntime-node uses for tensors of this type (bf16 cannot cross the JS boundary). */
  ort?: 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool';
}

export const dtypes: Record<DType, DTypeInfo> = {
  float32: { onnx: 1, bytes: 4, isFloat: true, ort: 'float32' },
  float16: { onnx: 10, bytes: 2, isFloat: true, ort: 'float16' },
  bfloat16: { onnx: 16, bytes: 2, isFloat: true },
  float64: { onnx: 11, bytes: 8, isFloat: true, ort: 'float64' },
  int64: { onnx: 7, bytes: 8, isFloat: false, ort: 'int64' },
  int32: { onnx: 6, bytes: 4, isFloat: false, ort: 'int32' },
  bool: { onnx: 9, bytes: 1, isFloat: false, ort: 'bool' },
};

export function isFloat(dtype: DType): boolean {
  return dtypes[dtype].isFloat;
}

export function allocate(dtype: DType, count: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(count);
    case 'float64':
      return new Float64Array(count);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(count);
    case 'int64':
      return new BigInt64Array(count);
    case 'int32':
      return new Int32Array(count);
    case 'bool':
      return new Uint8Array(count);
  }
}
