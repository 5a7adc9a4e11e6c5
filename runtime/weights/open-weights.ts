// One way to open any weights file vplc reads: safetensors, or a PyTorch zip checkpoint
// (.ckpt/.pt/.pth/.bin). Callers get names, shapes and on-demand reads either way, and can
// hand the shapes straight to mapWeights().
import { open } from 'node:fs/promises';
import { ioError } from '../fs/io-error.ts';
import { toFloat32, type Dtype, type TypedArray } from './dtype.ts';
import { SafetensorsReader } from './safetensors.ts';
import { openTorchCheckpoint } from './torch-zip.ts';

export interface WeightEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  read(): Promise<TypedArray>;
  readFloat32(): Promise<Float32Array>;
}

export interface WeightsFile {
  path: string;
  format: 'safetensors' | 'torch';
  /** In file order. */
  entries: Map<string, WeightEntry>;
  close(): Promise<void>;
}

/** Chooses the reader by content (zip magic) rather than by extension, which users get wrong. */
export async function openWeights(path: string): Promise<WeightsFile> {
  let head = new Uint8Array(4);
  try {
    const handle = await open(path, 'r');
    try {
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ioError(error, path, 'read');
  }
  const isZip = head[0] === 0x50 && head[1] === 0x4b;
  const isLegacyTorch = head[0] === 0x80;
  if (isZip || isLegacyTorch) {
    const checkpoint = await openTorchCheckpoint(path);
    const entries = new Map<string, WeightEntry>();
    for (const [name, t] of checkpoint.tensors) {
      entries.set(name, { name, dtype: t.dtype, shape: t.shape, read: t.read, readFloat32: t.readFloat32 });
    }
    return { path, format: 'torch', entries, close: () => checkpoint.close() };
  }
  const reader = await SafetensorsReader.open(path);
  const entries = new Map<string, WeightEntry>();
  for (const entry of reader.header.entries.values()) {
    entries.set(entry.name, {
      name: entry.name,
      dtype: entry.dtype,
      shape: entry.shape,
      read: () => reader.read(entry.name),
      readFloat32: async () => toFloat32(entry.dtype, await reader.read(entry.name)),
    });
  }
  return { path, format: 'safetensors', entries, close: () => reader.close() };
}
