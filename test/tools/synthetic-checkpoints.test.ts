// Synthetic checkpoints in the real layouts (tools/checkpoints/synthetic.py: the real key names
// and shapes with seeded random values; the .ckpt written by torch.save itself) opened with
// vplc's readers: every key, shape and dtype against the writer's manifest, and every tensor's
// values against the sums the writer recorded. Plus the tokenizer files the folder carries.
// Skipped with the reason where Debian's python has no torch (.ci/run installs python3-torch).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PYTHON, torchAvailable } from '../../bench/common.ts';
import { VplError } from '../../diagnostics/error.ts';
import { openWeights, type WeightsFile } from '../../runtime/weights/open-weights.ts';
import { loadClipTokenizer } from '../../runtime/weights/tokenizer-files.ts';
import { openTorchCheckpoint } from '../../runtime/weights/torch-zip.ts';
import { PyDict } from '../../runtime/weights/pickle.ts';
import { referenceBpe } from '../helpers/clip-bpe-fixture.ts';

const torch = torchAvailable();
const root = fileURLToPath(new URL('../..', import.meta.url));
const SYNTHETIC = path.join(root, 'tools/checkpoints/synthetic.py');
const TOKENIZER = path.join(root, 'tools/checkpoints/tokenizer_files.py');
const tmp = torch.ok ? mkdtempSync(path.join(tmpdir(), 'vplc-synthetic-')) : '';
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Row {
  key: string;
  shape: number[];
  dtype: string;
  component: string;
  file?: string;
}
interface Sum {
  dtype: string;
  shape: number[];
  sum: number;
  abs_sum: number;
  first: number[];
}

function python(script: string, args: string[]): string {
  return execFileSync(PYTHON, [script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26, timeout: 120_000 });
}

function manifest(args: string[]): Row[] {
  return python(SYNTHETIC, [...args, '--manifest']).trim().split('\n').map((line) => JSON.parse(line) as Row);
}

/** Writes the layout and returns the writer's per-tensor sums. */
function write(args: string[], out: string): Record<string, Sum> {
  const sums = `${out}.sums.json`;
  python(SYNTHETIC, [...args, '--out', out, '--checksums', sums]);
  return JSON.parse(readFileSync(sums, 'utf8')) as Record<string, Sum>;
}

// safetensors orders tensors by dtype, widest enum value first (safetensors/src/tensor.rs), then name.
const safetensorsRank: Record<string, number> = { I64: 0, F32: 1, BF16: 2, F16: 3 };
function safetensorsOrder(rows: Row[]): string[] {
  return [...rows]
    .sort((a, b) => safetensorsRank[a.dtype]! - safetensorsRank[b.dtype]! || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.key);
}

/** Every entry of `file` is a manifest row (same shape and dtype) and reads back to what was written. */
async function expectAsWritten(file: WeightsFile, rows: Row[], sums: Record<string, Sum>): Promise<void> {
  expect(file.entries.size).toBe(rows.length);
  for (const row of rows) {
    const entry = file.entries.get(row.key);
    expect(entry, row.key).toBeDefined();
    expect([entry!.shape, entry!.dtype], row.key).toEqual([row.shape, row.dtype]);
    const want = sums[row.key]!;
    if (row.dtype === 'I64') {
      const values = Array.from((await entry!.read()) as BigInt64Array, Number);
      expect(values.reduce((a, b) => a + b, 0), row.key).toBe(want.sum);
      expect(values.slice(0, want.first.length), row.key).toEqual(want.first);
      continue;
    }
    const values = await entry!.readFloat32();
    let sum = 0;
    for (const v of values) sum += v;
    expect(Math.abs(sum - want.sum), row.key).toBeLessThanOrEqual(1e-9 * want.abs_sum + 1e-12);
    expect(Array.from(values.subarray(0, want.first.length)), row.key).toEqual(want.first);
  }
}

function shapeOf(file: WeightsFile, key: string): number[] | undefined {
  return file.entries.get(key)?.shape;
}

describe.skipIf(!torch.ok)(`synthetic checkpoints in the real layouts${torch.ok ? '' : ` (skipped: ${torch.why})`}`, () => {
  it("videocrafter2-ckpt: torch.save's Lightning checkpoint (bf16) opens with every key, shape and value as written", async () => {
    const args = ['--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--dtype', 'bf16', '--seed', '3'];
    const rows = manifest(args);
    const out = path.join(tmp, 'vc2', 'base_512_v2', 'model.ckpt');
    const sums = write(args, out);
    const file = await openWeights(out);
    try {
      expect(file.format).toBe('torch');
      // torch.save keeps the state dict's order: the module order of the reference
      expect([...file.entries.keys()]).toEqual(rows.map((r) => r.key));
      await expectAsWritten(file, rows, sums);
      // facts of the reference layout (AILab-CVC/VideoCrafter lvdm/..., open_clip v2.22.0)
      expect(shapeOf(file, 'model.diffusion_model.input_blocks.1.0.temopral_conv.conv1.2.weight')).toEqual([64, 64, 3, 1, 1]);
      expect(shapeOf(file, 'model.diffusion_model.init_attn.0.proj_in.weight')).toEqual([256, 64, 1]); // Conv1d, 8 heads of 32
      expect(shapeOf(file, 'model.diffusion_model.input_blocks.1.1.proj_in.weight')).toEqual([64, 64]); // use_linear
      expect(shapeOf(file, 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight')).toEqual([64, 64]); // context_dim 64
      expect(shapeOf(file, 'model.diffusion_model.fps_embedding.0.weight')).toEqual([256, 64]);
      expect(shapeOf(file, 'first_stage_model.encoder.mid.attn_1.q.weight')).toEqual([128, 128, 1, 1]);
      expect(shapeOf(file, 'cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight')).toEqual([192, 64]);
      expect(shapeOf(file, 'cond_stage_model.model.logit_scale')).toEqual([]);
      expect([...file.entries.keys()].some((k) => k.includes('.visual.'))).toBe(false);
      expect(file.entries.get('betas')!.dtype).toBe('F32'); // schedule buffers stay float32
    } finally {
      await file.close();
    }
    // Lightning's wrapper fields around the state dict
    const ckpt = await openTorchCheckpoint(out);
    try {
      expect(ckpt.root).toBeInstanceOf(PyDict);
      const rootDict = ckpt.root as PyDict;
      expect([rootDict.get('global_step'), rootDict.get('pytorch-lightning_version')]).toEqual([12000, '1.8.3']);
      expect(rootDict.get('state_dict')).toBeInstanceOf(PyDict);
    } finally {
      await ckpt.close();
    }
  }, 120_000);

  it("videocrafter2-ckpt in fp16 (HalfStorage) reads back as written; its schedule buffers hold ddpm3d's values", async () => {
    const args = ['--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--dtype', 'fp16', '--components', 'schedule,text'];
    const rows = manifest(args);
    const out = path.join(tmp, 'vc2-fp16', 'model.ckpt');
    const sums = write(args, out);
    const file = await openWeights(out);
    try {
      expect(new Set(rows.map((r) => r.dtype))).toEqual(new Set(['F32', 'F16']));
      await expectAsWritten(file, rows, sums);
      // linear betas 0.00085 .. 0.012 (sqrt-spaced), their cumulative product, scale_arr of 1400
      const read = async (k: string) => Array.from(await file.entries.get(k)!.readFloat32());
      const betas = await read('betas');
      const acp = await read('alphas_cumprod');
      expect(betas.length).toBe(1000);
      let product = 1;
      for (let t = 0; t < 1000; t++) {
        const root = Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * t) / 999;
        expect(betas[t]).toBeCloseTo(root * root, 8);
        product *= 1 - root * root;
        expect(Math.abs(acp[t]! - product)).toBeLessThan(1e-6 * product + 1e-9);
      }
      const scale = await read('scale_arr');
      expect(scale.length).toBe(1400); // linspace(1, 0.7, 400) then 0.7 x 1000 (no fix_scale_bug)
      expect([scale[0], scale[399], scale[1399]].map((v) => Number(v!.toFixed(6)))).toEqual([1, 0.7, 0.7]);
      expect(file.entries.has('scale_factor')).toBe(false); // scale_by_std is false
    } finally {
      await file.close();
    }
  }, 60_000);

  // fp16 on the smaller components only: runtime/weights/dtype.ts converts F16 one element at a
  // time through 2 ** e, about 10 s for the reduced UNet's 57M elements on this machine
  it('videocrafter2-safetensors (fp16): the same keys, in safetensors order, values as written', async () => {
    const args = ['--layout', 'videocrafter2-safetensors', '--size', 'reduced', '--dtype', 'fp16', '--seed', '3', '--components', 'schedule,vae,text'];
    const rows = manifest(args);
    const out = path.join(tmp, 'vc2-st', 'model.safetensors');
    const sums = write(args, out);
    const file = await openWeights(out);
    try {
      expect(file.format).toBe('safetensors');
      expect([...file.entries.keys()]).toEqual(safetensorsOrder(rows));
      await expectAsWritten(file, rows, sums);
    } finally {
      await file.close();
    }
  }, 120_000);

  it('modelscope-diffusers: the folder (unet, vae, text_encoder, configs, tokenizer/) reads back as written', async () => {
    const args = ['--layout', 'modelscope-diffusers', '--size', 'reduced', '--seed', '5'];
    const rows = manifest(args);
    const out = path.join(tmp, 'text-to-video-ms-1.7b');
    const sums = write(args, out);
    const files = [...new Set(rows.map((r) => r.file!))];
    expect(files).toEqual(['unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors']);
    for (const name of files) {
      const mine = rows.filter((r) => r.file === name);
      const file = await openWeights(path.join(out, name));
      try {
        expect([...file.entries.keys()]).toEqual(safetensorsOrder(mine));
        await expectAsWritten(file, mine, sums);
      } finally {
        await file.close();
      }
    }
    const unet = rows.filter((r) => r.file === files[0]);
    const shape = (k: string) => unet.find((r) => r.key === k)?.shape;
    expect(shape('transformer_in.proj_in.weight')).toEqual([256, 64]); // 8 heads of attention_head_dim 32
    expect(shape('down_blocks.0.temp_convs.0.conv1.2.weight')).toEqual([64, 64, 3, 1, 1]);
    expect(shape('up_blocks.1.resnets.0.conv_shortcut.weight')).toEqual([256, 512, 1, 1]);
    const vae = rows.filter((r) => r.file === files[1]);
    expect(vae.some((r) => r.key === 'encoder.mid_block.attentions.0.to_q.weight')).toBe(true); // current diffusers names
    const config = JSON.parse(readFileSync(path.join(out, 'unet', 'config.json'), 'utf8'));
    expect([config._class_name, config.block_out_channels, config.cross_attention_dim]).toEqual(['UNet3DConditionModel', [64, 128, 256, 256], 64]);
    const index = JSON.parse(readFileSync(path.join(out, 'model_index.json'), 'utf8'));
    expect(index.text_encoder).toEqual(['transformers', 'CLIPTextModel']);
    // the tokenizer is found from the text encoder's folder, with tokenizer_config.json's pad '!'
    const { tokenizer, files: tok } = await loadClipTokenizer(path.join(out, 'text_encoder'));
    expect(tok.format).toBe('vocab+merges');
    expect(tokenizer.padId).toBe(0);
    expect(tokenizer.eotId).toBe(tokenizer.vocabSize - 1);
  }, 120_000);

  it('a legacy (non-zip) torch.save file is refused with VPL7023', async () => {
    const out = path.join(tmp, 'legacy.ckpt');
    python(SYNTHETIC, ['--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--components', 'schedule', '--legacy-pickle', '--out', out]);
    const error = await openWeights(out).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7023');
  }, 60_000);

  it('the tokenizer files: three layouts, one vocabulary in the real id layout, BPE as open_clip does it', async () => {
    const dir = path.join(tmp, 'tokenizer');
    const info = JSON.parse(python(TOKENIZER, ['--out', dir])) as { merges: number; vocab_size: number; start_id: number; end_id: number; words: string[] };
    expect(info.merges).toBeGreaterThanOrEqual(300);
    expect(info.vocab_size).toBe(512 + info.merges + 2);
    expect([info.start_id, info.end_id]).toEqual([info.vocab_size - 2, info.vocab_size - 1]);
    const merges = readFileSync(path.join(dir, 'merges.txt'), 'utf8').trim().split('\n').slice(1);
    const ranks = new Map(merges.map((m, i) => [m, i]));
    const loaded = await Promise.all(['tokenizer.json', 'vocab.json', 'bpe_simple_vocab_16e6.txt.gz'].map((f) => loadClipTokenizer(dir, { tokenizer: path.join(dir, f) })));
    expect(loaded.map((l) => l.files.format)).toEqual(['tokenizer.json', 'vocab+merges', 'open_clip']);
    const vocab = JSON.parse(readFileSync(path.join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
    const sentence = info.words.join(' ');
    const ids = loaded.map((l) => l.tokenizer.encode(sentence));
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    expect(ids[0]).toEqual(info.words.flatMap((w) => referenceBpe(w, ranks).map((t) => vocab[t]!)));
    for (const { tokenizer } of loaded) {
      expect([tokenizer.sotId, tokenizer.eotId, tokenizer.vocabSize]).toEqual([info.start_id, info.end_id, info.vocab_size]);
    }
  }, 60_000);
});
