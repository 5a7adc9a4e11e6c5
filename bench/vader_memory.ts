// Peak memory of the tiny VADER train_step (bench/vader.ts): vplc with and without the
// lowering's rematerialisation (plan.train.remat: UNet/VAE segments recomputed in the backward
// pass) under several onnxruntime optimisation levels, and the PyTorch twin (bench/vader_torch.py).
//
//   npx tsx bench/vader_memory.ts [--steps 3] [--ort all,disabled] [--threads 2]
//
// Every variant runs in its own child process; peak RSS is that process's VmHWM. The vplc child
// reports VmHWM after lowering the program (node + compiler) and after creating the session and
// running `steps` steps; the torch child after `import torch` + loading the weights and after the
// steps. The liveness figure is tensor/passes/liveness peakMemory with the LoRA factors and
// AdamW state counted as resident parameters (as frozen weights are).
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { peakMemory } from '../tensor/passes/index.ts';
import { load, machine, MiB, peakRss, PYTHON, torchAvailable } from './common.ts';
import { buildVaderStep, exportVaderForTorch, sessionOptions, VADER_TORCH_SCRIPT, VaderRunner, vaderFeeds } from './vader.ts';

interface ChildResult {
  side: string;
  remat: boolean;
  ortLevel: string;
  nodes: number;
  livenessPeak: number;
  paramBytes: number;
  peakNode: string;
  rssAfterBuild: number;
  rssPeak: number;
  stepSeconds: number;
}

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    child: { type: 'boolean', default: false },
    remat: { type: 'boolean', default: false },
    ort: { type: 'string', default: 'all,disabled' },
    threads: { type: 'string', default: '2' },
  },
});
const threads = Number(values.threads);
const steps = Number(values.steps);

if (values.child) {
  const step = buildVaderStep({ remat: values.remat });
  const state = new Set([...step.lora, ...step.lora.flatMap((n) => [`adam.m.${n}`, `adam.v.${n}`])]);
  const report = peakMemory(step.graph, { params: step.graph.inputs.filter((v) => state.has(v.name)) });
  const feeds = vaderFeeds(step);
  const rssAfterBuild = peakRss();
  const runner = await VaderRunner.create(step, feeds, sessionOptions(threads, values.ort as 'all' | 'extended' | 'basic' | 'disabled'));
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await runner.run();
  const result: ChildResult = {
    side: 'vplc',
    remat: values.remat ?? false,
    ortLevel: values.ort!,
    nodes: step.graph.nodes.length,
    livenessPeak: report.peakBytes,
    paramBytes: report.paramBytes,
    peakNode: report.peakNode,
    rssAfterBuild,
    rssPeak: peakRss(),
    stepSeconds: (performance.now() - t0) / 1000 / steps,
  };
  await runner.release();
  console.log(JSON.stringify(result));
} else {
  const self = fileURLToPath(import.meta.url);
  console.log(`machine: ${machine()}`);
  console.log(`date: ${new Date().toISOString()}; load average ${load()}`);
  console.log(`tiny VADER train_step, ${steps} steps per child process, ${threads} threads`);
  const rows: ChildResult[] = [];
  for (const remat of [false, true]) {
    for (const ort of values.ort!.split(',')) {
      const args = ['--import', 'tsx', self, '--child', '--steps', String(steps), '--threads', String(threads), '--ort', ort, ...(remat ? ['--remat'] : [])];
      const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (run.status !== 0) throw new Error(`child failed (${remat ? 'remat' : 'no remat'}, ORT ${ort}):\n${run.stderr}`);
      rows.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult);
    }
  }
  const torch = torchAvailable();
  if (torch.ok) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-vader-mem-'));
    try {
      const step = buildVaderStep();
      await exportVaderForTorch(dir, step, vaderFeeds(step));
      const run = spawnSync(PYTHON, [VADER_TORCH_SCRIPT, 'memory', dir, String(steps)], {
        encoding: 'utf8',
        env: { ...process.env, VPLC_BENCH_THREADS: String(threads) },
      });
      if (run.status !== 0) throw new Error(`torch child failed:\n${run.stderr}`);
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { hwm_setup: number; hwm: number; seconds_per_step: number };
      rows.push({ side: 'torch', remat: false, ortLevel: '-', nodes: 0, livenessPeak: NaN, paramBytes: NaN, peakNode: '', rssAfterBuild: r.hwm_setup, rssPeak: r.hwm, stepSeconds: r.seconds_per_step });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } else console.log(`PyTorch not measured: ${torch.why}`);

  console.log('');
  console.log('side    variant    ORT opt    nodes  liveness peak  peak RSS (VmHWM)  RSS after build  RSS step - build  s/step  liveness peak at');
  for (const r of rows) {
    console.log(
      [
        r.side.padEnd(7),
        (r.side === 'torch' ? 'eager' : r.remat ? 'remat' : 'no remat').padEnd(10),
        r.ortLevel.padEnd(9),
        String(r.nodes || '-').padStart(6),
        (Number.isNaN(r.livenessPeak) ? '-' : MiB(r.livenessPeak)).padStart(14),
        MiB(r.rssPeak).padStart(17),
        MiB(r.rssAfterBuild).padStart(16),
        MiB(r.rssPeak - r.rssAfterBuild).padStart(17),
        r.stepSeconds.toFixed(3).padStart(7),
        ` ${r.peakNode}`,
      ].join(' '),
    );
  }
  const vplc = rows.filter((r) => r.side === 'vplc');
  const find = (remat: boolean, ort: string) => vplc.find((r) => r.remat === remat && r.ortLevel === ort)!;
  const base = vplc.find((r) => !r.remat)!;
  const rm_ = vplc.find((r) => r.remat)!;
  console.log(`\nfrozen weights + LoRA + AdamW state (resident, not in the liveness peak): ${MiB(base.paramBytes)}`);
  console.log(`liveness peak: remat / no remat = ${(rm_.livenessPeak / base.livenessPeak).toFixed(3)} (${rm_.nodes - base.nodes} nodes added by remat)`);
  for (const ort of values.ort!.split(',')) {
    const a = find(false, ort);
    const b = find(true, ort);
    console.log(`measured (ORT ${ort}): peak RSS remat / no remat = ${(b.rssPeak / a.rssPeak).toFixed(3)}; step part ${((b.rssPeak - b.rssAfterBuild) / (a.rssPeak - a.rssAfterBuild)).toFixed(3)}`);
  }
  const t = rows.find((r) => r.side === 'torch');
  if (t) {
    for (const r of vplc) {
      console.log(
        `vplc (${r.remat ? 'remat' : 'no remat'}, ORT ${r.ortLevel}) / PyTorch: peak RSS ${(r.rssPeak / t.rssPeak).toFixed(3)}; step part ${((r.rssPeak - r.rssAfterBuild) / (t.rssPeak - t.rssAfterBuild)).toFixed(3)}`,
      );
    }
  }
}
