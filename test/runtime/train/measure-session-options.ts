// Measures onnxruntime-node session options on a small training graph (forward + autodiff
// gradients + AdamW of an MLP, batch 256, 512 -> 1024 -> 1024 -> 1); the numbers are quoted in
// runtime/session.ts. Not a test (vitest only picks up *.test.ts):
//   node --import tsx test/runtime/train/measure-session-options.ts
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { adamw } from '../../../tensor/optim/adamw.ts';
import { ortSessionOptions, type SessionOptions } from '../../../runtime/session.ts';
import { Rng } from '../../../runtime/random.ts';

const B = 256;
const dims = [512, 1024, 1024, 1];
const b = new Builder(new Graph('train_step'));
const x = b.input('x', [B, dims[0]!]);
const y = b.input('y', [B, 1]);
const step = b.input('opt_step', [], 'int64');
const ws = dims.slice(1).map((d, i) => b.input(`w${i}`, [dims[i]!, d]));
const ms = ws.map((w, i) => b.input(`m${i}`, [...w.shape]));
const vs = ws.map((w, i) => b.input(`v${i}`, [...w.shape]));
let h = x;
ws.forEach((w, i) => (h = i < ws.length - 1 ? b.tanh(b.matmul(h, w)) : b.matmul(h, w)));
const d = b.sub(h, y);
const loss = b.reduceMean(b.mul(d, d), undefined, false);
const g = gradients(b.graph, loss, ws);
const r = adamw(b, ws.map((w, i) => ({ param: w, grad: g.get(w)!, m: ms[i]!, v: vs[i]! })), step, { lr: 1e-3 });
[loss, ...r.params, ...r.m, ...r.v, r.step].forEach((v) => b.graph.markOutput(v));
const model = emitModel(b.graph);
const params = ws.reduce((n, w) => n + w.size, 0);

const rng = new Rng(1).stream('bench');
const feeds: Record<string, ort.Tensor> = { opt_step: new ort.Tensor('int64', BigInt64Array.of(0n), []) };
for (const v of b.graph.inputs) {
  if (v.dtype === 'float32') feeds[v.name] = new ort.Tensor('float32', rng.fillNormal(new Float32Array(v.size), 0, v.name.startsWith('v') ? 0 : 0.02), [...v.shape]);
}

async function measure(label: string, options: SessionOptions): Promise<void> {
  const session = await ort.InferenceSession.create(model, ortSessionOptions(options));
  for (let i = 0; i < 5; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  times.sort((a, c) => a - c);
  console.log(`${label.padEnd(44)} median ${times[20]!.toFixed(2)} ms  p10 ${times[4]!.toFixed(2)}  p90 ${times[36]!.toFixed(2)}`);
}

const cores = os.availableParallelism();
console.log(`MLP training step: ${(params / 1e6).toFixed(2)}M parameters, batch ${B}, ${cores} cores, onnxruntime-node ${ort.env.versions.common}`);
await measure(`intra=${cores} opt=all arena+pattern`, {});
await measure(`intra=${cores} opt=extended arena+pattern`, { optimization: 'extended' });
await measure(`intra=${cores} opt=basic arena+pattern`, { optimization: 'basic' });
await measure(`intra=${cores} opt=all no arena/pattern`, { memoryArena: false });
await measure(`intra=${Math.max(1, cores >> 1)} opt=all`, { threads: Math.max(1, cores >> 1) });
await measure('intra=1 opt=all', { threads: 1 });
