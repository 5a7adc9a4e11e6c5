// The checker end to end: shipped pipelines resolve to the reference settings, extends and
// overrides merge by path, and the Plan's hash and flattening behave.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFile, checkSource, closestName, editDistance, parseOverride } from '../../compiler/check/index.ts';
import { flattenPlan, formatPlanValue, planHash, type Plan } from '../../compiler/plan.ts';

function planOf(file: string, overrides: string[] = []): Plan {
  const result = checkFile(file, { overrides });
  expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return result.plan!;
}

const tiny = (extra = '', model = '', objective = 'reward = 1.0 * brightness') =>
  `pipeline t\nmodel tiny_vc { ${model} }\nprompts = tiny_shapes\nobjective reward { ${objective} }\n${extra}`;

describe('shipped pipelines', () => {
  for (const name of readdirSync('pipelines').filter((f) => f.endsWith('.vpl'))) {
    it(`${name} checks clean`, () => {
      expect(planOf(`pipelines/${name}`).name).toBe(name.replace('.vpl', ''));
    });
  }

  it('resolve VADER-PickScore to the VideoCrafter2 reference run', () => {
    const plan = planOf('pipelines/pickscore.vpl');
    expect(plan.model).toMatchObject({ name: 'videocrafter2', frames: 12, size: { height: 320, width: 512 }, fps: 24, text_encoder: 'open_clip_h', vae: 'sd_vae' });
    expect(plan.derived.latent_shape).toEqual([4, 12, 40, 64]);
    expect(plan.sampler).toEqual({ name: 'ddim', steps: 25, eta: 1, guidance: 12, use_scale: true });
    expect(plan.objective).toEqual({ name: 'reward', reward: [{ reward: 'pickscore', weight: 1, params: { files: '' } }], decode: { mode: 'random', k: 1 }, backprop: { mode: 'last', k: 1 }, decode_og: false, watch: null, on_hacking: 'warn', diversity_drop: 0.25 });
    expect(plan.train).toMatchObject({ steps: 450, accumulate: 8, clip: 1, precision: 'fp16', validate: { every: 80, prompts: 4 }, checkpoint: { every: 8, keep: 5 } });
    expect(plan.train.optimizer).toEqual({ name: 'adamw', lr: 2e-4, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01, warmup: 0 });
    expect(plan.derived.effective_batch).toBe(8);
    expect(plan.extends.map((f) => f.split('/').pop())).toEqual(['vader_base.vpl']);
  });

  it('convert Open-Sora durations with its frame table and keep the base training settings', () => {
    const plan = planOf('pipelines/opensora_hps.vpl');
    expect(plan.model.frames).toBe(51);
    expect(plan.derived.latent_shape).toEqual([4, 15, 60, 106]);
    expect(plan.lora.targets).toEqual(['qkv', 'q_linear', 'kv_linear']);
    expect(plan.train.precision).toBe('bf16');
    expect(plan.train.accumulate).toBe(8);
  });

  it('replace a block whose variant changes, and keep the rest of the base (T2V-Turbo on ModelScope)', () => {
    const plan = planOf('pipelines/t2v_turbo_ms.vpl');
    expect(plan.model).toMatchObject({ name: 'modelscope', size: { height: 256, width: 256 } });
    expect(plan.sampler).toEqual({ name: 'consistency', steps: 4, guidance: 7.5 });
    expect(plan.train.steps).toBe(10_000);
    expect(plan.objective.name === 'consistency' && plan.objective.reward.map((t) => [t.reward, t.weight])).toEqual([['hps', 1], ['viclip', 2]]);
    const ms = planOf('pipelines/modelscope_aesthetic.vpl');
    expect(ms.sampler).toEqual({ name: 'dpm_solver', steps: 25, order: 2, guidance: 9 });
  });
});

describe('values and defaults', () => {
  it('fill model-dependent defaults when a block is left out', () => {
    const plan = checkSource(tiny(), 'mem/t.vpl').plan!;
    expect(plan.sampler).toMatchObject({ name: 'ddim', steps: 10, guidance: 5 });
    expect(plan.lora).toEqual({ rank: 16, alpha: 16, dropout: 0.01, targets: ['attn.q', 'attn.k', 'attn.v'] });
    expect(plan.train.validate).toBeNull();
    expect(plan.output.dir).toBe('runs/t');
  });

  it('convert durations with fps, percentages and thousands', () => {
    const plan = checkSource(tiny('lora { dropout = 5% }\ntrain { steps = 2k }', 'frames = 2s  fps = 12fps'), 'mem/t.vpl').plan!;
    expect(plan.model.frames).toBe(24);
    expect(plan.model.fps).toBe(12);
    expect(plan.lora.dropout).toBeCloseTo(0.05);
    expect(plan.train.steps).toBe(2000);
  });

  it('resolve paths against the file that wrote them', () => {
    const plan = checkSource(tiny('', 'weights = "../w/tiny.safetensors"'), '/p/sub/t.vpl', { readFile: () => '' }).plan!;
    expect(plan.dir).toBe('/p/sub');
    expect(plan.model.weights).toBe('../w/tiny.safetensors');
  });

  it('attach a machine fix to a misspelled name', () => {
    const result = checkSource(tiny('', '', 'reward = 1.0 * brightnes'), 'mem/t.vpl');
    const d = result.diagnostics.find((x) => x.code === 'VPL2008')!;
    expect(d.fix?.text).toBe('brightness');
    expect(d.fix?.span.start).toMatchObject({ line: 4, column: 35 });
  });
});

describe('extends and overrides', () => {
  const files: Record<string, string> = {
    '/m/base.vpl': tiny('lora { rank = 4  dropout = 0 }\ntrain { optimizer = adamw { lr = 1e-3 }  steps = 10 }'),
    '/m/child.vpl': 'extends "base.vpl"\npipeline child\nlora.rank = 8\ntrain.optimizer.weight_decay = 0.5',
  };
  const readFile = (p: string) => {
    if (!(p in files)) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return files[p];
  };

  it('merge a child over its base field by field', () => {
    const plan = checkFile('/m/child.vpl', { readFile }).plan!;
    expect(plan.name).toBe('child');
    expect(plan.lora).toMatchObject({ rank: 8, dropout: 0 });
    expect(plan.train.optimizer).toMatchObject({ lr: 1e-3, weight_decay: 0.5 });
    expect(plan.spans['lora.rank'].file).toBe('/m/child.vpl');
  });

  it('apply command-line overrides last, with spans into <command line>', () => {
    const result = checkFile('/m/child.vpl', { readFile, overrides: ['lora.rank=2', 'train.steps=100'] });
    expect(result.plan!.lora.rank).toBe(2);
    expect(result.plan!.train.steps).toBe(100);
    expect(result.plan!.spans['train.steps']).toMatchObject({ file: '<command line>', start: { column: 25 } });
    const bad = checkFile('/m/child.vpl', { readFile, overrides: ['lora.rank=2', 'train.steps="x"'] });
    expect(bad.plan).toBeUndefined();
    expect(bad.diagnostics[0]).toMatchObject({ code: 'VPL2005', span: { file: '<command line>', start: { column: 25 } } });
  });

  it('parse one override', () => {
    expect(parseOverride('train.optimizer.lr=1e-5').override?.path).toEqual(['train', 'optimizer', 'lr']);
    expect(parseOverride('rank').diagnostics[0].code).toBe('VPL5001');
    expect(parseOverride('a=1 b=2').diagnostics[0].code).toBe('VPL5001');
  });

  it('takes an unquoted value of a path or string field as the text typed, as a shell user writes it', () => {
    const plan = checkFile('pipelines/demo.vpl', { overrides: ['output.dir=/tmp/runs/a b', 'model.weights=ckpt/tiny.safetensors'] }).plan!;
    expect(plan.output.dir).toBe('/tmp/runs/a b');
    expect(plan.model.weights).toBe('../ckpt/tiny.safetensors'); // relative to the cwd, stored relative to pipelines/
    // other fields still parse as expressions: a bare word is a name, not a number
    const bad = checkFile('pipelines/demo.vpl', { overrides: ['lora.rank=eight'] });
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['VPL2005']);
  });
});

describe('plan identity', () => {
  it('hash what the pipeline does, not how it is written or where it lives', () => {
    const a = checkSource(tiny('lora { rank = 8 }'), '/x/a.vpl').plan!;
    const b = checkSource(`# the same, reformatted\n${tiny('lora {\n  rank = 8   # eight\n}')}`, '/y/a.vpl').plan!;
    const c = checkSource(tiny('lora { rank = 9 }'), '/x/a.vpl').plan!;
    expect(planHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(planHash(a)).toBe(planHash(b));
    expect(planHash(a)).not.toBe(planHash(c));
  });

  it('flatten to user paths with their spans', () => {
    const plan = planOf('pipelines/pickscore.vpl');
    const entries = new Map(flattenPlan(plan).map((e) => [e.path, e]));
    expect(entries.get('lora.rank')).toMatchObject({ value: 16, span: { file: 'pipelines/vader_base.vpl', start: { line: 13, column: 10 } } });
    expect(formatPlanValue(entries.get('objective.decode')!.value)).toBe('random(1)');
    expect(formatPlanValue(entries.get('model.size')!.value)).toBe('320x512');
    expect(entries.get('train.optimizer.lr')?.value).toBe(2e-4);
    expect(entries.has('spans')).toBe(false);
  });
});

describe('suggestions', () => {
  it('measure Damerau-Levenshtein distance', () => {
    expect(editDistance('pickscor', 'pickscore')).toBe(1);
    expect(editDistance('ddmi', 'ddim')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
  it('suggest only close names', () => {
    expect(closestName('pickscor', ['hps', 'pickscore'])).toBe('pickscore');
    expect(closestName('zzz', ['hps', 'pickscore'])).toBeUndefined();
  });
});
