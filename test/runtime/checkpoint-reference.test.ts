// Frozen weights that are byte ranges of a checkpoint reach onnxruntime by reference: the
// cached program folder links to the checkpoint and its models point into it at the tensors'
// own offsets (even unaligned ones, as safetensors has), so nothing copies the weights.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProgram } from '../../runtime/session.ts';
import { Builder } from '../../tensor/ir/builder.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import type { Program } from '../../tensor/program/program.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-ref-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('checkpoint tensors by reference', () => {
  it('runs a graph whose weight is read from an unaligned offset of the source file, without copying it', async () => {
    const weight = Float32Array.from({ length: 12 }, (_, i) => i - 5.5);
    const offset = 13; // not a multiple of 4, 8 or 64
    const file = path.join(dir, 'model.safetensors');
    const bytes = new Uint8Array(offset + weight.byteLength + 7);
    bytes.set(new Uint8Array(weight.buffer), offset);
    fs.writeFileSync(file, bytes);

    const graph = new Graph('g');
    const b = new Builder(graph);
    const x = b.input('x', [2, 3]);
    const w = graph.addInitializer('w', { dtype: 'float32', shape: [3, 4] }, { external: { file, offset, length: weight.byteLength } });
    graph.markOutput(b.matmul(x, w));
    const program: Program = { name: 'ref', graphs: { g: graph }, schedule: [], weights: [] };

    const cacheRoot = path.join(dir, 'cache');
    const sessions = await loadProgram(program, { externalThreshold: 0, cacheRoot, threads: 1 });
    try {
      const out = await sessions.graph('g').run({ x: Float32Array.of(1, 0, 0, 0, 1, 1) });
      const y = Object.values(out)[0] as Float32Array;
      // row 0 = w[0], row 1 = w[1] + w[2]
      expect([...y]).toEqual([...weight.slice(0, 4), ...weight.slice(4, 8).map((v, i) => v + weight[8 + i]!)]);
    } finally {
      await sessions.release();
    }
    const [entry] = fs.readdirSync(cacheRoot).filter((d) => !d.startsWith('.'));
    const files = fs.readdirSync(path.join(cacheRoot, entry!));
    expect(files).not.toContain('weights.bin');
    const link = files.find((f) => f.startsWith('source-'))!;
    // the same file (a hard link), not a copy
    expect(fs.statSync(path.join(cacheRoot, entry!, link)).ino).toBe(fs.statSync(file).ino);
  });
});
