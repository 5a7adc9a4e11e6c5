// `vplc diff --graph --tiny`: the cost of a change, measured on both compiled programs.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.ts';
import { repoRoot } from '../cli/run-vplc.ts';

interface Figures {
  parameters: { trainable: number };
  graphs: { graph: string; flops: number; peakActivationBytes: number }[];
}

describe('vplc diff --graph --tiny', () => {
  it('compares trainable parameters, FLOPs and peak activations of the compiled graphs', async () => {
    const dir = mkdtempSync(nodePath.join(tmpdir(), 'vplc-diff-graph-'));
    const demo = readFileSync(nodePath.join(repoRoot, 'pipelines', 'demo.vpl'), 'utf8');
    writeFileSync(nodePath.join(dir, 'old.vpl'), demo);
    // rank 4 -> 8 doubles the LoRA; decoding 4 frames instead of 2 grows the training step
    writeFileSync(nodePath.join(dir, 'new.vpl'), demo.replace('rank = 4', 'rank = 8').replace('decode = random(2)', 'decode = random(4)'));
    const out = new PassThrough();
    const code = await main(['diff', 'old.vpl', 'new.vpl', '--graph', '--tiny', '--json'], { out, err: new PassThrough(), cwd: dir, env: {} });
    expect(code).toBe(2); // changes
    const json = JSON.parse(String(out.read())) as { graphs: { old: Figures; new: Figures } };
    const { old, new: next } = json.graphs;
    expect(next.parameters.trainable).toBe(2 * old.parameters.trainable);
    const train = (f: Figures) => f.graphs.find((g) => g.graph === 'train_step')!;
    expect(train(next).flops).toBeGreaterThan(train(old).flops);
    expect(train(next).peakActivationBytes).toBeGreaterThan(train(old).peakActivationBytes);
    const text = (f: Figures) => f.graphs.find((g) => g.graph === 'text_encode')!;
    expect(text(next).flops).toBe(text(old).flops); // untouched graph, same cost
  }, 180_000);

  it('compiles full-size models small, as `vplc run --tiny` shrinks them, and prints the notes once per side', async () => {
    const [out, err] = [new PassThrough(), new PassThrough()];
    const code = await main(['diff', 'pipelines/aesthetic.vpl', 'pipelines/pickscore.vpl', '--graph', '--tiny'], { out, err, cwd: repoRoot, env: {} });
    expect(code).toBe(2);
    const notes = String(err.read()).trim().split('\n');
    expect(notes).toEqual([
      'note: videocrafter2: random-initialised tiny networks of its family (UNet 32 channels, tiny VAE, tiny CLIP)',
      'note: size 320x512 -> 32x32, frames 12 -> 4',
      'note: sampler steps 25 -> 2',
      'note: batch 1 x accumulate 8 -> 1 x 1',
      'note: remat off (the small networks fit in memory)',
      'note: old: reward aesthetic -> tiny_aesthetic (random-initialised stand-in of the same kind)',
      'note: new: reward pickscore -> tiny_text_align (random-initialised stand-in of the same kind)',
    ]);
    expect(String(out.read())).toMatch(/compiled graphs \(--tiny[^\n]*\n +trainable parameters +\d+(\.\d+)?k -> /);
  }, 60_000);
});
