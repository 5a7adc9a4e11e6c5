import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapWeights, requireWeightMapping } from '../../../runtime/weights/mapping.ts';
import { openWeights } from '../../../runtime/weights/open-weights.ts';
import { writeSafetensors } from '../../../runtime/weights/safetensors.ts';
import { orderedDictNode, tensorNode, writePickle } from './helpers/pickle-writer.ts';
import { writeZip } from './helpers/zip-writer.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-open-weights-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const weight = Float32Array.from([1, 2, 3, 4, 5, 6]);
const bias = Float32Array.from([-1, -2]);

describe('openWeights', () => {
  it('reads the same weights from safetensors and a torch checkpoint, whatever the extension', async () => {
    const safetensors = join(dir, 'unet.bin'); // a safetensors file under a misleading name
    await writeSafetensors(safetensors, [
      { name: 'model.diffusion_model.proj.weight', dtype: 'F32', shape: [2, 3, 1, 1], data: weight },
      { name: 'model.diffusion_model.proj.bias', dtype: 'F32', shape: [2], data: bias },
    ]);
    const torch = join(dir, 'unet.ckpt');
    const storage = new Uint8Array(Float32Array.from([...weight, ...bias]).buffer);
    const pickle = writePickle(
      {
        dict: [
          [
            'state_dict',
            orderedDictNode([
              ['model.diffusion_model.proj.weight', tensorNode({ storage: 'FloatStorage', key: '0', numel: 8, offset: 0, shape: [2, 3, 1, 1], stride: [3, 1, 1, 1] })],
              ['model.diffusion_model.proj.bias', tensorNode({ storage: 'FloatStorage', key: '0', numel: 8, offset: 6, shape: [2], stride: [1] })],
            ]),
          ],
        ],
      },
      { memo: true },
    );
    await writeFile(torch, writeZip([{ name: 'unet/data.pkl', data: pickle }, { name: 'unet/data/0', data: storage }]));

    const expected = new Map([
      ['proj.weight', { shape: [2, 3] }],
      ['proj.bias', { shape: [2] }],
    ]);
    for (const [path, format] of [[safetensors, 'safetensors'], [torch, 'torch']] as const) {
      const file = await openWeights(path);
      try {
        expect(file.format).toBe(format);
        const mapped = requireWeightMapping(mapWeights(file.entries, expected, { rename: [{ stripPrefix: 'model.diffusion_model.' }] }), { file: path });
        expect(mapped.map((m) => [m.target, m.reshape])).toEqual([['proj.weight', true], ['proj.bias', false]]);
        expect(Array.from(await file.entries.get('model.diffusion_model.proj.weight')!.readFloat32())).toEqual(Array.from(weight));
        expect(Array.from(await file.entries.get('model.diffusion_model.proj.bias')!.readFloat32())).toEqual(Array.from(bias));
      } finally {
        await file.close();
      }
    }
  });
});
