// The blocks a pipeline is made of. Variant blocks (`model videocrafter2 { }`) take their
// component's parameters; fixed blocks (`lora { }`) list their own here.
import type { BlockSpec, ClauseSpec, ParamSpec } from './types.ts';

const loraParams: readonly ParamSpec[] = [
  { name: 'rank', doc: 'Rank of the low-rank update.', type: { kind: 'int' }, default: 16, min: 1, max: 1024 },
  { name: 'alpha', doc: 'Scale numerator: the update is multiplied by alpha / rank (default: rank).', type: { kind: 'float' }, optional: true, greaterThan: 0, max: 4096 },
  { name: 'dropout', doc: 'Dropout on the LoRA input.', type: { kind: 'float' }, unit: 'fraction', default: 0.01, min: 0, max: 0.99 },
  // The allowed names depend on the model family; the checker narrows this list.
  { name: 'targets', doc: 'Layers that get a LoRA (the model lists which exist).', type: { kind: 'list', of: { kind: 'name', values: [] }, minLength: 1 }, default: ['attn.q', 'attn.k', 'attn.v'] },
];

const trainClauses: readonly ClauseSpec[] = [
  {
    keyword: 'validate', doc: 'Sample validation videos with no gradient, at a fixed seed, every N optimizer steps.',
    parts: [
      { word: 'every', unitWord: 'steps', name: 'every', doc: 'Optimizer steps between validations.', type: { kind: 'int' }, unit: 'steps', default: 80, min: 1, max: 10_000_000 },
      { word: 'with', unitWord: 'prompts', name: 'prompts', doc: 'Validation prompts per run.', type: { kind: 'int' }, unit: 'prompts', default: 4, min: 1, max: 1024 },
    ],
  },
  {
    keyword: 'checkpoint', doc: 'Write the LoRA and optimizer state every N optimizer steps, keeping the last K.',
    parts: [
      { word: 'every', unitWord: 'steps', name: 'every', doc: 'Optimizer steps between checkpoints.', type: { kind: 'int' }, unit: 'steps', default: 8, min: 1, max: 10_000_000 },
      { word: 'keep', name: 'keep', doc: 'Checkpoints kept (older ones are deleted).', type: { kind: 'int' }, default: 5, min: 1, max: 100_000 },
    ],
  },
];

const trainParams: readonly ParamSpec[] = [
  { name: 'optimizer', doc: 'Optimizer, with its settings: adamw { lr = 2e-4 }.', type: { kind: 'component', of: 'optimizer' }, default: { name: 'adamw' } },
  { name: 'steps', doc: 'Optimizer steps.', type: { kind: 'int' }, unit: 'steps', default: 450, min: 1, max: 10_000_000 },
  { name: 'batch', doc: 'Videos per forward pass.', type: { kind: 'int' }, default: 1, min: 1, max: 1024 },
  { name: 'accumulate', doc: 'Forward passes whose gradients are summed per optimizer step.', type: { kind: 'int' }, default: 1, min: 1, max: 4096 },
  { name: 'clip', doc: 'Gradient norm clipping (0: off).', type: { kind: 'float' }, default: 1.0, min: 0, max: 1e6 },
  { name: 'precision', doc: 'Compute precision of the frozen parts (LoRA weights stay fp32).', type: { kind: 'enum', values: ['fp32', 'fp16', 'bf16'] }, default: 'fp32' },
  { name: 'seed', doc: 'Random seed of noise, prompts and frame choices.', type: { kind: 'int' }, default: 0, min: 0, max: 2 ** 31 - 1 },
  { name: 'remat', doc: 'Gradient checkpointing: recompute block activations in the backward pass.', type: { kind: 'bool' }, default: true },
];

export const blocks: readonly BlockSpec[] = [
  { keyword: 'model', doc: 'The base video diffusion model (frozen).', variant: 'required', component: 'model', params: [], required: true },
  { keyword: 'lora', doc: 'The trainable low-rank adapter.', variant: 'none', params: loraParams },
  {
    keyword: 'prompts', doc: 'Where prompts come from: a stdlib prompt set or a text file (one prompt a line).', variant: 'none', shorthand: 'source',
    params: [{ name: 'source', doc: 'Prompt set name or text file.', type: { kind: 'prompt_source' } }],
  },
  {
    keyword: 'images', doc: 'Conditioning images for image-to-video models.', variant: 'none', shorthand: 'source',
    params: [{ name: 'source', doc: 'An image file, or a folder of images used in turn.', type: { kind: 'path' } }],
  },
  { keyword: 'data', doc: 'Captioned training videos (consistency and denoise objectives).', variant: 'required', component: 'dataset', params: [] },
  { keyword: 'sampler', doc: 'How videos are generated (defaults to the model\'s usual sampler).', variant: 'required', component: 'sampler', params: [] },
  { keyword: 'objective', doc: 'What training minimises.', variant: 'required', component: 'objective', params: [], required: true },
  { keyword: 'train', doc: 'The training loop.', variant: 'none', params: trainParams, clauses: trainClauses },
  {
    keyword: 'output', doc: 'Where checkpoints, metrics and videos go.', variant: 'none',
    params: [
      { name: 'dir', doc: 'Run folder (default: runs/<pipeline name>).', type: { kind: 'path' }, optional: true },
      { name: 'formats', doc: 'Video formats written: gif, mp4 (needs ffmpeg), png (frames).', type: { kind: 'list', of: { kind: 'enum', values: ['gif', 'mp4', 'png'] }, minLength: 1 }, default: ['gif'] },
      { name: 'tensorboard', doc: 'Also write TensorBoard event files.', type: { kind: 'bool' }, default: true },
      { name: 'log_every', doc: 'Optimizer steps between metric lines.', type: { kind: 'int' }, unit: 'steps', default: 1, min: 1, max: 1_000_000 },
    ],
  },
];
