// The parameter store's `frozenDtype` (fp16/bf16 lowering): frozen float32 parameters are stored
// in the low dtype and read through a Cast up to float32, whatever their data is (seeded init,
// inline checkpoint data, a file's byte range, a lazy shape-only weight); trainable ones stay
// float32 graph inputs. Without the option nothing changes.
import { describe, expect, it } from 'vitest';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph, type Value } from '../../tensor/ir/graph.ts';
import { float16Bits, float16ToNumber } from '../../tensor/ir/numeric.ts';
import { layerNorm, linear, ParameterStore, type ParameterStoreOptions, type WeightSource } from '../../stdlib/nn/index.ts';

function build(options: ParameterStoreOptions) {
  const params = new ParameterStore({ seed: 4, ...options });
  const b = new Builder(new Graph('store'));
  const x = b.input('x', [2, 3]);
  const nn = { b, params };
  const y = b.within('enc', () => layerNorm(nn, 'norm', linear(nn, 'proj', x, { out: 4 })));
  const z = b.within('head', () => linear(nn, 'out', y, { out: 2, trainable: true }));
  const g = b.graph;
  const init = (name: string) => [...g.initializers].find(([v]) => v.name === name);
  return { g, b, nn, params, y, z, init };
}

/** The value the layers read for parameter `name`: a Cast of its initializer, or the initializer. */
const readOf = (g: Graph, name: string): Value => {
  const inputs = g.nodes.flatMap((n) => n.inputs);
  return inputs.find((v) => v?.producer?.op === 'Cast' && v.producer.inputs[0]?.name === name) ?? inputs.find((v) => v?.name === name)!;
};

describe('ParameterStore frozenDtype', () => {
  it('stores frozen float32 parameters as fp16 initializers read through a Cast to float32; trainable ones stay float32 inputs', () => {
    const half = build({ frozenDtype: 'float16' });
    const full = build({});
    for (const name of ['enc.proj.weight', 'enc.proj.bias', 'enc.norm.weight', 'enc.norm.bias']) {
      const [v, data] = half.init(name)!;
      expect(v.dtype, name).toBe('float16');
      // the same seeded values, rounded to fp16
      const ref = full.init(name)![1].data as Float32Array;
      expect(Array.from(data.data as Uint16Array), name).toEqual(Array.from(ref, float16Bits));
      const read = readOf(half.g, name);
      expect(read.producer?.op, name).toBe('Cast');
      expect(read.dtype, name).toBe('float32');
    }
    expect(half.params.list().filter((p) => !p.trainable).every((p) => p.dtype === 'float16')).toBe(true);
    expect(half.g.inputs.map((v) => [v.name, v.dtype])).toEqual([['x', 'float32'], ['head.out.weight', 'float32'], ['head.out.bias', 'float32']]);
    expect(half.y.dtype).toBe('float32');
    // asked for again (CFG's second call): the same Cast, not a second one
    const again = half.b.within('enc', () => half.nn.params.get(half.b, 'proj.weight', [4, 3], { init: { kind: 'zeros' }, dtype: 'float32' }));
    expect(again).toBe(readOf(half.g, 'enc.proj.weight'));
    // without the option: float32 initializers, read directly
    expect([...full.g.initializers.keys()].every((v) => v.dtype === 'float32')).toBe(true);
    expect(full.g.nodes.some((n) => n.op === 'Cast')).toBe(false);
  });

  it('converts inline checkpoint data, keeps a fp16 byte range by reference, and refuses a float32 one it cannot convert', () => {
    const tensors: Record<string, ReturnType<WeightSource['get']>> = {
      'enc.proj.weight': { dtype: 'float32', shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => 1 / (i + 3)) },
      'enc.proj.bias': { dtype: 'float16', shape: [4], external: { file: 'model.fp16.safetensors', offset: 64, length: 8 } },
      'enc.norm.weight': { dtype: 'float32', shape: [4], external: { file: 'model.safetensors', offset: 0, length: 16 } },
      'enc.norm.bias': { dtype: 'float16', shape: [4], data: Uint16Array.of(0x3c00, 0xc000, 0x3800, 0) },
    };
    const weights: WeightSource = { description: 'model.safetensors', get: (k) => tensors[k], keys: () => Object.keys(tensors) };
    const t = build({ frozenDtype: 'float16', weights, onMissing: 'init' });
    const [w, wInit] = t.init('enc.proj.weight')!;
    expect(w.dtype).toBe('float16');
    const values = Array.from(wInit.data as Uint16Array, float16ToNumber);
    values.forEach((v, i) => expect(Math.abs(v - 1 / (i + 3))).toBeLessThan(1e-3 / (i + 3)));
    expect(t.init('enc.proj.bias')![1]).toEqual({ external: { file: 'model.fp16.safetensors', offset: 64, length: 8 } });
    expect(Array.from(t.init('enc.norm.bias')![1].data as Uint16Array)).toEqual([0x3c00, 0xc000, 0x3800, 0]);
    expect(t.params.problems()).toEqual([
      "'enc.norm.weight' is float32 in the checkpoint (key 'enc.norm.weight'), the model wants float16; convert the checkpoint",
    ]);
  });

  it('types lazy (shape-only) frozen weights in the low dtype, with their checkpoint key', () => {
    const t = build({ frozenDtype: 'bfloat16', lazyFrozen: true, keyOf: (name) => `model.${name}` });
    const [v, init] = t.init('enc.proj.weight')!;
    expect(v.dtype).toBe('bfloat16');
    expect(init).toEqual({ lazy: { key: 'model.enc.proj.weight' } });
    expect(t.g.inputs.filter((i) => i.name.startsWith('head.')).every((i) => i.dtype === 'float32')).toBe(true);
  });
});
