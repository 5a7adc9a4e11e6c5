// Estimated peak memory (tensor/passes/liveness peakMemory) of the training step of
// pipelines/pickscore.vpl at full size (VideoCrafter2, 320x512, 12 frames, CFG, fp16, LoRA,
// remat on) with attention in query chunks (stdlib/nn/attention.ts) and with every score matrix
// in one block (attentionChunkBytes = Infinity). Nothing runs: frozen weights are lazy (shapes
// only), so the figures are the compiler's liveness estimate of live activations (frozen weights,
// LoRA factors and optimizer state are counted apart as parameters).
//
//   npx tsx bench/attention_memory.ts [--scope unet|block|step] [--budget-mib 64] [--precision fp16|fp32]
//
// Scopes:
//   unet   (default) the train_step's one UNet call with gradient: the CFG pair of latents
//          [2, 4, 12, 40, 64] through the full VideoCrafter2 UNet with pickscore.vpl's LoRA,
//          a mean-square stand-in for DDIM step + VAE decode + PickScore, then the lowering's
//          passes (precision, autodiff into the LoRA factors, remat, DCE).
//   block  one level-0 spatial transformer block (self-attention over 40x64 tokens, cross-
//          attention, GEGLU) at 12 frames x CFG 2, in one remat segment: fast.
//   step   the real train_step from lowering pickscore.vpl without weights (needs every network
//          of the pipeline, the reward model included, to build shapes-only).
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { checkFile } from '../compiler/check/index.ts';
import { attentionLowering, loweringBasis, type LowerOptions } from '../compiler/lower/contract.ts';
import { callDenoiser } from '../compiler/lower/denoiser-call.ts';
import { applyPrecision, type LowPrecision } from '../compiler/lower/training-step.ts';
import { lower } from '../compiler/lower/index.ts';
import type { Plan } from '../compiler/plan.ts';
import { familyOf } from '../stdlib/models/families.ts';
import { attention, withAttentionLowering } from '../stdlib/nn/attention.ts';
import { feedForward } from '../stdlib/nn/feedforward.ts';
import { withLora } from '../stdlib/nn/lora.ts';
import { layerNorm } from '../stdlib/nn/normalization.ts';
import type { NN } from '../stdlib/nn/parameters.ts';
import { cfgCombine } from '../stdlib/samplers/index.ts';
import { differentiate } from '../tensor/autodiff/grad.ts';
import { Builder } from '../tensor/ir/builder.ts';
import { Graph, type Value } from '../tensor/ir/graph.ts';
import { eliminateDeadCode } from '../tensor/passes/dce.ts';
import { peakMemory } from '../tensor/passes/liveness.ts';
import { rematerialize } from '../tensor/passes/remat.ts';

const GiB = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const PIPELINE = fileURLToPath(new URL('../pipelines/pickscore.vpl', import.meta.url));

interface Built {
  graph: Graph;
  /** Graph inputs that are resident state (LoRA factors, optimizer state), not activations. */
  state: Value[];
}

function plan(): Plan {
  const checked = checkFile(PIPELINE);
  if (!checked.plan) throw new Error(`${PIPELINE} does not check: ${checked.diagnostics.map((d) => d.message).join('; ')}`);
  return checked.plan;
}

/** The lowering's passes after the forward pass: precision, autodiff into `wrt`, remat, DCE. */
function finishTrainGraph(graph: Graph, loss: Value, wrt: Value[], precision: LowPrecision | undefined): void {
  applyPrecision(graph, precision);
  const forwardNodes = graph.nodes.length;
  const { grads } = differentiate(graph, loss, wrt);
  graph.markOutput(loss);
  for (const w of wrt) graph.markOutput(grads.get(w)!);
  rematerialize(graph, { forwardNodes });
  eliminateDeadCode(graph);
}

function meanSquare(b: Builder, x: Value): Value {
  return b.reduceMean(b.mul(x, x), undefined, false);
}

function buildUnetStep(p: Plan, options: LowerOptions): Built {
  const { build, params, B, latentShape, L, D } = loweringBasis(p, { ...options, shapesOnly: true });
  const graph = new Graph('train_step_unet');
  const b = new Builder(graph);
  const lora = withLora({ b, params }, { ...p.lora, table: familyOf(build.denoiser).loraTargets, family: build.denoiser.family });
  const nn = withAttentionLowering(lora.nn, attentionLowering(options, 'differentiated'));
  const x = b.input('latents', latentShape);
  const context = b.input('context', [B, L, D]);
  const uncond = b.input('uncond_context', [B, L, D]);
  const t = b.input('timestep', []);
  const eps = callDenoiser(nn, build, p, { x: b.concat([x, x], 0), timesteps: b.expand(b.reshape(t, [1]), [2 * B]), context: b.concat([uncond, context], 0) });
  const [eu, ec] = b.split(eps, 0, [B, B]);
  const guided = cfgCombine(b, eu, ec, (p.sampler as { guidance: number }).guidance);
  const wrt = graph.inputs.filter((v) => params.list().some((q) => q.trainable && q.name === v.name));
  finishTrainGraph(graph, meanSquare(b, guided), wrt, options.precision);
  return { graph, state: wrt };
}

function buildBlock(p: Plan, options: LowerOptions): Built {
  const [, frames, h, w] = p.derived.latent_shape;
  const videos = 2 * p.train.batch; // the CFG pair
  const channels = 320; // VideoCrafter2 level 0: 5 heads of 64
  const { build, params } = loweringBasis(p, { ...options, shapesOnly: true });
  const graph = new Graph('spatial_transformer_block');
  const b = new Builder(graph);
  const lora = withLora({ b, params }, { ...p.lora, table: familyOf(build.denoiser).loraTargets, family: build.denoiser.family });
  const nn: NN = withAttentionLowering(lora.nn, attentionLowering(options, 'differentiated'));
  const x = b.input('x', [videos * frames, h * w, channels]);
  const context = b.input('context', [videos * frames, 77, 1024]);
  // named like the UNet's first spatial transformer, so pickscore.vpl's LoRA targets match
  const y = b.inSegment('input_blocks.1.1', () =>
    b.within('input_blocks.1.1.transformer_blocks.0', () => {
      let s = b.add(attention(nn, 'attn1', layerNorm(nn, 'norm1', x), { heads: 5, dimHead: 64 }), x);
      s = b.add(attention(nn, 'attn2', layerNorm(nn, 'norm2', s), { heads: 5, dimHead: 64, context }), s);
      return b.add(feedForward(nn, 'ff', layerNorm(nn, 'norm3', s), { activation: 'geglu' }), s);
    }),
  );
  const wrt = graph.inputs.filter((v) => v.name.includes('.lora_'));
  finishTrainGraph(graph, meanSquare(b, y), wrt, options.precision);
  return { graph, state: wrt };
}

function buildStep(p: Plan, options: LowerOptions): Built {
  const lowered = lower(p, { ...options, shapesOnly: true });
  const graph = lowered.program.graphs.train_step;
  const names = new Set(lowered.trainable.map((t) => t.name));
  return { graph, state: graph.inputs.filter((v) => names.has(v.name) || v.name.startsWith('adam.') || v.name.startsWith('acc.')) };
}

const { values } = parseArgs({
  options: {
    scope: { type: 'string', default: 'unet' },
    'budget-mib': { type: 'string', default: '64' },
    precision: { type: 'string', default: 'fp16' },
  },
});
const builders: Record<string, (p: Plan, o: LowerOptions) => Built> = { unet: buildUnetStep, block: buildBlock, step: buildStep };
const builder = builders[values.scope!];
if (!builder) throw new Error(`unknown --scope '${values.scope}' (unet, block or step)`);
const precision = values.precision === 'fp32' ? undefined : (values.precision as LowPrecision);
const p = plan();
console.log(`${values.scope} of ${p.name}: latents ${p.derived.latent_shape.join('x')}, batch ${p.train.batch} (x2 CFG), ${values.precision}, remat ${p.train.remat ? 'on' : 'off'}`);
const variants: [string, number][] = [
  [`chunked (${values['budget-mib']} MiB of scores per chunk)`, Number(values['budget-mib']) * 2 ** 20],
  ['one block (no chunking)', Infinity],
];
for (const [label, budget] of variants) {
  const t0 = performance.now();
  const { graph, state } = builder(p, { attentionChunkBytes: budget, ...(precision ? { precision } : {}) });
  const report = peakMemory(graph, { params: state });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${label}: peak ${GiB(report.peakBytes)} of activations at ${report.peakNode}, + ${GiB(report.paramBytes)} of weights and state (${graph.nodes.length} nodes, built in ${seconds.toFixed(0)} s)`);
  for (const live of report.liveAtPeak.slice(0, 5)) console.log(`    ${GiB(live.bytes)}  ${live.name}`);
}
