import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { numberToBf16Bits, numberToF16Bits } from '../../../runtime/weights/dtype.ts';
import { PyDict } from '../../../runtime/weights/pickle.ts';
import { openTorchCheckpoint, type TorchCheckpoint } from '../../../runtime/weights/torch-zip.ts';
import { orderedDictNode, tensorNode, writePickle, type PickleNode } from './helpers/pickle-writer.ts';
import { writeZip, type ZipFixtureEntry } from './helpers/zip-writer.ts';

const hasTorch = torchAvailable().ok;

/** Elements as a plain list, for comparisons across typed array kinds. */
const list = (a: ArrayLike<number | bigint>): (number | bigint)[] => Array.from(a);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-torch-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Storage 0: 12 floats 0..11. Storage 1: halves. Storage 2: bfloat16. Storage 3: int64. */
function storages(): ZipFixtureEntry[] {
  return [
    { name: 'archive/data/0', data: bytesOf(Float32Array.from({ length: 12 }, (_, i) => i)) },
    { name: 'archive/data/1', data: bytesOf(Uint16Array.from([0.5, -1, 2, 1024].map(numberToF16Bits))) },
    { name: 'archive/data/2', data: bytesOf(Uint16Array.from([1.5, -3].map(numberToBf16Bits))) },
    { name: 'archive/data/3', data: bytesOf(BigInt64Array.from([5n, -6n])) },
  ];
}

function stateDict(): PickleNode {
  return orderedDictNode([
    ['input_blocks.0.weight', tensorNode({ storage: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [3, 4], stride: [4, 1] })],
    // A view at an offset into the same storage, and a transposed (non-contiguous) view.
    ['input_blocks.0.bias', tensorNode({ storage: 'FloatStorage', key: '0', numel: 12, offset: 8, shape: [4], stride: [1] })],
    ['input_blocks.0.weight_t', tensorNode({ storage: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [4, 3], stride: [1, 4] })],
    ['half', tensorNode({ storage: 'HalfStorage', key: '1', numel: 4, offset: 1, shape: [3], stride: [1] })],
    ['bf', tensorNode({ storage: 'BFloat16Storage', key: '2', numel: 2, offset: 0, shape: [2], stride: [1] })],
    ['steps', tensorNode({ storage: 'LongStorage', key: '3', numel: 2, offset: 0, shape: [2], stride: [1] })],
  ]);
}

function archive(root: PickleNode, options: { protocol?: 2 | 4; memo?: boolean; zip64?: boolean; deflatePickle?: boolean } = {}): Uint8Array {
  const pickleOptions = { protocol: options.protocol ?? 2, memo: options.memo ?? false };
  return writeZip(
    [
      { name: 'archive/data.pkl', data: writePickle(root, pickleOptions), deflate: options.deflatePickle === true },
      { name: 'archive/byteorder', data: new TextEncoder().encode('little') },
      ...storages(),
      { name: 'archive/version', data: new TextEncoder().encode('3\n') },
    ],
    { zip64: options.zip64 === true },
  );
}

async function open(name: string, bytes: Uint8Array): Promise<TorchCheckpoint> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return openTorchCheckpoint(path);
}

async function expectError(promise: Promise<unknown>, code: string, message: RegExp): Promise<VplError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  expect((error as VplError).code).toBe(code);
  expect((error as VplError).message).toMatch(message);
  return error as VplError;
}

describe('PyTorch zip checkpoints', () => {
  const variants = [
    { name: 'protocol 2, as torch.save writes', options: { memo: true } },
    { name: 'protocol 4 with STACK_GLOBAL', options: { protocol: 4 as const } },
    { name: 'zip64 directory', options: { zip64: true } },
    { name: 'deflated data.pkl', options: { deflatePickle: true } },
  ];
  for (const variant of variants) {
    it(`reads tensors (${variant.name})`, async () => {
      const checkpoint = await open(`v-${variant.name.replace(/\W+/g, '-')}.ckpt`, archive(stateDict(), variant.options));
      try {
        const t = checkpoint.tensors;
        expect([...t.keys()]).toEqual(['input_blocks.0.weight', 'input_blocks.0.bias', 'input_blocks.0.weight_t', 'half', 'bf', 'steps']);
        const w = t.get('input_blocks.0.weight')!;
        expect(w.dtype).toBe('F32');
        expect(w.shape).toEqual([3, 4]);
        expect(w.storageEntry).toBe('archive/data/0');
        expect(list(await w.read())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect(list(await t.get('input_blocks.0.bias')!.read())).toEqual([8, 9, 10, 11]);
        expect(list(await t.get('input_blocks.0.weight_t')!.read())).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
        expect(Array.from(await t.get('half')!.readFloat32())).toEqual([-1, 2, 1024]);
        expect(Array.from(await t.get('bf')!.readFloat32())).toEqual([1.5, -3]);
        expect(list(await t.get('steps')!.read())).toEqual([5n, -6n]);
      } finally {
        await checkpoint.close();
      }
    });
  }

  it('unwraps {"state_dict": ...} and keeps the other fields in root', async () => {
    const root: PickleNode = { dict: [['epoch', 3], ['global_step', 1000], ['state_dict', stateDict()]] };
    const checkpoint = await open('lightning.ckpt', archive(root, { memo: true }));
    try {
      expect(checkpoint.tensors.has('input_blocks.0.weight')).toBe(true);
      expect((checkpoint.root as PyDict).get('global_step')).toBe(1000);
    } finally {
      await checkpoint.close();
    }
  });

  it('flattens nested dicts with dotted names', async () => {
    const t = tensorNode({ storage: 'FloatStorage', key: '0', numel: 12, offset: 0, shape: [2], stride: [1] });
    const root: PickleNode = { dict: [['model', { dict: [['w', t]] }], ['ema', { dict: [['w', t], ['n', 3]] }]] };
    const checkpoint = await open('nested.pt', archive(root));
    try {
      expect([...checkpoint.tensors.keys()]).toEqual(['model.w', 'ema.w']);
    } finally {
      await checkpoint.close();
    }
  });

  it('refuses a legacy (pre-1.6) file with a re-save hint', async () => {
    const path = join(dir, 'legacy.pt');
    await writeFile(path, writePickle(0x1950a86a20f9469cfc6c));
    const error = await expectError(openTorchCheckpoint(path), 'VPL7023', /legacy \(pre-1\.6, non-zip\) format/);
    expect(error.help).toMatch(/torch >= 1\.6.*safetensors/);
    expect(error.file).toBe(path);
  });

  it('explains a file that is not a checkpoint, an archive without data.pkl, and a missing storage', async () => {
    const text = join(dir, 'notes.bin');
    await writeFile(text, 'hello, I am not a checkpoint');
    await expectError(openTorchCheckpoint(text), 'VPL7022', /neither a PyTorch zip checkpoint/);

    const other = join(dir, 'other.zip');
    await writeFile(other, writeZip([{ name: 'readme.txt', data: new Uint8Array(3) }]));
    await expectError(openTorchCheckpoint(other), 'VPL7024', /no data\.pkl/);

    const missing = await open('missing.ckpt', writeZip([{ name: 'archive/data.pkl', data: writePickle(stateDict()) }]));
    try {
      await expectError(missing.tensors.get('half')!.read(), 'VPL7024', /storage 'archive\/data\/1', which the archive does not contain/);
    } finally {
      await missing.close();
    }
  });

  it('reports a truncated archive', async () => {
    const full = archive(stateDict());
    await expectError(open('cut.ckpt', full.subarray(0, full.length - 40)), 'VPL7022', /end-of-central-directory/);
  });

  it('rejects tensor types it cannot read when they are listed', async () => {
    const root = orderedDictNode([['c', tensorNode({ storage: 'ComplexFloatStorage', key: '0', numel: 1, offset: 0, shape: [1], stride: [1] })]]);
    await expectError(open('complex.pt', archive(root)), 'VPL7012', /stored as ComplexFloatStorage/);
  });

  // An independent writer: CPython's own pickler and zipfile, laying the archive out the
  // way torch.save does (fake torch modules stand in for the global names only).
  it.skipIf(!existsSync(PYTHON))('reads an archive written by CPython pickle + zipfile', async () => {
    const path = join(dir, 'cpython.pt');
    const script = `
import sys, types, pickle, zipfile, struct, collections
torch = types.ModuleType('torch'); utils = types.ModuleType('torch._utils'); torch._utils = utils
sys.modules['torch'] = torch; sys.modules['torch._utils'] = utils
def _rebuild_tensor_v2(*args): pass
_rebuild_tensor_v2.__module__ = 'torch._utils'; utils._rebuild_tensor_v2 = _rebuild_tensor_v2
class FloatStorage: pass
FloatStorage.__module__ = 'torch'; torch.FloatStorage = FloatStorage
class Storage:
    def __init__(self, key, numel): self.key, self.numel = key, numel
class Tensor:
    def __init__(self, storage, offset, shape, stride): self.args = (storage, offset, shape, stride)
    def __reduce_ex__(self, protocol):
        return (_rebuild_tensor_v2, self.args + (False, collections.OrderedDict()))
class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ('storage', FloatStorage, obj.key, 'cpu', obj.numel) if isinstance(obj, Storage) else None
s = Storage('0', 6)
sd = collections.OrderedDict([('a.weight', Tensor(s, 0, (2, 2), (2, 1))), ('a.bias', Tensor(s, 4, (2,), (1,)))])
import io; buf = io.BytesIO(); Pickler(buf, protocol=2).dump({'state_dict': sd})
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:
    z.writestr('cpython/data.pkl', buf.getvalue())
    z.writestr('cpython/byteorder', 'little')
    z.writestr('cpython/data/0', struct.pack('<6f', 1, 2, 3, 4, 5, 6))
    z.writestr('cpython/version', '3\\n')
`;
    execFileSync(PYTHON, ['-c', script, path]);
    const checkpoint = await openTorchCheckpoint(path);
    try {
      expect([...checkpoint.tensors.keys()]).toEqual(['a.weight', 'a.bias']);
      expect(list(await checkpoint.tensors.get('a.weight')!.read())).toEqual([1, 2, 3, 4]);
      expect(list(await checkpoint.tensors.get('a.bias')!.read())).toEqual([5, 6]);
    } finally {
      await checkpoint.close();
    }
  });

  // Optional: only where Debian's python3-torch is installed (it is large; not a dependency).
  it.skipIf(!hasTorch)('cross-check: reads real torch.save files (needs Debian python3-torch)', async () => {
    const script = `
import json, sys, torch
torch.manual_seed(0)
folder = sys.argv[1]
model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Conv2d(2, 4, 1))
torch.save({'state_dict': model.state_dict(), 'epoch': 3}, folder + '/module.ckpt')
flat = {'w_t': torch.arange(6, dtype=torch.float32).reshape(2, 3).t(), 'h': torch.tensor([1.5, -2], dtype=torch.float16),
        'bf': torch.tensor([0.1, 3], dtype=torch.bfloat16), 'i': torch.tensor([2**40, -1]), 'flag': torch.tensor([True, False]),
        'param': torch.nn.Parameter(torch.ones(2, 2)), 'slice': torch.arange(10.)[3:7]}
torch.save(flat, folder + '/flat.pt')
torch.save(flat, folder + '/legacy.pt', _use_new_zipfile_serialization=False)
values = {k: v.detach().float().flatten().tolist() for k, v in model.state_dict().items()}
values.update({k: (v.detach().flatten().tolist() if k in ('i', 'flag') else v.detach().float().flatten().tolist()) for k, v in flat.items()})
print(json.dumps({'values': values, 'shapes': {k: list(v.shape) for k, v in list(model.state_dict().items()) + list(flat.items())}}))`;
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' })) as {
      values: Record<string, (number | boolean)[]>;
      shapes: Record<string, number[]>;
    };

    const module = await openTorchCheckpoint(join(dir, 'module.ckpt'));
    try {
      expect([...module.tensors.keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias']);
      for (const [name, info] of module.tensors) {
        expect(info.shape).toEqual(expected.shapes[name]);
        expect(Array.from(await info.readFloat32())).toEqual(expected.values[name]);
      }
      expect((module.root as PyDict).get('epoch')).toBe(3);
    } finally {
      await module.close();
    }

    const flat = await openTorchCheckpoint(join(dir, 'flat.pt'));
    try {
      const t = flat.tensors;
      expect(t.get('bf')!.dtype).toBe('BF16');
      expect(t.get('flag')!.dtype).toBe('BOOL');
      for (const name of ['w_t', 'h', 'bf', 'param', 'slice']) {
        expect(t.get(name)!.shape).toEqual(expected.shapes[name]);
        expect(Array.from(await t.get(name)!.readFloat32())).toEqual(expected.values[name]);
      }
      expect(list(await t.get('i')!.read())).toEqual([2n ** 40n, -1n]);
      expect(list(await t.get('flag')!.read())).toEqual([1, 0]);
    } finally {
      await flat.close();
    }

    await expectError(openTorchCheckpoint(join(dir, 'legacy.pt')), 'VPL7023', /legacy/);
  });
});
