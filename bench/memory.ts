// Peak memory of the training step with and without rematerialisation (per-block gradient
// checkpointing, tensor/passes/remat.ts): the compiler's liveness figure (peakMemory) and the
// measured peak RSS of a process that builds the step and runs it.
//
//   npx tsx bench/memory.ts [--config deep] [--steps 3] [--ort all,basic,disabled]
//
// Each variant runs in its own child process (peak RSS is a per-process high-water mark: VmHWM
// in /proc/self/status). The child reports VmHWM after building the graph (node + compiler) and
// after creating the session and running `steps` steps. onnxruntime's own graph optimiser has a
// common-subexpression pass that can merge the recomputed nodes back into the forward ones, so
// each variant runs under several ORT optimisation levels ('all', 'basic', 'disabled').
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { peakMemory } from '../tensor/passes/index.ts';
import { load, machine, MiB, peakRss } from './common.ts';
import { buildTrainStep, CONFIGS, initialFeeds, ORT_OPTIONS, StepRunner } from './net.ts';

interface ChildResult {
  remat: boolean;
  ortLevel: string;
  nodes: number;
  recomputed: number;
  livenessPeak: number;
  paramBytes: number;
  peakNode: string;
  rssAfterBuild: number;
  rssPeak: number;
  stepSeconds: number;
}

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'deep' },
    steps: { type: 'string', default: '3' },
    child: { type: 'boolean', default: false },
    remat: { type: 'boolean', default: false },
    ort: { type: 'string', default: 'all,basic,disabled' },
  },
});
const cfg = CONFIGS[values.config!];
if (!cfg) throw new Error(`unknown config '${values.config}'`);

if (values.child) {
  const step = await buildTrainStep(cfg, { remat: values.remat });
  const stateNames = new Set([...step.names, ...step.names.flatMap((n) => [`adam.m.${n}`, `adam.v.${n}`])]);
  const report = peakMemory(step.graph, { params: step.graph.inputs.filter((v) => stateNames.has(v.name)) });
  const feeds = initialFeeds(step, cfg);
  const rssAfterBuild = peakRss();
  const runner = await StepRunner.create(step, feeds, { ...ORT_OPTIONS, graphOptimizationLevel: values.ort as 'all' | 'extended' | 'basic' | 'disabled' });
  const t0 = performance.now();
  for (let i = 0; i < Number(values.steps); i++) await runner.run();
  const stepSeconds = (performance.now() - t0) / 1000 / Number(values.steps);
  const result: ChildResult = {
    remat: values.remat ?? false,
    ortLevel: values.ort!,
    nodes: step.graph.nodes.length,
    recomputed: step.recomputed,
    livenessPeak: report.peakBytes,
    paramBytes: report.paramBytes,
    peakNode: report.peakNode,
    rssAfterBuild,
    rssPeak: peakRss(),
    stepSeconds,
  };
  await runner.release();
  console.log(JSON.stringify(result));
} else {
  const self = fileURLToPath(import.meta.url);
  console.log(`machine: ${machine()}`);
  console.log(`date: ${new Date().toISOString()}; load average ${load()}`);
  console.log(`config ${values.config}: ${cfg.batch}x${cfg.inChannels}x${cfg.height}x${cfg.width}, C=${cfg.channels}, tokens=${cfg.height * cfg.width}, ${values.steps} steps per child`);
  const rows: ChildResult[] = [];
  for (const remat of [false, true]) {
    for (const ort of values.ort!.split(',')) {
      const args = ['--import', 'tsx', self, '--child', '--config', values.config!, '--steps', values.steps!, '--ort', ort, ...(remat ? ['--remat'] : [])];
      const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (run.status !== 0) throw new Error(`child failed (${remat ? 'remat' : 'no remat'}, ORT ${ort}):\n${run.stderr}`);
      rows.push(JSON.parse(run.stdout.trim().split('\n').pop()!) as ChildResult);
    }
  }
  console.log('');
  console.log('variant              ORT opt   nodes  recomputed  liveness peak  peak RSS (VmHWM)  RSS after build  RSS step - build  s/step');
  for (const r of rows) {
    console.log(
      [
        (r.remat ? 'remat per block' : 'no remat').padEnd(20),
        r.ortLevel.padEnd(9),
        String(r.nodes).padStart(5),
        String(r.recomputed).padStart(11),
        MiB(r.livenessPeak).padStart(14),
        MiB(r.rssPeak).padStart(17),
        MiB(r.rssAfterBuild).padStart(16),
        MiB(r.rssPeak - r.rssAfterBuild).padStart(17),
        r.stepSeconds.toFixed(3).padStart(7),
      ].join(' '),
    );
  }
  const find = (remat: boolean, ort: string) => rows.find((r) => r.remat === remat && r.ortLevel === ort)!;
  const base = rows.find((r) => !r.remat)!;
  const rm = rows.find((r) => r.remat)!;
  console.log(`\nparameters + AdamW state (resident, not in the liveness peak): ${MiB(base.paramBytes)}`);
  console.log(`liveness peak: remat / no remat = ${(rm.livenessPeak / base.livenessPeak).toFixed(3)}`);
  for (const ort of values.ort!.split(',')) {
    const a = find(false, ort);
    const b = find(true, ort);
    console.log(`measured (ORT ${ort}): peak RSS remat / no remat = ${(b.rssPeak / a.rssPeak).toFixed(3)}; step part ${((b.rssPeak - b.rssAfterBuild) / (a.rssPeak - a.rssAfterBuild)).toFixed(3)}`);
  }
}
