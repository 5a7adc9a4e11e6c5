// `vplc run --device cuda` of an fp16 pipeline opens the checkpoint in fp16, the dtype the
// lowering stores frozen weights in: an fp16 checkpoint's tensors then reach onnxruntime by
// reference into the file, with no float32 copy; a CPU run (fp32) converts them and stays as it
// was. The checkpoint is tools/checkpoints/synthetic.py's VideoCrafter2 safetensors (reduced
// widths, fp16), written by plain Python. Only the setup runs (weights and lowering): no session.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { setupReward } from '../../../runtime/methods/reward/setup.ts';
import { reducedBuild } from '../../../stdlib/models/registry.ts';
import { FIXTURE_MERGES, fillerMerges, fixtureOpenClipText } from '../../helpers/clip-bpe-fixture.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PYTHON = '/usr/bin/python3';
const script = path.join(repoRoot, 'tools/checkpoints/synthetic.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-frozen-fp16-'));
const file = path.join(tmp, 'videocrafter2', 'model.safetensors');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Skipped without python3 or the writer script (the file must come from an independent writer).
describe.skipIf(!fs.existsSync(PYTHON) || !fs.existsSync(script))('frozen weights of an fp16 checkpoint under --device cuda (reduced VideoCrafter2)', () => {
  beforeAll(() => {
    const r = spawnSync(PYTHON, [script, '--layout', 'videocrafter2-safetensors', '--size', 'reduced', '--dtype', 'fp16', '--out', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    // open_clip's tokenizer file beside it: our own merges, padded to the real vocabulary's ids
    const merges = [...FIXTURE_MERGES, ...fillerMerges(49408 - 512 - 2 - FIXTURE_MERGES.length)];
    fs.writeFileSync(path.join(path.dirname(file), 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(fixtureOpenClipText(merges)));
  }, 120_000);

  it('cuda: fp16 initializers by reference into the file, float32 LoRA; cpu: float32 copies, twice the bytes', async () => {
    const r = checkFile(path.join(repoRoot, 'pipelines', 'pickscore.vpl'), {
      overrides: [`model.weights=${file}`, 'model.frames=2', 'model.size=64x64', 'sampler.steps=2', 'train.batch=1', 'train.accumulate=1', 'objective.reward=1.0 * brightness'],
    });
    if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
    expect(r.plan.train.precision).toBe('fp16');
    const build = reducedBuild('videocrafter2');
    const [gpu, cpu] = [await setupReward(r.plan, { build, device: 'cuda' }), await setupReward(r.plan, { build, device: 'cpu' })];
    for (const setup of [gpu, cpu]) expect(setup.mode).toBe('checkpoint');
    const frozenOf = (setup: typeof gpu) => {
      const names = new Set(setup.lowered.params.list().filter((p) => !p.trainable).map((p) => p.name));
      return [...setup.lowered.program.graphs.train_step!.initializers].filter(([v]) => names.has(v.name));
    };
    const [onGpu, onCpu] = [frozenOf(gpu), frozenOf(cpu)];
    expect(onGpu.length).toBeGreaterThan(1000);
    expect(onGpu.every(([v, init]) => v.dtype === 'float16' && init.external?.file === file && !init.data)).toBe(true);
    expect(onCpu.every(([v, init]) => v.dtype === 'float32' && init.data instanceof Float32Array)).toBe(true);
    const bytes = (list: typeof onGpu) => list.reduce((n, [v]) => n + v.size * (v.dtype === 'float16' ? 2 : 4), 0);
    expect(bytes(onCpu)).toBe(2 * bytes(onGpu));
    const lora = gpu.lowered.program.graphs.train_step!.inputs.filter((v) => v.name.includes('.lora_'));
    expect(lora.length).toBeGreaterThan(0);
    expect(lora.every((v) => v.dtype === 'float32')).toBe(true);
  }, 300_000);
});
