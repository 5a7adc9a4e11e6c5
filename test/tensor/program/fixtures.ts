// Small programs for the program and checker tests.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { buildLoopGraph, buildStepGraph } from '../../../tensor/optim/loop.ts';
import type { Program } from '../../../tensor/program/program.ts';
import { mlpSpec, seeded } from '../optim/mlp.ts';

/**
 * A program with a frozen "encoder" weight (64x256 float32 = 64 KiB, in memory) and a second
 * frozen weight read from a checkpoint file at an offset, a sampling graph and a training step.
 */
export function smallProgram(dir: string, encoderSeed = 1): Program {
  const checkpoint = path.join(dir, 'ckpt.bin');
  const frozenB = seeded(256 * 8, 99, 0.1);
  const header = new Uint8Array(40).fill(7); // stands in for a safetensors header
  fs.mkdirSync(dir, { recursive: true });
  if (!fs.existsSync(checkpoint)) fs.writeFileSync(checkpoint, Buffer.concat([header, new Uint8Array(frozenB.buffer)]));

  const sample = new Builder(new Graph('sample_step'));
  const x = sample.input('x', [4, 64]);
  const enc = sample.constant(seeded(64 * 256, encoderSeed, 0.2), [64, 256], 'float32', 'encoder.weight');
  const proj = sample.graph.addInitializer('proj.weight', { dtype: 'float32', shape: [256, 8] }, { external: { file: checkpoint, offset: 40, length: frozenB.byteLength } });
  const y = sample.matmul(sample.tanh(sample.matmul(x, enc)), proj);
  sample.graph.markOutput(y);

  return {
    name: 'small',
    graphs: { sample_step: sample.graph, train_step: buildStepGraph(mlpSpec({ clip: 1 })), train_loop: buildLoopGraph(mlpSpec({ noise: 0.1 }), 3) },
    schedule: [
      { graph: 'sample_step', when: 'every step', repeat: 3, feeds: { x: 'data:x' } },
      { graph: 'train_step', when: 'every step', feeds: { w1: 'state:w1' } },
    ],
    weights: [{ name: 'proj.weight', dtype: 'float32', shape: [256, 8], source: { file: checkpoint, key: 'proj.weight' } }],
  };
}

export { seeded };
