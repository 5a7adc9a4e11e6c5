// VADER's shipped pipelines train on their real reward networks: VideoCrafter2 in its Lightning
// layout and each reward's folder in the layout users download (tools/checkpoints: the real file
// and key names, reduced widths, random values), found where vplc looks for them by default
// (<weights root>/rewards/<name>/) or where a term's `files = "..."` points. Each reward reads the
// prompt with its own text tower and tokenizer (never the base model's); a classifier reads the
// class the prompt names. Missing or broken files stop the run before anything is compiled.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, torchAvailable } from '../../../bench/common.ts';
import { checkFile } from '../../../compiler/check/index.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';
import { runReward } from '../../../runtime/methods/reward/run.ts';
import { setupReward } from '../../../runtime/methods/reward/setup.ts';
import { reducedBuild } from '../../../stdlib/models/registry.ts';
import { rewardNetworks } from '../../../stdlib/rewards/networks/index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hasTorch = torchAvailable().ok;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-reward-networks-'));
const weights = path.join(tmp, 'weights');
const ckpt = path.join(weights, 'videocrafter2', 'model.ckpt');
const env = { VPLC_WEIGHTS_DIR: weights };
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every reward network at its reduced widths (the sizes the generated folders have). */
const rewardConfigs = Object.fromEntries(Object.values(rewardNetworks).map((n) => [n.reward, n.reduced]));
const build = reducedBuild('videocrafter2');

/** A shipped pipeline at its smallest, on the synthetic checkpoint. */
function planOf(pipeline: string, overrides: string[] = []) {
  const small = [`model.weights=${ckpt}`, 'model.frames=2', 'model.size=64x64', 'sampler.steps=2', 'train.batch=1', 'train.accumulate=1'];
  const key = (o: string) => o.slice(0, o.indexOf('='));
  const kept = small.filter((o) => !overrides.some((x) => key(x) === key(o)));
  const r = checkFile(path.join(repoRoot, 'pipelines', `${pipeline}.vpl`), { overrides: [...kept, ...overrides] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

function generate(args: string[]): void {
  const r = spawnSync(PYTHON, args, { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
}

/** One optimizer step; the step's metrics. */
async function oneStep(plan: ReturnType<typeof planOf>, name: string) {
  const setup = await setupReward(plan, { build, env, rewardConfigs });
  const runDir = path.join(tmp, 'runs', name);
  let log = '';
  const result = await runReward({ setup, runDir, steps: 1, fresh: true, handleSignals: false, stderr: { write: (t: string) => ((log += t), true) }, cacheRoot: path.join(tmp, 'cache') });
  expect(result.exitCode, log).toBe(0);
  const values = readMetrics(path.join(runDir, 'metrics.jsonl')).records.find((r) => r.step === 1 && r.values.loss !== undefined)!.values;
  return { setup, values, log };
}

// Skipped without Debian's python3-torch: the files must come from torch.save itself.
describe.skipIf(!hasTorch)('the real reward networks in a VADER run (reduced widths)', () => {
  beforeAll(() => {
    generate(['tools/checkpoints/synthetic.py', '--layout', 'videocrafter2-ckpt', '--size', 'reduced', '--with-tokenizer', '--out', ckpt]);
    for (const reward of ['pickscore', 'hps', 'aesthetic', 'actpred']) generate(['tools/checkpoints/rewards.py', '--reward', reward, '--size', 'reduced', '--out', path.join(weights, 'rewards', reward)]);
  }, 240_000);

  it('takes a step on PickScore, HPS (where its files = "..." points) and the aesthetic predictor, each through its own towers', async () => {
    const elsewhere = path.join(tmp, 'elsewhere', 'hps');
    generate(['tools/checkpoints/rewards.py', '--reward', 'hps', '--size', 'reduced', '--out', elsewhere, '--seed', '3']);
    const mix = `objective.reward=1.0 * pickscore + 0.5 * hps(version = "v2.1", files = "${elsewhere}") + 0.75 * aesthetic`;
    const { setup, values } = await oneStep(planOf('pickscore', [mix]), 'clip-mix');
    expect(setup.weightsDescription).toMatch(/pickscore: .*rewards\/pickscore \(transformers CLIPModel\)/);
    expect(setup.weightsDescription).toContain(`hps: ${elsewhere} (open_clip state dict)`);
    expect(setup.weightsDescription).toMatch(/aesthetic: .*rewards\/aesthetic/);
    const { text_encode: text, train_step: train } = setup.lowered.program.graphs;
    // each text reward's own tokens in, its own embedding out; the aesthetic reads no text, and
    // nothing reads the base model's pooled text_embed
    expect(text!.inputs.map((v) => v.name)).toEqual(['tokens', 'tokens.pickscore', 'tokens.hps']);
    const trainInputs = train!.inputs.map((v) => v.name);
    expect(trainInputs).toEqual(expect.arrayContaining(['text_embed.pickscore', 'text_embed.hps']));
    expect(trainInputs).not.toContain('text_embed');
    // the image towers' weights reach onnxruntime by reference into the rewards' files
    const byFile = (file: string) => [...train!.initializers.values()].filter((init) => init.external?.file === file).length;
    expect(byFile(path.join(weights, 'rewards', 'pickscore', 'model.safetensors'))).toBeGreaterThan(20);
    expect(byFile(path.join(elsewhere, 'HPS_v2.1_compressed.pt'))).toBeGreaterThan(20);
    for (const name of ['reward.pickscore', 'reward.hps', 'reward.aesthetic']) expect(Number.isFinite(values[name]), name).toBe(true);
    expect(values.grad_norm).toBeGreaterThan(0);
  }, 300_000);

  it('lowers the shipped pickscore.vpl and hps_aesthetic.vpl on their networks, with no stand-in', async () => {
    for (const pipeline of ['pickscore', 'hps_aesthetic']) {
      const setup = await setupReward(planOf(pipeline), { build, env, rewardConfigs, samplingOnly: true });
      expect(setup.mode).toBe('checkpoint');
      expect(setup.notes.join(' ')).not.toMatch(/stand-in/);
      const rewards = Object.keys(setup.lowered.program.graphs.decode_all!.outputs.map((v) => v.name).filter((n) => n.startsWith('reward.')).reduce((o, n) => ({ ...o, [n]: 1 }), {}));
      expect(rewards.sort()).toEqual(pipeline === 'pickscore' ? ['reward.pickscore'] : ['reward.aesthetic', 'reward.hps']);
    }
  }, 120_000);

  it('actpred.vpl takes a step toward the class each prompt names, and stops first when a prompt names none', async () => {
    const prompts = path.join(tmp, 'actions.txt');
    // names of the synthetic id2label (tools/checkpoints/actpred_files.py)
    fs.writeFileSync(prompts, 'a woman playing guitar by the sea\na man riding a bike down a hill\n');
    const { values, setup } = await oneStep(planOf('actpred', [`prompts="${prompts}"`, 'model.frames=8']), 'actpred');
    expect(setup.lowered.program.graphs.train_step!.inputs.find((v) => v.name === 'label.actpred')?.dtype).toBe('int64');
    expect(values['reward.actpred']).toBeLessThan(0); // -cross entropy
    fs.writeFileSync(prompts, 'a woman playing guitar by the sea\na cat asleep on a sofa\n');
    const setup2 = await setupReward(planOf('actpred', [`prompts="${prompts}"`, 'model.frames=8']), { build, env, rewardConfigs });
    const error = await runReward({ setup: setup2, runDir: path.join(tmp, 'runs', 'unnamed'), steps: 1, fresh: true, handleSignals: false, stderr: { write: () => true }, cacheRoot: path.join(tmp, 'cache') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7138');
    expect((error as VplError).message).toMatch(/1 of the 2 prompts name none of its classes: "a cat asleep on a sofa"/);
    expect(fs.existsSync(path.join(tmp, 'runs', 'unnamed', 'metrics.jsonl'))).toBe(false);
  }, 300_000);

  it('stops before compiling when a reward file is missing or broken, naming the file and where it goes', async () => {
    const broken = path.join(tmp, 'broken');
    const attempt = async (dir: string) => (await setupReward(planOf('pickscore', [`objective.reward=1.0 * pickscore(files = "${dir}")`]), { build, env, rewardConfigs }).catch((e: unknown) => e)) as VplError;
    generate(['tools/checkpoints/rewards.py', '--reward', 'pickscore', '--size', 'reduced', '--out', broken, '--rename', 'logit_scale=logit_scale_renamed']);
    const renamed = await attempt(broken);
    expect(renamed.code).toBe('VPL7030');
    expect(renamed.message).toMatch(/logit_scale_renamed/);
    fs.rmSync(path.join(broken, 'tokenizer.json'));
    for (const f of ['vocab.json', 'merges.txt']) fs.rmSync(path.join(broken, f));
    generate(['tools/checkpoints/rewards.py', '--reward', 'pickscore', '--size', 'reduced', '--out', broken, '--seed', '1']);
    for (const f of ['tokenizer.json', 'vocab.json', 'merges.txt']) fs.rmSync(path.join(broken, f));
    const noTokenizer = await attempt(broken);
    expect(noTokenizer.code).toBe('VPL7135');
    fs.rmSync(path.join(broken, 'model.safetensors'));
    const noWeights = await attempt(broken);
    expect(noWeights.code).toBe('VPL7136');
    expect(noWeights.message).toMatch(/none of model\.safetensors, .*pytorch_model\.bin.* is in .*broken/);
    expect(noWeights.help).toMatch(/download model\.safetensors/);
  }, 120_000);
});
