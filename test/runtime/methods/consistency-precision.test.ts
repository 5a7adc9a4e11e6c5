// T2V-Turbo under `--device cuda` lowers at the pipeline's train.precision (bf16 in the shipped
// t2v_turbo_vc2.vpl), as the reward objective does; on the CPU it computes in fp32 and says so.
// Only the setup runs (weights and lowering): no session, so no GPU is needed.
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { setupConsistency } from '../../../runtime/methods/consistency/setup.ts';

function plan(precision: string) {
  const r = checkFile('pipelines/turbo_demo.vpl', { overrides: [`train.precision=${precision}`] });
  if (!r.plan) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.plan;
}

/** Casts into bf16 (the IR names the dtype): the inputs of the ops that compute in it. */
const castsToBf16 = (graph: { nodes: { op: string; attributes: Record<string, unknown> }[] }) =>
  graph.nodes.filter((n) => n.op === 'Cast' && n.attributes.to === 'bfloat16').length;

describe('T2V-Turbo precision', () => {
  it('cuda: the student step and the training step compute in bf16; cpu: in fp32, with a note that says so', async () => {
    const [gpu, cpu] = [await setupConsistency(plan('bf16'), { device: 'cuda' }), await setupConsistency(plan('bf16'), { device: 'cpu' })];
    for (const graph of ['consistency_step', 'train_step'] as const) {
      expect(castsToBf16(gpu.lowered.program.graphs[graph]!), graph).toBeGreaterThan(0);
      expect(castsToBf16(cpu.lowered.program.graphs[graph]!), graph).toBe(0);
    }
    expect(cpu.notes.join('\n')).toMatch(/precision bf16: this CPU run computes in fp32/);
    expect(gpu.notes.join('\n')).not.toMatch(/precision bf16/);
  }, 120_000);
});
