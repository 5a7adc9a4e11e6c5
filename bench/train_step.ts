// Speed of vplc's compiled training step (forward + backward + AdamW in one ORT run) against the
// same step in PyTorch eager, both on 2 threads, same shapes, weights and inputs; plus the
// step's achieved FLOP/s as a fraction of onnxruntime's MatMul peak measured in the same run.
//
//   npx tsx bench/train_step.ts [--config small,medium] [--threads 2] [--rounds 3] [--iters 10] [--warmup 3] [--json out.json]
//
// The machine is shared, so vplc, PyTorch and the MatMul peak are timed in interleaved rounds
// (same load for all three) and each keeps its best round median. The vplc time includes feeding inputs and copying every
// output (new weights, AdamW state) back to JS, which the next step feeds in again: that is
// what a training loop pays. A ratio below 1 means vplc is faster.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { matmulFlops } from '../tensor/passes/cost.ts';
import { fmt, load, machine, MatmulPeak, median, TorchServer, torchAvailable } from './common.ts';
import { buildTrainStep, CONFIGS, exportForTorch, initialFeeds, ORT_OPTIONS, StepRunner } from './net.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'small,medium' },
    iters: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    json: { type: 'string' },
  },
});
const iters = Number(values.iters);
const warmup = Number(values.warmup);
const rounds = Number(values.rounds);
const threads = Number(values.threads);
const torch = torchAvailable();

console.log(`machine: ${machine()}`);
console.log(`date: ${new Date().toISOString()}; load average at start: ${load()}`);
console.log(`threads: ${threads} per side (ORT intra-op ${threads}, inter-op 1; torch.set_num_threads(${threads}))`);
console.log(`${rounds} interleaved rounds of ${iters} steps per side (after ${warmup} warm-up steps); per side the best round median is kept`);
const peak = await MatmulPeak.create(1024, threads);
const peakTimes: number[] = [];

const results: Record<string, unknown>[] = [];
for (const name of values.config!.split(',')) {
  const cfg = CONFIGS[name];
  if (!cfg) throw new Error(`unknown config '${name}' (known: ${Object.keys(CONFIGS).join(', ')})`);
  const step = await buildTrainStep(cfg);
  const feeds = initialFeeds(step, cfg);
  const flops = matmulFlops(step.graph);
  const runner = await StepRunner.create(step, feeds, { ...ORT_OPTIONS, intraOpNumThreads: threads });
  const vplcRound = async (n: number) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await runner.run();
      times.push((performance.now() - t0) / 1000);
    }
    return times;
  };
  await vplcRound(warmup);

  let server: TorchServer | undefined;
  let dir: string | undefined;
  if (torch.ok) {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vplc-bench-'));
    await exportForTorch(dir, step, cfg, initialFeeds(step, cfg));
    server = await TorchServer.start(dir, warmup, threads);
  }
  const shape = `${cfg.batch}x${cfg.inChannels}x${cfg.height}x${cfg.width}, C=${cfg.channels}, tokens=${cfg.height * cfg.width}`;
  console.log(`\n[${name}] ${shape}; ${step.graph.nodes.length} nodes, ${step.names.length} parameter tensors`);
  const vplcMedians: number[] = [];
  const torchMedians: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const v = median(await vplcRound(iters));
    vplcMedians.push(v);
    let line = `  round ${r + 1}: vplc ${fmt(v * 1e3)} ms`;
    if (server) {
      const t = median(await server.round(iters));
      torchMedians.push(t);
      line += `, PyTorch ${fmt(t * 1e3)} ms, ratio ${fmt(v / t)}x`;
    }
    const p = median(await peak.round(5));
    peakTimes.push(p);
    console.log(`${line}, MatMul peak ${fmt(peak.flopsPerRun / p / 1e9)} GFLOP/s; load ${load()}`);
  }
  await runner.release();
  if (server) await server.stop();
  if (dir) await rm(dir, { recursive: true, force: true });

  const vplc = Math.min(...vplcMedians);
  const torchSeconds = torchMedians.length ? Math.min(...torchMedians) : NaN;
  const peakFlops = peak.flopsPerRun / Math.min(...peakTimes);
  const achieved = flops.total / vplc;
  console.log(`  vplc step (fwd+bwd+AdamW, one ORT run): ${fmt(vplc * 1e3)} ms`);
  if (server) {
    console.log(`  PyTorch eager step (torch ${server.info.torch}, ${server.info.threads} threads): ${fmt(torchSeconds * 1e3)} ms`);
    console.log(`  ratio vplc / PyTorch: ${fmt(vplc / torchSeconds)}x (goal <= 0.5x); per round: ${vplcMedians.map((v, i) => fmt(v / torchMedians[i])).join(', ')}`);
  } else console.log(`  PyTorch not measured: ${torch.why}`);
  const byOp = Object.entries(flops.byOp).map(([op, f]) => `${op} ${fmt(f / 1e6)}M`).join(', ');
  console.log(`  matmul-class FLOPs per step: ${fmt(flops.total / 1e9)} GFLOP (${byOp})`);
  console.log(`  achieved ${fmt(achieved / 1e9)} GFLOP/s = ${fmt((100 * achieved) / peakFlops)}% of the ORT MatMul peak (${fmt(peakFlops / 1e9)} GFLOP/s, ${peak.n}^3, best round so far)`);
  results.push({ config: name, threads, cfg, vplcSeconds: vplc, torchSeconds, ratio: vplc / torchSeconds, vplcMedians, torchMedians, flops: flops.total, achievedFlops: achieved, peakFlops });
}
await peak.release();
console.log(`\nload average at end: ${load()}`);
if (values.json) await writeFile(values.json, JSON.stringify({ machine: machine(), date: new Date().toISOString(), results }, null, 2));
