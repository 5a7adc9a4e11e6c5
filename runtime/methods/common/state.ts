// The training state of a method's program (LoRA factors, optimizer state, EMA copies) as the
// runtime holds it, the LoRA a state holds in PEFT layout, and reading a trained LoRA back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TypedArray } from '../../../tensor/ir/dtype.ts';
import type { LoweredProgram } from '../../../compiler/lower/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { VplError } from '../../../diagnostics/error.ts';
import type { TensorState } from '../../train/index.ts';
import { adapterWeightsFile, type LoraAdapter, type LoraConfig, readPeftAdapter } from '../../weights/lora-peft.ts';
import { readSafetensors } from '../../weights/safetensors.ts';

/** The initial training state: LoRA factors from the lowering, zero optimizer state. */
export function initialRewardState(lowered: LoweredProgram): TensorState {
  const train = lowered.program.graphs.train_step!;
  const trainable = new Set(lowered.trainable.map((p) => p.name));
  const state: TensorState = {};
  for (const v of train.inputs) {
    // ema.<p>: the EMA target network's copy of trainable p (consistency objective), starts equal to p
    const shadowOf = v.name.startsWith('ema.') && trainable.has(v.name.slice(4)) ? v.name.slice(4) : undefined;
    const isState = trainable.has(v.name) || shadowOf !== undefined || v.name.startsWith('adam.') || v.name.startsWith('acc.');
    if (!isState) continue;
    const n = v.shape.reduce((a, b) => a * b, 1);
    let data: TypedArray;
    if (trainable.has(v.name) || shadowOf) data = Float32Array.from(lowered.params.initialValue(shadowOf ?? v.name) as Float32Array);
    else if (v.dtype === 'int64') data = new BigInt64Array(n);
    else data = new Float32Array(n);
    state[v.name] = { dtype: v.dtype, shape: [...v.shape], data };
  }
  return state;
}

/** The LoRA of a state in PEFT layout (module paths of the lowering). */
export function loraAdapter(plan: Plan, lowered: LoweredProgram, state: Readonly<TensorState>, baseModel: string): LoraAdapter {
  const modules = new Map<string, LoraAdapter['modules'] extends Map<string, infer M> ? M : never>();
  for (const m of lowered.lora) {
    modules.set(m.path, { a: state[m.a]!.data as Float32Array, b: state[m.b]!.data as Float32Array, rank: plan.lora.rank, inFeatures: m.in, outFeatures: m.out, ...(m.kernel ? { kernel: m.kernel } : {}) });
  }
  const config: LoraConfig = {
    r: plan.lora.rank,
    loraAlpha: plan.lora.alpha,
    loraDropout: plan.lora.dropout,
    targetModules: [...new Set(lowered.lora.map((m) => m.path.split('.').pop()!))].sort(),
    baseModelNameOrPath: baseModel,
  };
  return { config, modules };
}

/** The LoRA factors of a lowering at their initial values (B = 0: the base model). */
export function baseLoraState(lowered: LoweredProgram): TensorState {
  const state: TensorState = {};
  for (const p of lowered.trainable) state[p.name] = { dtype: 'float32', shape: [...p.shape], data: Float32Array.from(lowered.params.initialValue(p.name) as Float32Array) };
  return state;
}

function loraError(file: string, message: string): VplError {
  return new VplError('VPL7133', message, {
    file,
    help: 'pass a LoRA written by `vplc run` for this pipeline: runs/<name>/lora/, a checkpoint folder runs/<name>/checkpoints/step-N/, or the run folder',
  });
}

/** Where the LoRA tensors are, for a path given to --lora (checked before any heavy work). */
export function locateLora(given: string): { kind: 'peft'; dir: string } | { kind: 'file'; file: string } {
  if (!fs.existsSync(given)) throw loraError(given, 'the LoRA path does not exist');
  if (fs.statSync(given).isFile()) return { kind: 'file', file: given };
  if (fs.existsSync(path.join(given, adapterWeightsFile))) return { kind: 'peft', dir: given };
  if (fs.existsSync(path.join(given, 'lora.safetensors'))) return { kind: 'file', file: path.join(given, 'lora.safetensors') };
  if (fs.existsSync(path.join(given, 'lora', adapterWeightsFile))) return { kind: 'peft', dir: path.join(given, 'lora') };
  const ckpts = path.join(given, 'checkpoints');
  if (fs.existsSync(ckpts)) {
    const steps = fs.readdirSync(ckpts).filter((d) => /^step-\d+$/.test(d) && fs.existsSync(path.join(ckpts, d, 'lora.safetensors'))).sort();
    if (steps.length > 0) return { kind: 'file', file: path.join(ckpts, steps[steps.length - 1]!, 'lora.safetensors') };
  }
  throw loraError(given, 'this folder holds no LoRA (no adapter_model.safetensors, lora.safetensors, lora/ or checkpoints/)');
}

/** Reads a LoRA into the lowering's factor names, checking every factor and shape. */
export async function readLoraState(given: string, lowered: LoweredProgram): Promise<TensorState> {
  const where = locateLora(given);
  const state = baseLoraState(lowered);
  const values = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const shown = where.kind === 'peft' ? where.dir : where.file;
  if (where.kind === 'peft') {
    const adapter = await readPeftAdapter(where.dir);
    for (const m of lowered.lora) {
      const mod = adapter.modules.get(m.path);
      if (!mod) continue;
      const kernel = mod.kernel ?? [];
      values.set(m.a, { shape: [mod.rank, mod.inFeatures, ...kernel], data: mod.a });
      values.set(m.b, { shape: [mod.outFeatures, mod.rank, ...kernel.map(() => 1)], data: mod.b });
    }
  } else {
    const { tensors } = await readSafetensors(where.file);
    for (const [name, t] of tensors) {
      if (t.dtype !== 'F32') continue;
      const key = name.startsWith('base_model.model.') ? name.slice('base_model.model.'.length) : name;
      values.set(key, { shape: t.shape, data: t.data as Float32Array });
    }
  }
  const missing = Object.keys(state).filter((n) => !values.has(n));
  if (missing.length === Object.keys(state).length) throw loraError(shown, `none of the pipeline's ${missing.length} LoRA factors is in it (another model or LoRA targets?)`);
  if (missing.length > 0) throw loraError(shown, `${missing.length} of the pipeline's LoRA factors are missing, e.g. '${missing[0]}'`);
  for (const [name, t] of Object.entries(state)) {
    const v = values.get(name)!;
    if (v.data.length !== t.data.length) throw loraError(shown, `'${name}' is [${v.shape.join(', ')}], the pipeline's LoRA wants [${t.shape.join(', ')}] (another rank?)`);
    t.data = Float32Array.from(v.data);
  }
  return state;
}
