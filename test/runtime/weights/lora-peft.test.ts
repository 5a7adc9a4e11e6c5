import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { loraScale, readPeftAdapter, writePeftAdapter, type LoraAdapter } from '../../../runtime/weights/lora-peft.ts';
import { SafetensorsReader, writeSafetensors } from '../../../runtime/weights/safetensors.ts';

const python = '/usr/bin/python3';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-lora-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function adapter(): LoraAdapter {
  const module = (rank: number, inF: number, outF: number, seed: number) => ({
    rank,
    inFeatures: inF,
    outFeatures: outF,
    a: Float32Array.from({ length: rank * inF }, (_, i) => Math.sin(seed + i) / 4),
    b: Float32Array.from({ length: outF * rank }, (_, i) => Math.cos(seed * 3 + i) / 8),
  });
  return {
    config: { r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ['to_q', 'to_k'], baseModelNameOrPath: 'videocrafter2' },
    modules: new Map([
      ['unet.down.0.attn1.to_q', module(4, 6, 5, 1)],
      ['unet.down.0.attn1.to_k', module(4, 6, 3, 2)],
    ]),
  };
}

async function readError(folder: string): Promise<VplError> {
  const error = await readPeftAdapter(folder).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  return error as VplError;
}

describe('PEFT LoRA adapters', () => {
  it('round-trips weights and config', async () => {
    const folder = join(dir, 'f32');
    const original = adapter();
    await writePeftAdapter(folder, original);
    const read = await readPeftAdapter(folder);
    expect(read.config).toEqual(original.config);
    expect([...read.modules.keys()].sort()).toEqual([...original.modules.keys()].sort());
    for (const [name, m] of original.modules) {
      const got = read.modules.get(name)!;
      expect([got.rank, got.inFeatures, got.outFeatures]).toEqual([m.rank, m.inFeatures, m.outFeatures]);
      expect(Array.from(got.a)).toEqual(Array.from(m.a));
      expect(Array.from(got.b)).toEqual(Array.from(m.b));
    }
    expect(loraScale(read.config)).toBe(2);
  });

  it('round-trips a convolution LoRA in PEFT conv layout: A [r, in, kh, kw], B [out, r, 1, 1]', async () => {
    const folder = join(dir, 'conv');
    const [rank, inF, outF, kernel] = [2, 3, 5, [3, 3]];
    const conv = {
      rank,
      inFeatures: inF,
      outFeatures: outF,
      kernel,
      a: Float32Array.from({ length: rank * inF * 9 }, (_, i) => Math.sin(i) / 4),
      b: Float32Array.from({ length: outF * rank }, (_, i) => Math.cos(i) / 8),
    };
    const original: LoraAdapter = { config: { r: rank, loraAlpha: 2, loraDropout: 0, targetModules: ['conv'] }, modules: new Map([['unet.input_blocks.0.0', conv]]) };
    await writePeftAdapter(folder, original);
    const reader = await SafetensorsReader.open(join(folder, 'adapter_model.safetensors'));
    expect(reader.entry('base_model.model.unet.input_blocks.0.0.lora_A.weight').shape).toEqual([2, 3, 3, 3]);
    expect(reader.entry('base_model.model.unet.input_blocks.0.0.lora_B.weight').shape).toEqual([5, 2, 1, 1]);
    await reader.close();
    const got = (await readPeftAdapter(folder)).modules.get('unet.input_blocks.0.0')!;
    expect(got.kernel).toEqual(kernel);
    expect(Array.from(got.a)).toEqual(Array.from(conv.a));
    expect(Array.from(got.b)).toEqual(Array.from(conv.b));
  });

  it('writes half precision that reads back within rounding', async () => {
    const folder = join(dir, 'bf16');
    const original = adapter();
    await writePeftAdapter(folder, original, { dtype: 'BF16' });
    const read = await readPeftAdapter(folder);
    const a = original.modules.get('unet.down.0.attn1.to_q')!.a;
    const got = read.modules.get('unet.down.0.attn1.to_q')!.a;
    for (let i = 0; i < a.length; i++) expect(Math.abs(got[i]! - a[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!) * 2 ** -8);
  });

  // Checked with Python's standard library only: the layout other tools expect.
  it.skipIf(!existsSync(python))('uses the key layout and config fields PEFT expects', async () => {
    const folder = join(dir, 'layout');
    await writePeftAdapter(folder, adapter());
    const script = `
import json, struct, sys
folder = sys.argv[1]
with open(folder + '/adapter_model.safetensors', 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    header = json.loads(f.read(n))
cfg = json.load(open(folder + '/adapter_config.json'))
print(json.dumps({'keys': {k: v['shape'] for k, v in header.items() if k != '__metadata__'}, 'meta': header['__metadata__'],
                  'cfg': {k: cfg[k] for k in ['peft_type', 'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'bias']}}))`;
    const out = JSON.parse(execFileSync(python, ['-c', script, folder], { encoding: 'utf8' }));
    expect(out.keys).toEqual({
      'base_model.model.unet.down.0.attn1.to_k.lora_A.weight': [4, 6],
      'base_model.model.unet.down.0.attn1.to_k.lora_B.weight': [3, 4],
      'base_model.model.unet.down.0.attn1.to_q.lora_A.weight': [4, 6],
      'base_model.model.unet.down.0.attn1.to_q.lora_B.weight': [5, 4],
    });
    expect(out.meta).toEqual({ format: 'pt' });
    expect(out.cfg).toEqual({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0.05, target_modules: ['to_q', 'to_k'], bias: 'none' });
  });

  it('rejects a module with only lora_A, a rank that contradicts the config, and foreign keys', async () => {
    const base = join(dir, 'bad');
    await writePeftAdapter(base, adapter());
    const config = await readFile(join(base, 'adapter_config.json'), 'utf8');

    const onlyA = join(dir, 'only-a');
    await writePeftAdapter(onlyA, adapter());
    await writeSafetensors(join(onlyA, 'adapter_model.safetensors'), [
      { name: 'base_model.model.m.lora_A.weight', dtype: 'F32', shape: [4, 2], data: new Float32Array(8) },
    ]);
    expect((await readError(onlyA)).message).toMatch(/'m' has lora_A but no lora_B/);

    const wrongRank = join(dir, 'rank');
    await writePeftAdapter(wrongRank, adapter());
    await writeSafetensors(join(wrongRank, 'adapter_model.safetensors'), [
      { name: 'base_model.model.m.lora_A.weight', dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
      { name: 'base_model.model.m.lora_B.weight', dtype: 'F32', shape: [5, 2], data: new Float32Array(10) },
    ]);
    const rankError = await readError(wrongRank);
    expect(rankError.code).toBe('VPL7040');
    expect(rankError.message).toMatch(/rank 2 but adapter_config\.json says r = 4/);
    expect(rankError.file).toBe(join(wrongRank, 'adapter_model.safetensors'));

    const foreign = join(dir, 'foreign');
    await writePeftAdapter(foreign, adapter());
    await writeSafetensors(join(foreign, 'adapter_model.safetensors'), [{ name: 'unet.conv.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    expect((await readError(foreign)).message).toMatch(/'unet\.conv\.weight' is not a LoRA weight in PEFT's layout/);

    const notLora = join(dir, 'ia3');
    await writePeftAdapter(notLora, adapter());
    await writeFile(join(notLora, 'adapter_config.json'), config.replace('"LORA"', '"IA3"'));
    expect((await readError(notLora)).message).toMatch(/peft_type is "IA3"/);
  });
});
