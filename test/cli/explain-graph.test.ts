// `vplc explain --graph`: each graph's memory by kind, the total on the device, and whether it
// fits common GPUs or `--gpu-memory`, in text and JSON, through the real binary.
import { describe, expect, it } from 'vitest';
import type { GpuFit } from '../../compiler/gpus.ts';
import type { GraphMemory, MemoryEstimate } from '../../compiler/memory-estimate.ts';
import { vplc } from './run-vplc.ts';

interface ExplainJson {
  graphs: { graphs: { graph: string; nodes: number; memory: GraphMemory }[]; memory: MemoryEstimate; fit?: GpuFit[] };
}

function explainJson(args: string[]): ExplainJson {
  const result = vplc(['explain', ...args, '--json'], { timeoutMs: 120_000 });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout) as ExplainJson;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('vplc explain --graph: memory', () => {
  it('prints the graph lines, the memory table and the common cards for cuda by default', () => {
    const result = vplc(['explain', 'pipelines/demo.vpl', '--graph'], { timeoutMs: 120_000 });
    expect(result.status).toBe(0);
    const out = result.stdout;
    // the graph figures as before
    expect(out).toMatch(/\n {2}train_step +\d+ nodes +[\d.]+[kMBT]?FLOP per run {2}peak activations [\d.]+ [KMG]iB\n/);
    expect(out).toContain('memory on cuda, fp32: an upper bound');
    expect(out).toMatch(/\n {2}graph +weights +LoRA +optimizer +inputs +outputs +activations +arena +total\n/);
    for (const g of ['text_encode', 'sample_step', 'train_step', 'decode_all', 'watch']) expect(out).toMatch(new RegExp(`\\n  ${g} +[\\d.]+ (B|KiB|MiB|GiB) `));
    expect(out).toMatch(/\n {2}sessions +[\d.]+ MiB {2}all 5 loaded at once/);
    expect(out).toMatch(/CUDA context +1\.0 GiB/);
    expect(out).toMatch(/on the GPU +[\d.]+ GiB/);
    const cards = out.slice(out.indexOf('fits on:')).trimEnd().split('\n').slice(1);
    expect(cards).toHaveLength(5);
    for (const line of cards) expect(line).toMatch(/^ {2}\d+\.0 GiB {2}.+ {2}(yes, [\d.]+ [KMG]iB to spare|no, [\d.]+ [KMG]iB short)$/);
    expect(cards[1]).toContain('RTX 4090');
  }, 120_000);

  it('adds each graph up from its kinds and the sessions up from the graphs (JSON)', () => {
    const { graphs } = explainJson(['pipelines/demo.vpl', '--graph']);
    const memory = graphs.memory;
    expect(memory.device).toBe('cuda');
    for (const g of memory.graphs) {
      expect(g.total).toBe(g.weights + g.trainable + g.optimizer + g.accumulators + g.inputs + g.outputs + g.activations + g.arena);
    }
    expect(memory.sessionBytes).toBe(sum(memory.graphs.map((g) => g.total)));
    expect(memory.totalBytes).toBe(memory.sessionBytes + memory.contextBytes);
    expect(graphs.graphs.map((g) => g.memory.graph)).toEqual(memory.sessions);
    const train = memory.graphs.find((g) => g.graph === 'train_step')!;
    const sample = memory.graphs.find((g) => g.graph === 'sample_step')!;
    // only the training step holds AdamW state, and it keeps the backward pass's activations
    expect(train.optimizer).toBeGreaterThan(0);
    expect(sample.optimizer).toBe(0);
    expect(train.activations).toBeGreaterThan(sample.activations);
    expect(graphs.fit!.map((f) => f.fits)).toEqual(graphs.fit!.map((f) => f.bytes >= memory.totalBytes));
  }, 120_000);

  it('on --device cpu counts host RAM in the total and checks no GPU unless asked', () => {
    const { graphs } = explainJson(['pipelines/turbo_demo.vpl', '--graph', '--device', 'cpu']);
    const memory = graphs.memory;
    expect(memory.contextBytes).toBe(0);
    expect(memory.totalBytes).toBe(memory.sessionBytes + memory.host.total);
    expect(graphs.fit).toBeUndefined();
    // the consistency objective's EMA copies are optimizer state, not activations
    const train = memory.graphs.find((g) => g.graph === 'train_step')!;
    expect(train.optimizer).toBeGreaterThan(2 * train.trainable);
  }, 120_000);

  it('lowers at the pipeline\'s precision on cuda and at fp32 on cpu', () => {
    // pickscore is fp16 (vader_base.vpl): the fp16 lowering adds its casts
    const cuda = explainJson(['pipelines/pickscore.vpl', '--graph', '--tiny']).graphs;
    const cpu = explainJson(['pipelines/pickscore.vpl', '--graph', '--tiny', '--device', 'cpu']).graphs;
    expect(cuda.memory.compute).toBe('fp16');
    expect(cpu.memory.compute).toBe('fp32');
    const nodes = (g: ExplainJson['graphs'], name: string) => g.graphs.find((x) => x.graph === name)!.nodes;
    expect(nodes(cuda, 'train_step')).toBeGreaterThan(nodes(cpu, 'train_step'));
    // at fp16 the frozen weights are stored in fp16 (only the LoRA factors keep fp32 masters)
    expect(cuda.memory.graphs.find((g) => g.graph === 'train_step')!.weights).toBeLessThan(0.7 * cpu.memory.graphs.find((g) => g.graph === 'train_step')!.weights);
    const text = vplc(['explain', 'pipelines/pickscore.vpl', '--graph', '--tiny', '--device', 'cpu'], { timeoutMs: 120_000 }).stdout;
    expect(text).toContain('memory on cpu, fp32 (train.precision fp16 applies with --device cuda)');
    expect(text).toMatch(/in RAM +[\d.]+ MiB/);
  }, 120_000);

  it('checks --gpu-memory instead of the common cards (and implies --graph)', () => {
    const { graphs } = explainJson(['pipelines/demo.vpl', '--gpu-memory', '1MB']);
    expect(graphs.fit).toHaveLength(1);
    expect(graphs.fit![0]).toMatchObject({ bytes: 2 ** 20, label: '--gpu-memory 1MB', fits: false });
    expect(graphs.fit![0]!.spareBytes).toBe(2 ** 20 - graphs.memory.totalBytes);
    const text = vplc(['explain', 'pipelines/demo.vpl', '--gpu-memory', '80gb'], { timeoutMs: 120_000 }).stdout;
    expect(text).toMatch(/fits on:\n {2}80\.0 GiB {2}--gpu-memory 80gb {2}yes, [\d.]+ GiB to spare\n$/);
  }, 120_000);

  it('refuses a size or device it cannot read, before compiling', () => {
    const size = vplc(['explain', 'pipelines/demo.vpl', '--graph', '--gpu-memory', '24XB']);
    expect(size.status).toBe(1);
    expect(size.stderr).toContain("error VPL7137: --gpu-memory: cannot read '24XB' as a memory size");
    expect(size.stderr).toMatch(/help: .*24GB, 24GiB, 24G or 80gb/);
    expect(size.stdout).toBe('');
    const device = vplc(['explain', 'pipelines/demo.vpl', '--graph', '--device', 'tpu']);
    expect(device.status).toBe(1);
    expect(device.stderr).toContain("error VPL7100: unknown device 'tpu'");
  });
});
