// Cross-field rules (VPL3xxx): facts that involve several fields at once. Each rule reads the
// built Plan; a rule whose inputs were rejected earlier stays silent, so one mistake never
// produces a cascade of reports.
import type { Span } from '../../grammar/ast.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { componentsOf, lookupComponent, rewardNeedsText } from '../../stdlib/catalogue/index.ts';
import type { Plan } from '../plan.ts';
import type { BuildResult } from './build.ts';
import { decodeCount } from './build.ts';

interface RuleContext {
  plan: Plan;
  /** Every path is valid (written correctly or defaulted). */
  ok(...paths: string[]): boolean;
  /** Where to point for a path: where it was written, else its block, else the file start. */
  at(path: string): Span;
  written(path: string): boolean;
  report(d: Diagnostic): void;
}

interface Rule {
  name: string;
  check(ctx: RuleContext): void;
}

function nearestMultiple(value: number, multiple: number): number {
  return Math.max(multiple, Math.round(value / multiple) * multiple);
}

const rules: readonly Rule[] = [
  {
    name: 'backprop reaches no further than the sampler',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name !== 'reward' || o.backprop.mode !== 'last' || !ok('objective.backprop', 'sampler.steps')) return;
      if (o.backprop.k > plan.sampler.steps) {
        report(diagnostic('VPL3001', at('objective.backprop'), `backprop = last(${o.backprop.k}) reaches back further than the ${plan.sampler.steps} sampler steps`, {
          help: `use at most last(${plan.sampler.steps}), or backprop = all`,
          related: [{ span: at('sampler.steps'), message: `the sampler has ${plan.sampler.steps} steps` }],
        }));
      }
    },
  },
  {
    name: 'decoded frames lie inside the video',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name === 'denoise' || !ok('objective.decode', 'model.frames')) return;
      const frames = plan.model.frames;
      const d = o.decode;
      const outside =
        d.mode === 'frame' ? (d.i >= frames ? `frame(${d.i}) is past the last frame (${frames - 1})` : undefined)
        : d.mode === 'random' ? (d.k > frames ? `random(${d.k}) asks for more frames than the ${frames} generated` : undefined)
        : d.mode === 'every' ? (d.n > frames ? `every(${d.n}) strides past the ${frames} generated frames` : undefined)
        : undefined;
      if (outside) {
        report(diagnostic('VPL3006', at('objective.decode'), outside, {
          help: d.mode === 'frame' ? `use a frame from 0 to ${frames - 1}` : `use at most ${frames}, or decode = all`,
          related: [{ span: at('model.frames'), message: `the model generates ${frames} frames` }],
        }));
      }
    },
  },
  {
    name: 'video rewards get enough frames',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name === 'denoise' || !ok('objective.reward', 'model.frames')) return;
      for (const term of o.reward) {
        const reward = lookupComponent('reward', term.reward);
        if (!reward || reward.minFrames <= 1) continue;
        const wanted = Math.max(reward.minFrames, Number(term.params.frames ?? 0));
        // In consistency distillation video rewards take evenly strided frames of the whole
        // prediction; in reward training they see only the decoded frames.
        const available = o.name === 'reward' ? decodeCount(o.decode, plan.model.frames) : plan.model.frames;
        if (o.name === 'reward' && !ok('objective.decode')) return;
        if (available < wanted) {
          const where = o.name === 'reward' ? at('objective.decode') : at('model.frames');
          report(diagnostic('VPL3002', where, `the reward '${term.reward}' needs ${wanted} frames, but ${o.name === 'reward' ? 'only' : 'the model makes only'} ${available} ${o.name === 'reward' ? `${available === 1 ? 'is' : 'are'} decoded` : ''}`.trimEnd(), {
            help: o.name === 'reward'
              ? plan.model.frames >= wanted ? 'decode more frames: decode = all' : `raise model.frames to at least ${wanted} and decode = all`
              : `raise model.frames to at least ${wanted}`,
            related: [{ span: at('objective.reward'), message: `'${term.reward}' scores a video of ${wanted} frames` }],
          }));
        }
      }
    },
  },
  {
    name: 'data for objectives that learn from videos',
    check({ plan, ok, at, report }) {
      const entry = lookupComponent('objective', plan.objective.name);
      if (!ok('objective') || !entry?.needsData || plan.data || !ok('data')) return;
      report(diagnostic('VPL3003', at('objective'), `the '${plan.objective.name}' objective learns from real videos and needs a data block`, {
        help: 'add data tiny_shapes { } or data video_folder { path = "videos/" }',
      }));
    },
  },
  {
    name: 'images for image-to-video models',
    check({ plan, ok, at, report }) {
      if (!ok('model')) return;
      if (plan.model.task === 'i2v' && !plan.images) {
        report(diagnostic('VPL3004', at('model'), `'${plan.model.name}' is an image-to-video model and needs conditioning images`, { help: 'add images = "path/to/image.png" (a file or a folder)' }));
      }
      if (plan.model.task === 't2v' && plan.images) {
        report(diagnostic('VPL3005', at('images'), `'${plan.model.name}' is a text-to-video model: the images are not used`, { help: 'remove the images block, or choose an image-to-video model (svd, svd_xt)' }));
      }
    },
  },
  {
    name: 'prompts where text is needed',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (!ok('objective', 'model', 'objective.reward') || o.name !== 'reward' || plan.prompts) return;
      const textReward = o.reward.find((t) => rewardNeedsText(t.reward));
      if (plan.model.task === 't2v' || textReward) {
        const why = plan.model.task === 't2v' ? `'${plan.model.name}' generates from prompts` : `the reward '${textReward!.reward}' scores against the prompt`;
        report(diagnostic('VPL3012', at('objective'), `${why}, but the pipeline has none`, { help: 'add prompts = animals (a stdlib prompt set) or prompts = "prompts.txt"' }));
      }
    },
  },
  {
    name: 'size fits the model stride',
    check({ plan, ok, at, report }) {
      if (!ok('model', 'model.size')) return;
      const m = lookupComponent('model', plan.model.name)!;
      const { height, width } = plan.model.size;
      if (height % m.sizeMultiple || width % m.sizeMultiple) {
        report(diagnostic('VPL3007', at('model.size'), `${height}x${width} is not a multiple of ${m.sizeMultiple}, the spatial stride of '${m.name}'`, {
          help: `nearest valid size: ${nearestMultiple(height, m.sizeMultiple)}x${nearestMultiple(width, m.sizeMultiple)}`,
        }));
      }
    },
  },
  {
    name: 'frames fit the temporal VAE',
    check({ plan, ok, at, report }) {
      if (!ok('model', 'model.frames')) return;
      const m = lookupComponent('model', plan.model.name)!;
      if (plan.model.frames % m.frameMultiple) {
        report(diagnostic('VPL3008', at('model.frames'), `${plan.model.frames} frames is not a multiple of ${m.frameMultiple}, the chunk length of the '${m.name}' temporal VAE`, {
          help: `nearest valid: ${nearestMultiple(plan.model.frames, m.frameMultiple)}${m.durationFrames ? ` (or a duration: ${Object.keys(m.durationFrames).map((s) => `${s}s`).join(', ')})` : ''}`,
        }));
      }
    },
  },
  {
    name: 'ranges are in order',
    check({ plan, ok, at, report }) {
      const s = plan.sampler;
      if (s.name === 'edm_euler' && ok('sampler.guidance_min', 'sampler.guidance_max') && s.guidance_min > s.guidance_max) {
        report(diagnostic('VPL3009', at('sampler.guidance_min'), `guidance_min (${s.guidance_min}) is above guidance_max (${s.guidance_max})`, { help: 'swap them: guidance rises from the first frame to the last', related: [{ span: at('sampler.guidance_max'), message: 'guidance_max is set here' }] }));
      }
      if (s.name === 'edm_euler' && ok('sampler.sigma_min', 'sampler.sigma_max') && s.sigma_min >= s.sigma_max) {
        report(diagnostic('VPL3009', at('sampler.sigma_min'), `sigma_min (${s.sigma_min}) is not below sigma_max (${s.sigma_max})`, { help: 'SVD uses sigma_min = 0.002, sigma_max = 700' }));
      }
      const o = plan.objective;
      if (o.name === 'consistency' && o.guidance.mode === 'uniform' && ok('objective.guidance') && o.guidance.min > o.guidance.max) {
        report(diagnostic('VPL3009', at('objective.guidance'), `uniform(${o.guidance.min}, ${o.guidance.max}) has its bounds reversed`, { help: `write uniform(${o.guidance.max}, ${o.guidance.min})` }));
      }
    },
  },
  {
    name: 'sampler matches the prediction type',
    check({ plan, ok, at, report }) {
      if (!ok('model', 'sampler')) return;
      const sampler = lookupComponent('sampler', plan.sampler.name)!;
      if (sampler.predictions.includes(plan.model.prediction)) return;
      const fitting = componentsOf('sampler').filter((s) => s.predictions.includes(plan.model.prediction)).map((s) => s.name);
      report(diagnostic('VPL3010', at('sampler'), `the sampler '${sampler.name}' integrates ${sampler.predictions.join('/')} predictions, but '${plan.model.name}' predicts ${plan.model.prediction}`, {
        help: `use ${fitting.map((n) => `sampler ${n}`).join(' or ')}`,
      }));
    },
  },
  {
    name: 'intervals fire within the run',
    check({ plan, ok, at, written, report }) {
      for (const clause of ['validate', 'checkpoint'] as const) {
        const interval = plan.train[clause];
        if (!interval || !written(`train.${clause}`) || !ok(`train.${clause}.every`, 'train.steps')) continue;
        if (interval.every > plan.train.steps) {
          report(diagnostic('VPL3011', at(`train.${clause}.every`), `${clause} every ${interval.every} steps never fires in a run of ${plan.train.steps} steps`, { help: `use every ${plan.train.steps} steps or fewer` }));
        }
      }
    },
  },
  {
    name: 'consistency distillation needs an epsilon teacher',
    check({ plan, ok, at, report }) {
      if (plan.objective.name !== 'consistency' || !ok('model', 'objective')) return;
      if (plan.model.prediction !== 'epsilon') {
        report(diagnostic('VPL3013', at('objective'), `consistency distillation needs an epsilon-prediction teacher, but '${plan.model.name}' predicts ${plan.model.prediction}`, { help: 'use videocrafter2, modelscope or tiny_vc' }));
      }
    },
  },
  {
    name: 'teacher grid inside the schedule',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name !== 'consistency' || !ok('objective.teacher_solver')) return;
      const span = o.teacher_solver.steps * o.teacher_solver.skip;
      if (span > 1000) {
        report(diagnostic('VPL3014', at('objective.teacher_solver'), `the teacher grid spans ${o.teacher_solver.steps} x ${o.teacher_solver.skip} = ${span} timesteps, past the 1000 of the training schedule`, {
          help: `use skip = ${Math.floor(1000 / o.teacher_solver.steps)} with ${o.teacher_solver.steps} steps (T2V-Turbo: steps = 50, skip = 20)`,
        }));
      }
    },
  },
  {
    name: 'the watched reward is held out and can be scored',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name === 'denoise' || !o.watch || !ok('objective.watch')) return;
      const name = o.watch.name;
      if (ok('objective.reward') && o.reward.some((t) => t.reward === name)) {
        report(diagnostic('VPL3016', at('objective.watch'), `watch = ${name} is a term of the reward mix, so it is trained on and cannot show reward hacking`, {
          help: `watch a reward the mix does not train on (the mix: ${o.reward.map((t) => t.reward).join(', ')})`,
          related: [{ span: at('objective.reward'), message: `'${name}' is trained on here` }],
        }));
      }
      // validation decodes every frame, so a video reward sees all the model makes
      const entry = lookupComponent('reward', name);
      const wanted = Math.max(entry?.minFrames ?? 1, Number(o.watch.frames ?? 0));
      if (wanted > 1 && ok('model.frames') && plan.model.frames < wanted) {
        report(diagnostic('VPL3002', at('objective.watch'), `the watched reward '${name}' needs ${wanted} frames, but the model makes only ${plan.model.frames}`, {
          help: `raise model.frames to at least ${wanted}, or watch an image reward`,
        }));
      }
      // (a text-to-video model or a text term without prompts is reported by 'prompts where text is needed')
      const reported = plan.model.task === 't2v' || o.reward.some((t) => rewardNeedsText(t.reward));
      if (o.name === 'reward' && rewardNeedsText(name) && !plan.prompts && ok('model') && !reported) {
        report(diagnostic('VPL3012', at('objective.watch'), `the watched reward '${name}' scores against the prompt, but the pipeline has none`, { help: 'add prompts = animals (a stdlib prompt set) or prompts = "prompts.txt"' }));
      }
    },
  },
  {
    name: 'EDM noise for EDM models',
    check({ plan, ok, at, report }) {
      const o = plan.objective;
      if (o.name !== 'denoise' || o.noise.mode !== 'edm' || !ok('model', 'objective.noise')) return;
      if (plan.model.prediction !== 'edm_v') {
        report(diagnostic('VPL3015', at('objective.noise'), `edm(...) noise levels need an EDM model, but '${plan.model.name}' predicts ${plan.model.prediction}`, { help: 'use noise = uniform' }));
      }
    },
  },
];

export function checkRules(build: BuildResult, fileSpan: Span, report: (d: Diagnostic) => void): void {
  const { plan, invalidPaths, blockSpans } = build;
  const ctx: RuleContext = {
    plan,
    ok: (...paths) => paths.every((p) => ![...invalidPaths].some((bad) => bad === p || p.startsWith(`${bad}.`))),
    at: (path) => plan.spans[path] ?? blockSpans.get(path.split('.')[0]) ?? fileSpan,
    written: (path) => path in plan.spans,
    report,
  };
  for (const rule of rules) rule.check(ctx);
}
