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
});
