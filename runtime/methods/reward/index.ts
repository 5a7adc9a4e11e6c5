// VADER's runtime entry: setup (weights, lowering), training, sampling.
import { promptSource, validationPrompts } from '../common/prompts.ts';
import type { RuntimeMethod } from '../registry.ts';
import { runReward } from './run.ts';
import { sampleVideos } from './sample.ts';
import { setupReward } from './setup.ts';

export const rewardRuntime: RuntimeMethod = {
  objective: 'reward',
  async prepare(input, options) {
    const setup = await setupReward(input, options);
    const { plan } = setup;
    return {
      plan,
      notes: setup.notes,
      run: (run) => runReward({ setup, ...run }),
      sample: (o) =>
        sampleVideos({
          setup,
          prompts: o.prompts ?? validationPrompts(promptSource(plan), o.count, plan.train.seed),
          outDir: o.outDir,
          seed: o.seed,
          ...(o.lora ? { lora: o.lora } : {}),
          device: o.device,
          cacheRoot: o.cacheRoot,
          say: o.say,
        }),
    };
  },
};
