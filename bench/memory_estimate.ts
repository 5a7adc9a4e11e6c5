// How honest is `vplc explain --graph`'s memory estimate (compiler/memory-estimate.ts)? For a few
// reduced-size pipelines on CPU: the estimate for device cpu at fp32 next to the measured peak
// RSS of a child process that does what `vplc run --steps 3` does (the runtime method's prepare,
// then the optimizer steps with validation and checkpoint). Three steps, not one: onnxruntime's
// arena grows on a graph's second run (the memory pattern's block comes on top) and no more
// after, and the estimate claims to bound that steady state.
//
//   npx tsx bench/memory_estimate.ts [--only demo,turbo_demo,...] [--steps 3] [--threads 2]
//
// Each case runs in its own child (peak RSS is a per-process high-water mark: VmHWM in
// /proc/self/status). The child first loads every module the run uses and creates and runs an
// empty onnxruntime session: that VmHWM is node + onnxruntime's base, reported apart. Then it
// records VmHWM after prepare (weights read, the plan lowered: the compiler's own JavaScript
// objects are in it, which the estimate leaves out) and after the steps. The ratio is
// (peak - base) / estimate: at most 1 where the estimate is the upper bound it claims to be.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkFile } from '../compiler/check/index.ts';
import { estimateMemory, type MemoryEstimate } from '../compiler/memory-estimate.ts';
import type { Plan } from '../compiler/plan.ts';
import { lowerForCommand } from '../cli/commands/lowering.ts';
import { load, machine, MiB, peakRss } from './common.ts';

interface Case {
  name: string;
  file: string;
  overrides: string[];
  tiny: boolean;
}

const CASES: readonly Case[] = [
  { name: 'demo', file: 'pipelines/demo.vpl', overrides: [], tiny: false },
  { name: 'demo batch 1', file: 'pipelines/demo.vpl', overrides: ['train.batch=1'], tiny: false },
  { name: 'turbo_demo', file: 'pipelines/turbo_demo.vpl', overrides: [], tiny: false },
  { name: 'pickscore --tiny 4 frames', file: 'pipelines/pickscore.vpl', overrides: [], tiny: true },
  { name: 'pickscore --tiny 2 frames', file: 'pipelines/pickscore.vpl', overrides: ['model.frames=2'], tiny: true },
  { name: 'pickscore --tiny last(2)', file: 'pipelines/pickscore.vpl', overrides: ['objective.backprop=last(2)'], tiny: true },
];

interface ChildResult {
  base: number;
  afterPrepare: number;
  peak: number;
  seconds: number;
}

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    only: { type: 'string' },
    threads: { type: 'string', default: '2' },
    steps: { type: 'string', default: '3' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));

function planOf(c: Case): Plan {
  const result = checkFile(path.join(root, c.file), { overrides: c.overrides });
  if (!result.plan) throw new Error(`${c.file}: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  return result.plan;
}

if (values.child) {
  const c = CASES.find((k) => k.name === values.child)!;
  // every module the run loads, and an empty session: node + onnxruntime's base
  const ort = await import('onnxruntime-node');
  const { Graph } = await import('../tensor/ir/graph.ts');
  const { Builder } = await import('../tensor/ir/builder.ts');
  const { emitModel } = await import('../tensor/emit/onnx.ts');
  const { runtimeMethodFor } = await import('../runtime/methods/registry.ts');
  await import('../compiler/lower/index.ts');
  const empty = new Graph('empty');
  const b = new Builder(empty);
  empty.markOutput(b.relu(b.input('x', [1])));
  const session = await ort.InferenceSession.create(emitModel(empty), { intraOpNumThreads: Number(values.threads), interOpNumThreads: 1 });
  await session.run({ x: new ort.Tensor('float32', Float32Array.of(1), [1]) });
  await session.release();
  const base = peakRss();

  const plan = planOf(c);
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'vplc-memest-'));
  try {
    const prepared = await runtimeMethodFor(plan, 'vplc run').prepare(plan, { device: 'cpu', tiny: c.tiny, cwd: root });
    const afterPrepare = peakRss();
    const t0 = performance.now();
    const quiet = { write: () => true, isTTY: false };
    const outcome = await prepared.run({ runDir, fresh: true, device: 'cpu', steps: Number(values.steps), stderr: quiet, handleSignals: false, cacheRoot: path.join(runDir, 'cache') });
    if (outcome.exitCode !== 0) throw new Error(`run exited with ${outcome.exitCode}`);
    const result: ChildResult = { base, afterPrepare, peak: peakRss(), seconds: (performance.now() - t0) / 1000 };
    console.log(JSON.stringify(result));
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
} else {
  const self = fileURLToPath(import.meta.url);
  const only = values.only?.split(',');
  const cases = CASES.filter((c) => !only || only.includes(c.name));
  console.log(`machine: ${machine()}`);
  console.log(`date: ${new Date().toISOString()}; load average ${load()}`);
  console.log(`\`vplc run --steps ${values.steps}\` (with its validation and checkpoints) per child, ${values.threads} threads, device cpu, fp32`);
  const rows: { c: Case; estimate: MemoryEstimate; r: ChildResult }[] = [];
  for (const c of cases) {
    const { lowered, problem } = await lowerForCommand(planOf(c), { tiny: c.tiny });
    if (!lowered) throw new Error(`${c.name}: ${problem}`);
    const estimate = estimateMemory(lowered, { device: 'cpu', precision: 'fp32' });
    const run = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', c.name, '--threads', values.threads!, '--steps', values.steps!], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      env: { ...process.env, NO_COLOR: '1' },
    });
    if (run.status !== 0) throw new Error(`child '${c.name}' failed:\n${run.stderr}`);
    rows.push({ c, estimate, r: JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult });
  }
  console.log('');
  const header = ['case', 'estimate', 'sessions', 'host', 'base RSS', 'after prepare', 'peak RSS', 'peak - base', 'measured/estimate', 'run s'];
  const table = rows.map(({ c, estimate: e, r }) => [
    c.name,
    MiB(e.totalBytes),
    MiB(e.sessionBytes),
    MiB(e.host.total),
    MiB(r.base),
    MiB(r.afterPrepare),
    MiB(r.peak),
    MiB(r.peak - r.base),
    ((r.peak - r.base) / e.totalBytes).toFixed(2),
    r.seconds.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  for (const row of [header, ...table]) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
  console.log('\nbase RSS: node, tsx, the compiler and runtime modules, and one empty onnxruntime session; not in the estimate.');
  console.log('after prepare includes the compiler\'s JavaScript objects (the graphs), which the estimate leaves out too.');
}
