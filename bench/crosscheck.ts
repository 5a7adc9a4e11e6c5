// Cross-check of vplc's compiled training step against PyTorch eager.
//
//   npx tsx bench/crosscheck.ts [--config small] [--steps 3] [--tol 1e-4] [--keep]
//
// vplc builds the bench network (bench/net.ts) with seeded-init weights, writes the weights and
// inputs as safetensors, and bench/net_torch.py loads them by name into the same network in
// PyTorch. Both sides compute the loss and every parameter gradient at the initial weights and
// then take `steps` AdamW steps. Errors are norm-wise relative per tensor,
// max|vplc - torch| / max|torch|, so elements near zero do not inflate them; the run exits 1 when
// any exceeds the tolerance (float32 on both sides).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readSafetensors } from '../runtime/weights/safetensors.ts';
import { fmt, runTorch, torchAvailable } from './common.ts';
import { buildTrainStep, CONFIGS, exportForTorch, initialFeeds, StepRunner } from './net.ts';

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

export async function crosscheck(options: { config: string; steps: number; tol: number; keep: boolean }): Promise<boolean> {
  const cfg = CONFIGS[options.config];
  if (!cfg) throw new Error(`unknown config '${options.config}' (known: ${Object.keys(CONFIGS).join(', ')})`);
  const step = await buildTrainStep(cfg, { exposeGrads: true });
  const feeds = initialFeeds(step, cfg);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-crosscheck-'));
  try {
    await exportForTorch(dir, step, cfg, feeds, options.steps);
    runTorch(['crosscheck', dir]);
    const torch = (await readSafetensors(path.join(dir, 'torch.safetensors'))).tensors;
    const ref = (name: string) => {
      const t = torch.get(name);
      if (!t) throw new Error(`the PyTorch side wrote no '${name}'`);
      return t.data as Float32Array;
    };

    const runner = await StepRunner.create(step, feeds);
    const losses: number[] = [];
    let grads: Map<string, Float32Array> | undefined;
    for (let i = 0; i < options.steps; i++) {
      const out = await runner.run();
      losses.push((out[step.lossName].data as Float32Array)[0]);
      if (i === 0) grads = new Map(step.names.map((n) => [n, out[step.gradNames.get(n)!].data as Float32Array]));
    }
    await runner.release();

    const rows: [string, number][] = [];
    rows.push(['loss (initial weights)', relError([losses[0]], ref('loss'))]);
    losses.forEach((l, i) => rows.push([`loss at AdamW step ${i + 1}`, relError([l], ref(`loss.${i}`))]));
    for (const name of step.names) rows.push([`grad ${name}`, relError(grads!.get(name)!, ref(`grad.${name}`))]);
    for (const name of step.names) {
      rows.push([`weight ${name} after ${options.steps} steps`, relError(runner.feeds[name].data as Float32Array, ref(`param.${name}`))]);
    }
    const width = Math.max(...rows.map(([n]) => n.length));
    console.log(`vplc vs PyTorch, config ${options.config}: ${cfg.batch}x${cfg.inChannels}x${cfg.height}x${cfg.width} conv+attention net (+${cfg.extraBlocks ?? 0} blocks), float32, tolerance ${options.tol} (norm-wise relative)`);
    console.log(`loss: vplc ${losses[0]}  torch ${ref('loss')[0]}`);
    for (const [name, err] of rows) console.log(`${name.padEnd(width)}  ${fmt(err)}${err <= options.tol ? '' : '  MISMATCH'}`);
    const worst = (prefix: string) => Math.max(...rows.filter(([n]) => n.startsWith(prefix)).map(([, e]) => e));
    console.log(`max relative error: loss ${fmt(worst('loss'))}, gradients ${fmt(worst('grad'))}, weights after ${options.steps} AdamW steps ${fmt(worst('weight'))}`);
    const ok = rows.every(([, e]) => e <= options.tol);
    console.log(ok ? 'crosscheck: OK' : 'crosscheck: MISMATCH');
    return ok;
  } finally {
    if (options.keep) console.log(`files kept in ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname;
if (isMain) {
  const { values } = parseArgs({ options: { config: { type: 'string', default: 'small' }, steps: { type: 'string', default: '3' }, tol: { type: 'string', default: '1e-4' }, keep: { type: 'boolean', default: false } } });
  const torch = torchAvailable();
  if (!torch.ok) {
    console.error(`crosscheck needs PyTorch: ${torch.why}`);
    process.exit(2);
  }
  const ok = await crosscheck({ config: values.config!, steps: Number(values.steps), tol: Number(values.tol), keep: values.keep ?? false });
  process.exit(ok ? 0 : 1);
}
