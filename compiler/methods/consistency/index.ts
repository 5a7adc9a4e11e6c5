// T2V-Turbo (arXiv 2405.18750): consistency distillation of a multi-step teacher into a
// few-step student, with mixed image-text and video-text reward feedback on its one-step
// predictions.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompilerMethod } from '../registry.ts';
import { lowerConsistency } from './lower.ts';

export * from './lower.ts';

export const consistencyMethod: CompilerMethod = {
  objective: 'consistency',
  title: 'T2V-Turbo consistency distillation',
  lower: lowerConsistency,
  // 8 frames and 2 accumulated videos; it learns from videos, so a missing folder becomes tiny_shapes
  shrink: {
    maxFrames: 8,
    accumulate: 2,
    rematOff: false,
    validationPrompts: 2,
    finish(p, frames, notes) {
      if (p.objective.name === 'consistency' && p.objective.decode.mode === 'random') {
        p.objective = { ...p.objective, decode: { ...p.objective.decode, k: Math.min(p.objective.decode.k, frames) } };
      }
      if (p.data?.name === 'video_folder' && !fs.existsSync(path.resolve(p.dir, p.data.path))) {
        notes.push(`data video_folder "${p.data.path}" is not there: tiny_shapes videos instead (smoke run)`);
        p.data = { name: 'tiny_shapes', count: 16, seed: p.train.seed % 2 ** 31 };
      }
    },
  },
};
