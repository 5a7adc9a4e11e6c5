// LoRA weights in the layout of Hugging Face PEFT, so other tools (diffusers, peft) can
// load what vplc trains: a folder with `adapter_model.safetensors` holding
// `base_model.model.<module>.lora_A.weight` [r, in] and `...lora_B.weight` [out, r], and
// `adapter_config.json` (r, lora_alpha, lora_dropout, target_modules, peft_type "LORA").
// The update to a module's weight W [out, in] is W + (lora_alpha / r) * B @ A.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VplError } from '../../diagnostics/error.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { ioError } from '../fs/io-error.ts';
import { fromFloat32 } from './dtype.ts';
import { SafetensorsReader, writeSafetensors, type TensorToWrite } from './safetensors.ts';

export const adapterConfigFile = 'adapter_config.json';
export const adapterWeightsFile = 'adapter_model.safetensors';

export interface LoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Module name suffixes the adapter applies to (`to_q`, `attn1.to_k`). */
  targetModules: string[];
  baseModelNameOrPath?: string;
  /** Per-module ranks that differ from `r` (PEFT's rank_pattern). */
  rankPattern?: Record<string, number>;
  /** Scale by alpha / sqrt(r) instead of alpha / r. */
  useRslora?: boolean;
}

export interface LoraModule {
  /** [r, inFeatures, ...kernel], row-major. */
  a: Float32Array;
  /** [outFeatures, r, 1...], row-major. */
  b: Float32Array;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  /** Convolutions only: A is a conv with this kernel, B a 1x1 conv (PEFT's layout for Conv2d/3d). */
  kernel?: number[];
}

const kernelSize = (m: Pick<LoraModule, 'kernel'>): number => (m.kernel ?? []).reduce((p, k) => p * k, 1);

export interface LoraAdapter {
  config: LoraConfig;
  /** Keyed by module path in the base model (`unet.down_blocks.0.attn1.to_q`). */
  modules: Map<string, LoraModule>;
}

const keyPattern = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/;

export function peftKeys(module: string): { a: string; b: string } {
  return { a: `base_model.model.${module}.lora_A.weight`, b: `base_model.model.${module}.lora_B.weight` };
}

/** The factor applied to B @ A. */
export function loraScale(config: LoraConfig, rank = config.r): number {
  return config.useRslora === true ? config.loraAlpha / Math.sqrt(rank) : config.loraAlpha / rank;
}

/** adapter_config.json as PEFT writes it (fields PEFT requires, with its defaults). */
export function peftConfigJson(config: LoraConfig): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: null,
    base_model_name_or_path: config.baseModelNameOrPath ?? null,
    r: config.r,
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    target_modules: config.targetModules,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    rank_pattern: config.rankPattern ?? {},
    alpha_pattern: {},
    use_rslora: config.useRslora ?? false,
    use_dora: false,
    layers_to_transform: null,
    layers_pattern: null,
    revision: null,
  };
}

function invalid(file: string, message: string, help = 'the adapter was not written by vplc or PEFT, or is corrupt; re-export it'): VplError {
  return new VplError('VPL7040', message, { file, help });
}

export function parsePeftConfig(json: unknown, file: string): LoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(file, 'the adapter config is not a JSON object');
  const c = json as Record<string, unknown>;
  if (c['peft_type'] !== 'LORA') throw invalid(file, `peft_type is ${JSON.stringify(c['peft_type'])}; only "LORA" adapters are supported`);
  if (c['use_dora'] === true) throw invalid(file, 'the adapter uses DoRA (use_dora: true), which vplc does not support');
  const r = c['r'];
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw invalid(file, `r is ${JSON.stringify(r)}; expected a positive integer`);
  const alpha = c['lora_alpha'] ?? r;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw invalid(file, `lora_alpha is ${JSON.stringify(alpha)}; expected a number`);
  const dropout = c['lora_dropout'] ?? 0;
  if (typeof dropout !== 'number' || dropout < 0 || dropout >= 1) throw invalid(file, `lora_dropout is ${JSON.stringify(dropout)}; expected a number in [0, 1)`);
  const targets = c['target_modules'] ?? [];
  const targetModules = typeof targets === 'string' ? [targets] : targets;
  if (!Array.isArray(targetModules) || !targetModules.every((t) => typeof t === 'string')) {
    throw invalid(file, 'target_modules must be a list of module names');
  }
  const config: LoraConfig = { r, loraAlpha: alpha, loraDropout: dropout, targetModules: targetModules as string[] };
  if (typeof c['base_model_name_or_path'] === 'string') config.baseModelNameOrPath = c['base_model_name_or_path'];
  const pattern = c['rank_pattern'];
  if (typeof pattern === 'object' && pattern !== null && Object.keys(pattern).length > 0) config.rankPattern = pattern as Record<string, number>;
  if (c['use_rslora'] === true) config.useRslora = true;
  return config;
}

/** The adapter as safetensors entries in PEFT's key layout (modules sorted, A before B). */
export function peftTensors(adapter: LoraAdapter, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): TensorToWrite[] {
  const tensors: TensorToWrite[] = [];
  for (const module of [...adapter.modules.keys()].sort()) {
    const m = adapter.modules.get(module)!;
    const kernel = m.kernel ?? [];
    if (m.a.length !== m.rank * m.inFeatures * kernelSize(m) || m.b.length !== m.outFeatures * m.rank) {
      throw new VplError('VPL7014', `LoRA module '${module}' has A of ${m.a.length} and B of ${m.b.length} values, not [${[m.rank, m.inFeatures, ...kernel].join(', ')}] and [${m.outFeatures}, ${m.rank}]`, {
        help: 'this is a bug in the code that built the adapter; please report it',
      });
    }
    const keys = peftKeys(module);
    tensors.push({ name: keys.a, dtype, shape: [m.rank, m.inFeatures, ...kernel], data: () => fromFloat32(dtype, m.a) });
    tensors.push({ name: keys.b, dtype, shape: [m.outFeatures, m.rank, ...kernel.map(() => 1)], data: () => fromFloat32(dtype, m.b) });
  }
  return tensors;
}

export interface PeftWriteOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Name of the weights file inside the folder (PEFT looks for adapter_model.safetensors). */
  weightsFile?: string;
}

/** Writes the adapter folder: weights first, then the config, each atomically. */
export async function writePeftAdapter(dir: string, adapter: LoraAdapter, options: PeftWriteOptions = {}): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw ioError(error, dir, 'create');
  }
  await writeSafetensors(join(dir, options.weightsFile ?? adapterWeightsFile), peftTensors(adapter, options.dtype), {
    metadata: { format: 'pt' },
  });
  await writeFileAtomic(join(dir, adapterConfigFile), `${JSON.stringify(peftConfigJson(adapter.config), null, 2)}\n`);
}

/** Reads and validates an adapter folder (config, key layout, shapes); weights as Float32. */
export async function readPeftAdapter(dir: string, options: { weightsFile?: string } = {}): Promise<LoraAdapter> {
  const configPath = join(dir, adapterConfigFile);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw ioError(error, configPath, 'read');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(configPath, `the adapter config is not valid JSON (${(error as Error).message})`);
  }
  const config = parsePeftConfig(json, configPath);

  const weightsPath = join(dir, options.weightsFile ?? adapterWeightsFile);
  const reader = await SafetensorsReader.open(weightsPath);
  try {
    const pairs = new Map<string, { a?: string; b?: string }>();
    for (const name of reader.names()) {
      const match = keyPattern.exec(name);
      if (match === null) {
        throw invalid(weightsPath, `'${name}' is not a LoRA weight in PEFT's layout (base_model.model.<module>.lora_A.weight / lora_B.weight)`);
      }
      const pair = pairs.get(match[1]!) ?? {};
      if (match[2] === 'A') pair.a = name;
      else pair.b = name;
      pairs.set(match[1]!, pair);
    }
    const modules = new Map<string, LoraModule>();
    for (const [module, pair] of pairs) {
      if (pair.a === undefined || pair.b === undefined) {
        throw invalid(weightsPath, `LoRA module '${module}' has lora_${pair.a === undefined ? 'B' : 'A'} but no lora_${pair.a === undefined ? 'A' : 'B'}`);
      }
      const a = reader.entry(pair.a);
      const b = reader.entry(pair.b);
      // Linear: A [r, in], B [out, r]. Conv: A [r, in, ...kernel], B [out, r, 1...].
      const kernel = a.shape.slice(2);
      const convShapes = b.shape.length === a.shape.length && b.shape.slice(2).every((d) => d === 1);
      if (a.shape.length < 2 || a.shape[0] !== b.shape[1] || (kernel.length > 0 ? !convShapes : b.shape.length !== 2)) {
        throw invalid(weightsPath, `LoRA module '${module}' has lora_A [${a.shape.join(', ')}] and lora_B [${b.shape.join(', ')}]; expected [r, in] and [out, r] (or [r, in, ...kernel] and [out, r, 1...] for a convolution)`);
      }
      const rank = a.shape[0]!;
      const patterned = Object.entries(config.rankPattern ?? {}).some(([key, r]) => r === rank && (module === key || module.endsWith(`.${key}`)));
      if (rank !== config.r && !patterned) {
        throw invalid(weightsPath, `LoRA module '${module}' has rank ${rank} but adapter_config.json says r = ${config.r}`, 'the weights and the config come from different adapters; keep them together');
      }
      modules.set(module, {
        a: await reader.readFloat32(pair.a),
        b: await reader.readFloat32(pair.b),
        rank,
        inFeatures: a.shape[1]!,
        outFeatures: b.shape[0]!,
        ...(kernel.length > 0 ? { kernel } : {}),
      });
    }
    return { config, modules };
  } finally {
    await reader.close();
  }
}
