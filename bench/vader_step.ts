// The tiny VADER train_step (compiler/methods/reward/lower.ts, plan in bench/vader.ts) against its
// PyTorch twin bench/vader_torch.py, from the same weights and inputs:
//
//   npx tsx bench/vader_step.ts [--check-only | --no-check] [--remat true|false] [--ort all|basic|disabled] [--steps 3]
//       [--tol 1e-4] [--threads 2,1] [--rounds 3] [--iters 5] [--warmup 2] [--keep]
//
// (a) cross-check: loss, grad_norm, the decoded frame, every LoRA gradient and the LoRA factors
//     after `steps` AdamW steps, as norm-wise relative errors max|vplc - torch| / max|torch|.
//     The train_step does not output gradients; at step 1 (AdamW state 0) its output
//     adam.m.<p>_out = (1 - beta1) g_clipped, so g_clipped = m_out / (1 - beta1) in float32
//     and g = g_clipped * (norm + 1e-6) / clip when clipping acted. Exit 1 on a mismatch, 2 without torch.
// (b) time: one ORT run of train_step (vplc, state carried from step to step, inputs fed and
//     every output copied back) vs the PyTorch eager step (forward, backward, clip, AdamW), in
//     interleaved rounds, per thread count.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors } from '../runtime/weights/safetensors.ts';
import { fmt, load, machine, median, PYTHON, torchAvailable } from './common.ts';
import { buildVaderStep, exportVaderForTorch, sessionOptions, VADER_TORCH_SCRIPT, VaderRunner, vaderFeeds } from './vader.ts';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (Number.isNaN(diff)) return NaN;
  return scale === 0 ? diff : diff / scale;
}

export async function vaderCrosscheck(options: { steps: number; tol: number; keep: boolean; remat?: boolean }): Promise<boolean> {
  const step = buildVaderStep({ remat: options.remat ?? true });
  const feeds = vaderFeeds(step);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-vader-'));
  try {
    await exportVaderForTorch(dir, step, feeds, options.steps);
    execFileSync(PYTHON, [VADER_TORCH_SCRIPT, 'crosscheck', dir], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'inherit'] });
    const torch = (await readSafetensors(path.join(dir, 'torch.safetensors'))).tensors;
    const ref = (name: string) => {
      const t = torch.get(name);
      if (!t) throw new Error(`the PyTorch side wrote no '${name}'`);
      return t.data as Float32Array;
    };

    const runner = await VaderRunner.create(step, feeds, sessionOptions(2));
    const losses: number[] = [];
    let first: Record<string, { data: unknown }> | undefined;
    for (let i = 0; i < options.steps; i++) {
      const out = await runner.run();
      losses.push((out.loss.data as Float32Array)[0]);
      if (i === 0) first = out;
    }
    await runner.release();

    const opt = step.plan.train.optimizer;
    const oneMinusB1 = Math.fround(1 - Math.fround(opt.betas[0]));
    const norm = (first!.grad_norm.data as Float32Array)[0];
    const clip = step.plan.train.clip;
    const coef = clip > 0 ? Math.min(1, clip / (norm + 1e-6)) : 1;
    const rows: [string, number][] = [];
    losses.forEach((l, i) => rows.push([`loss at step ${i + 1}`, relError([l], ref(`loss.${i}`))]));
    rows.push(['grad_norm', relError([norm], ref('grad_norm'))]);
    rows.push(['frames (decoded frame)', relError(first!.frames.data as Float32Array, ref('frames'))]);
    for (const name of step.lora) {
      const m = first![`adam.m.${name}_out`].data as Float32Array;
      const clipped = m.map((x) => x / oneMinusB1);
      rows.push([`grad ${name}`, relError(clipped.map((x) => x / coef), ref(`grad.${name}`))]);
    }
    for (const name of step.lora) rows.push([`weight ${name} after ${options.steps} steps`, relError(runner.feeds[name].data as Float32Array, ref(`param.${name}`))]);
    const width = Math.max(...rows.map(([n]) => n.length));
    console.log(`tiny VADER train_step, vplc vs PyTorch: latents ${step.graph.inputs.find((v) => v.name === 'latents')!.shape.join('x')}, CFG ${step.plan.sampler.name === 'ddim' ? step.plan.sampler.guidance : '?'}, ${step.lora.length} LoRA tensors, remat ${step.plan.train.remat}; float32, tolerance ${options.tol} (norm-wise relative)`);
    console.log(`loss: vplc ${losses[0]}  torch ${ref('loss.0')[0]}; grad_norm: vplc ${norm}  torch ${ref('grad_norm')[0]} (clip ${clip}: coefficient ${coef.toPrecision(4)})`);
    for (const [name, err] of rows) console.log(`${name.padEnd(width)}  ${fmt(err)}${err <= options.tol ? '' : '  MISMATCH'}`);
    const worst = (prefix: string) => Math.max(...rows.filter(([n]) => n.startsWith(prefix)).map(([, e]) => e));
    const worstName = (prefix: string) => rows.filter(([n]) => n.startsWith(prefix)).reduce((a, r) => (r[1] > a[1] ? r : a))[0];
    console.log(`max relative error: loss ${fmt(worst('loss'))}, grad_norm ${fmt(worst('grad_norm'))}, frames ${fmt(worst('frames'))}, gradients ${fmt(worst('grad '))} (${worstName('grad ')}), LoRA after ${options.steps} AdamW steps ${fmt(worst('weight'))}`);
    const ok = rows.every(([, e]) => e <= options.tol);
    console.log(ok ? 'vader crosscheck: OK' : 'vader crosscheck: MISMATCH');
    return ok;
  } finally {
    if (options.keep) console.log(`files kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

/** A long-lived `vader_torch.py serve` process timing rounds on request. */
async function startTorch(dir: string, warmup: number, threads: number) {
  const child = spawn(PYTHON, [VADER_TORCH_SCRIPT, 'serve', dir, String(warmup)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, VPLC_BENCH_THREADS: String(threads) },
  });
  const rl = createInterface({ input: child.stdout });
  const lines = rl[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error('vader_torch.py serve exited before it was ready');
  const info = JSON.parse(first.value) as { torch: string; threads: number };
  return {
    info,
    round: async (n: number): Promise<number[]> => {
      child.stdin.write(`${n}\n`);
      const line = await lines.next();
      if (line.done) throw new Error('vader_torch.py serve exited');
      return (JSON.parse(line.value) as { times_s: number[] }).times_s;
    },
    stop: async () => {
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
      rl.close();
    },
  };
}

async function timing(options: { threads: number[]; rounds: number; iters: number; warmup: number; haveTorch: boolean; remat: boolean; ort: string }): Promise<void> {
  const step = buildVaderStep({ remat: options.remat });
  const feeds = vaderFeeds(step);
  console.log(`\ntiming: train_step ${step.graph.nodes.length} nodes (remat ${step.plan.train.remat}, ORT optimisation ${options.ort}, lowered in ${fmt(step.lowerSeconds)} s); ${options.rounds} interleaved rounds of ${options.iters} steps per side after ${options.warmup} warm-up steps; best round median kept`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-vader-time-'));
  try {
    if (options.haveTorch) await exportVaderForTorch(dir, step, feeds);
    for (const threads of options.threads) {
      const runner = await VaderRunner.create(step, feeds, sessionOptions(threads, options.ort as 'all' | 'basic' | 'disabled'));
      const vplcRound = async (n: number) => {
        const times: number[] = [];
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          await runner.run();
          times.push((performance.now() - t0) / 1000);
        }
        return times;
      };
      await vplcRound(options.warmup);
      const torch = options.haveTorch ? await startTorch(dir, options.warmup, threads) : undefined;
      console.log(`[${threads} thread${threads > 1 ? 's' : ''}]`);
      const v: number[] = [];
      const t: number[] = [];
      for (let r = 0; r < options.rounds; r++) {
        v.push(median(await vplcRound(options.iters)));
        let line = `  round ${r + 1}: vplc ${fmt(v[r] * 1e3)} ms`;
        if (torch) {
          t.push(median(await torch.round(options.iters)));
          line += `, PyTorch ${fmt(t[r] * 1e3)} ms, ratio ${fmt(v[r] / t[r])}x`;
        }
        console.log(`${line}; load ${load()}`);
      }
      await runner.release();
      const best = Math.min(...v);
      if (torch) {
        await torch.stop();
        const tb = Math.min(...t);
        console.log(`  vplc train_step (one ORT run): ${fmt(best * 1e3)} ms; PyTorch eager (torch ${torch.info.torch}, ${torch.info.threads} threads): ${fmt(tb * 1e3)} ms`);
        console.log(`  ratio vplc / PyTorch: ${fmt(best / tb)}x (goal <= 0.5x); per round: ${v.map((x, i) => fmt(x / t[i])).join(', ')}`);
      } else console.log(`  vplc train_step (one ORT run): ${fmt(best * 1e3)} ms; PyTorch not measured`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname;
if (isMain) {
  const { values } = parseArgs({
    options: {
      'check-only': { type: 'boolean', default: false },
      'no-check': { type: 'boolean', default: false },
      steps: { type: 'string', default: '3' },
      tol: { type: 'string', default: '1e-4' },
      keep: { type: 'boolean', default: false },
      remat: { type: 'string', default: 'true' },
      ort: { type: 'string', default: 'all' },
      threads: { type: 'string', default: '2,1' },
      rounds: { type: 'string', default: '3' },
      iters: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
    },
  });
  const torch = torchAvailable();
  console.log(`machine: ${machine()}`);
  console.log(`date: ${new Date().toISOString()}; load average at start: ${load()}`);
  let ok = true;
  if (!values['no-check']) {
    if (!torch.ok) {
      console.error(`the cross-check needs PyTorch: ${torch.why}`);
      process.exit(2);
    }
    ok = await vaderCrosscheck({ steps: Number(values.steps), tol: Number(values.tol), keep: values.keep ?? false, remat: values.remat !== 'false' });
  }
  if (!values['check-only']) {
    await timing({
      threads: values.threads!.split(',').map(Number),
      rounds: Number(values.rounds),
      iters: Number(values.iters),
      warmup: Number(values.warmup),
      haveTorch: torch.ok,
      remat: values.remat !== 'false',
      ort: values.ort!,
    });
    console.log(`load average at end: ${load()}`);
  }
  process.exit(ok ? 0 : 1);
}
