// T2V-Turbo's runtime entry: setup (weights, lowering), distillation, sampling the student.
import type { RuntimeMethod } from '../registry.ts';
import { consistencySamplePrompts, readConsistencyState, runConsistency, sampleConsistency } from './run.ts';
import { setupConsistency } from './setup.ts';

export const consistencyRuntime: RuntimeMethod = {
  objective: 'consistency',
  async prepare(input, options) {
    const setup = await setupConsistency(input, options);
    const { plan } = setup;
    return {
      plan,
      notes: setup.notes,
      run: (run) => runConsistency({ setup, ...run }),
      async sample(o) {
        const prompts = o.prompts ?? consistencySamplePrompts(plan, o.count);
        const state = await readConsistencyState(o.lora, setup.lowered, o.say);
        return sampleConsistency({ setup, prompts, outDir: o.outDir, seed: o.seed, state, device: o.device, cacheRoot: o.cacheRoot, say: o.say });
      },
    };
  },
};
