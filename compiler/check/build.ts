// Turns the merged layers into a Plan: every block's fields checked against the catalogue,
// defaults filled (the model's recipe first, then the catalogue's), units normalised.
import type { Clause, Expression, Identifier, Span } from '../../grammar/ast.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import {
  blockParams,
  componentKindNames,
  componentNames,
  componentsOf,
  lookupBlock,
  lookupClause,
  lookupComponent,
  lookupParam,
  type BlockSpec,
  type ModelEntry,
  type ParamSpec,
} from '../../stdlib/catalogue/index.ts';
import type { DecodePlan, Plan, PromptSource } from '../plan.ts';
import type { BlockEntry, FieldEntry, Layer } from './layers.ts';
import { closestName, listNames } from './suggest.ts';
import { invalid, isDuration, ValueChecker, type Duration, type ValueContext } from './values.ts';

export interface BuildContext {
  report(d: Diagnostic): void;
  resolvePath(written: string, file: string): string;
  /** Span used for problems with no better place (a missing block): the file's first line. */
  fileSpan: Span;
  file: string;
  dir: string;
  extends: string[];
  defaultName: string;
}

export interface BuildResult {
  plan: Plan;
  /** Plan paths whose written value was rejected; cross-field rules skip them. */
  invalidPaths: Set<string>;
  /** Where each block keyword and variant was written, for rule messages. */
  blockSpans: Map<string, Span>;
}

type Values = Record<string, unknown>;

/** All LoRA target names any model has: used when the model itself is unknown. */
const anyLoraTarget = [...new Set(componentsOf('model').flatMap((m) => m.loraTargets))];

export function buildPlan(layer: Layer, ctx: BuildContext): BuildResult {
  const spans: Record<string, Span> = {};
  const invalidPaths = new Set<string>();
  const blockSpans = new Map<string, Span>();
  const valueContext: ValueContext = { report: ctx.report, resolvePath: ctx.resolvePath, loraTargets: anyLoraTarget };
  const values = new ValueChecker(valueContext);

  // ---- model first: its recipe supplies the defaults of everything else
  const modelBlock = layer.blocks.get('model');
  let model: ModelEntry | undefined;
  if (!modelBlock) {
    ctx.report(diagnostic('VPL2009', ctx.fileSpan, 'the pipeline has no model', { help: `add a model block, e.g. model videocrafter2 { } (models: ${listNames(componentNames('model'))})` }));
  } else {
    model = resolveVariant(modelBlock, lookupBlock('model')!, ctx, blockSpans) as ModelEntry | undefined;
  }
  if (!model) invalidPaths.add('model');
  const entry = model ?? lookupComponent('model', 'videocrafter2')!;
  if (model) valueContext.loraTargets = model.loraTargets;
  const modelDefault = (path: string): unknown => entry.defaults[path];

  const evalBlock = (keyword: string, block: BlockEntry | undefined, params: readonly ParamSpec[], owner: string, defaultFor: (p: ParamSpec) => unknown): Values => {
    const result: Values = {};
    const byHead = new Map<string, { whole?: FieldEntry; subs: { name: string; nameSpan: Span; value: Expression }[] }>();
    for (const field of block?.fields.values() ?? []) {
      const head = field.path[0];
      const param = lookupParam(params, head);
      if (!param) {
        values.unknownField(field.nameSpan, head, params, `'${owner}' has no field`);
        continue;
      }
      const group = byHead.get(head) ?? { subs: [] };
      if (field.path.length === 1) group.whole = field;
      else if (param.type.kind !== 'component' || field.path.length > 2) {
        ctx.report(diagnostic('VPL2003', field.nameSpan, `'${keyword}.${head}' has no field '${field.path.slice(1).join('.')}'`, { help: `set it whole: ${keyword}.${head} = ...` }));
        continue;
      } else group.subs.push({ name: field.path[1], nameSpan: field.nameSpan, value: field.value });
      byHead.set(head, group);
    }
    for (const param of params) {
      const path = `${keyword}.${param.name}`;
      const group = byHead.get(param.name);
      let value: unknown = invalid;
      if (param.type.kind === 'component' && group && (group.whole || group.subs.length)) {
        const base = group.whole?.value ?? syntheticName(String((defaultFor(param) as { name?: string } | undefined)?.name ?? ''), group.subs[0].nameSpan);
        value = values.checkComponent(base, param.type.of, path, group.subs);
        spans[path] = group.whole?.value.span ?? group.subs[0].nameSpan;
        for (const sub of group.subs) spans[`${path}.${sub.name}`] = sub.value.span;
      } else if (group?.whole) {
        value = values.check(group.whole.value, param, path);
        spans[path] = group.whole.value.span;
      } else {
        const d = defaultFor(param);
        if (param.type.kind === 'component' && d && typeof d === 'object' && 'name' in d) {
          // A default component by name: fill its own parameter defaults.
          const filled = values.checkComponent(syntheticName(String(d.name), ctx.fileSpan), param.type.of, path, []);
          value = filled === invalid ? invalid : { ...filled, ...(d as object) };
        } else if (d !== undefined) value = d;
        else if (param.optional) value = null;
        else {
          ctx.report(diagnostic('VPL2009', block?.keywordSpan ?? ctx.fileSpan, `'${owner}' needs '${param.name}'`, { help: `add ${param.name} = ... (${param.doc})` }));
          invalidPaths.add(path);
          result[param.name] = emptyValue(param);
          continue;
        }
      }
      if (value === invalid) {
        invalidPaths.add(path);
        value = defaultFor(param) ?? emptyValue(param);
      }
      result[param.name] = value;
    }
    return result;
  };
  const catalogueDefault = (p: ParamSpec) => p.default;

  // ---- model
  const modelValues = evalBlock('model', modelBlock, blockParams(lookupBlock('model')!, entry.name), entry.name, (p) =>
    p.name === 'text_encoder' ? entry.defaultTextEncoder : p.name === 'vae' ? entry.defaultVae : modelDefault(`model.${p.name}`) ?? p.default,
  );
  const fps = modelValues.fps as number;
  let frames = modelValues.frames as number | Duration;
  if (isDuration(frames)) {
    const seconds = frames.seconds;
    frames = entry.durationFrames?.[seconds] ?? Math.max(1, Math.round(seconds * fps));
    if (invalidPaths.has('model.fps')) invalidPaths.add('model.frames');
  }
  const textEncoder = modelValues.text_encoder as { name: string } | string | null;
  const vae = modelValues.vae as { name: string } | string;
  const modelPlan: Plan['model'] = {
    name: entry.name,
    family: entry.family,
    task: entry.task,
    prediction: entry.prediction,
    weights: modelValues.weights as string | null,
    frames,
    size: modelValues.size as Plan['model']['size'],
    fps,
    text_encoder: textEncoder === null ? null : typeof textEncoder === 'string' ? textEncoder : textEncoder.name,
    vae: typeof vae === 'string' ? vae : vae.name,
    latent_channels: entry.latentChannels,
    spatial_stride: entry.spatialStride,
    temporal_stride: entry.temporalStride,
    ...(typeof modelValues.tokenizer === 'string' ? { tokenizer: modelValues.tokenizer } : {}),
  };
  for (const p of entry.params) (modelPlan as unknown as Values)[p.name] = modelValues[p.name];

  // ---- lora
  const loraValues = evalBlock('lora', layer.blocks.get('lora'), lookupBlock('lora')!.params, 'lora', (p) => modelDefault(`lora.${p.name}`) ?? p.default);
  const rank = loraValues.rank as number;
  const lora: Plan['lora'] = { rank, alpha: (loraValues.alpha as number | null) ?? rank, dropout: loraValues.dropout as number, targets: loraValues.targets as string[] };
  const loraBlock = layer.blocks.get('lora');
  if (loraBlock?.declared) blockSpans.set('lora', loraBlock.keywordSpan);
  if (loraBlock) rejectVariant(loraBlock, ctx);

  // ---- fixed optional blocks
  const optionalFixed = (keyword: string): Values | null => {
    const block = layer.blocks.get(keyword);
    if (!block) return null;
    blockSpans.set(keyword, block.keywordSpan);
    rejectVariant(block, ctx);
    return evalBlock(keyword, block, lookupBlock(keyword)!.params, keyword, catalogueDefault);
  };
  const promptValues = optionalFixed('prompts');
  const imageValues = optionalFixed('images');

  // ---- data
  let data: Plan['data'] = null;
  const dataBlock = layer.blocks.get('data');
  if (dataBlock) {
    const dataset = resolveVariant(dataBlock, lookupBlock('data')!, ctx, blockSpans);
    if (dataset) data = { name: dataset.name, ...evalBlock('data', dataBlock, dataset.params, dataset.name, catalogueDefault) } as Plan['data'];
    else invalidPaths.add('data');
  }
  if (data?.name === 'video_folder' && data.captions === null && data.path) data.captions = `${data.path}/captions.csv`;

  // ---- sampler (defaults to the model's usual one)
  const samplerBlock = layer.blocks.get('sampler');
  const defaultSampler = String(modelDefault('sampler'));
  const samplerEntry = samplerBlock?.variant
    ? resolveVariant(samplerBlock, lookupBlock('sampler')!, ctx, blockSpans)
    : lookupComponent('sampler', defaultSampler);
  if (samplerBlock && !samplerBlock.variant) blockSpans.set('sampler', samplerBlock.keywordSpan);
  if (!samplerEntry) invalidPaths.add('sampler');
  const samplerName = samplerEntry?.name ?? defaultSampler;
  // An unknown sampler's fields cannot be checked: its name is the one reported problem.
  const samplerValues = evalBlock('sampler', samplerEntry ? samplerBlock : undefined, samplerEntry?.params ?? [], samplerName, (p) =>
    samplerName === defaultSampler ? modelDefault(`sampler.${p.name}`) ?? p.default : p.default,
  );
  const sampler = { name: samplerName, ...samplerValues } as Plan['sampler'];

  // ---- objective
  const objectiveBlock = layer.blocks.get('objective');
  let objective: Plan['objective'];
  const objectiveEntry = objectiveBlock ? resolveVariant(objectiveBlock, lookupBlock('objective')!, ctx, blockSpans) : undefined;
  if (!objectiveBlock) {
    ctx.report(diagnostic('VPL2009', ctx.fileSpan, 'the pipeline has no objective', { help: 'add an objective block, e.g. objective reward { reward = 1.0 * aesthetic }' }));
  }
  if (objectiveEntry) {
    objective = { name: objectiveEntry.name, ...evalBlock('objective', objectiveBlock, objectiveEntry.params, objectiveEntry.name, (p) => modelDefault(`objective.${p.name}`) ?? p.default) } as Plan['objective'];
  } else {
    invalidPaths.add('objective');
    objective = { name: 'reward', reward: [], decode: { mode: 'random', k: 1 }, backprop: { mode: 'last', k: 1 }, decode_og: false };
  }

  // ---- train
  const trainSpec = lookupBlock('train')!;
  const trainBlock = layer.blocks.get('train');
  if (trainBlock) {
    rejectVariant(trainBlock, ctx);
    blockSpans.set('train', trainBlock.keywordSpan);
  }
  const trainValues = evalBlock('train', trainBlock, trainSpec.params, 'train', catalogueDefault);
  const clauses = evalClauses(trainBlock, trainSpec, values, ctx, spans, invalidPaths);
  const train = { ...trainValues, validate: clauses.validate ?? null, checkpoint: clauses.checkpoint ?? null } as Plan['train'];

  // ---- output
  const outputBlock = layer.blocks.get('output');
  if (outputBlock) rejectVariant(outputBlock, ctx);
  const outputValues = evalBlock('output', outputBlock, lookupBlock('output')!.params, 'output', catalogueDefault);
  const name = layer.name?.name ?? ctx.defaultName;
  if (layer.name) spans.name = layer.name.span;
  const output = { ...outputValues, dir: (outputValues.dir as string | null) ?? `runs/${name}` } as Plan['output'];

  // Reject a variant block left without its variant after merging (sampler may default).
  for (const keyword of ['data', 'objective', 'model']) {
    const block = layer.blocks.get(keyword);
    if (block && !block.variant) reportMissingVariant(block, ctx);
  }

  for (const [keyword, span] of blockSpans) spans[keyword] ??= span;
  const decodedFrames = objective.name === 'denoise' || (objective.name === 'consistency' && objective.reward.length === 0) ? 0 : decodeCount(objective.decode, frames);
  const plan: Plan = {
    version: 1,
    name,
    file: ctx.file,
    extends: ctx.extends,
    dir: ctx.dir,
    model: modelPlan,
    lora,
    prompts: promptValues ? { source: promptValues.source as PromptSource } : null,
    images: imageValues ? { source: imageValues.source as string } : null,
    data,
    sampler,
    objective,
    train,
    output,
    derived: {
      effective_batch: train.batch * train.accumulate,
      latent_shape: latentShape(entry, frames, modelPlan.size),
      decoded_frames: decodedFrames,
    },
    spans,
  };
  return { plan, invalidPaths, blockSpans };
}

/** Stands in for a rejected value with no default, so the Plan keeps its shape. */
function emptyValue(param: ParamSpec): unknown {
  return param.type.kind === 'reward_mix' || param.type.kind === 'list' ? [] : null;
}

function syntheticName(name: string, span: Span): Expression {
  const id: Identifier = { kind: 'Identifier', name, span };
  return { kind: 'Path', parts: [id], span };
}

function resolveVariant(block: BlockEntry, spec: BlockSpec, ctx: BuildContext, blockSpans: Map<string, Span>) {
  if (!block.variant) return undefined;
  blockSpans.set(spec.keyword, block.variant.span);
  const kind = spec.component!;
  const found = lookupComponent(kind, block.variant.name);
  if (found) return found;
  const names = componentNames(kind);
  const close = closestName(block.variant.name, names);
  ctx.report(diagnostic('VPL2002', block.variant.span, `unknown ${componentKindNames[kind]} '${block.variant.name}'`, {
    help: close ? `did you mean '${close}'?` : `${componentKindNames[kind]}s: ${listNames(names, 12)}`,
    ...(close ? { fix: { span: block.variant.span, text: close, title: `Change to '${close}'` } } : {}),
  }));
  return undefined;
}

function reportMissingVariant(block: BlockEntry, ctx: BuildContext): void {
  const spec = lookupBlock(block.keyword)!;
  const names = componentNames(spec.component!);
  ctx.report(diagnostic('VPL2011', block.keywordSpan, `'${block.keyword}' needs a ${componentKindNames[spec.component!]} name`, { help: `write ${block.keyword} ${names[0]} { ... } (${listNames(names)})` }));
}

function rejectVariant(block: BlockEntry, ctx: BuildContext): void {
  if (!block.variant) return;
  ctx.report(diagnostic('VPL2011', block.variant.span, `'${block.keyword}' takes no name`, {
    help: `write ${block.keyword} { ... }`,
    fix: { span: { ...block.variant.span, start: block.keywordSpan.end }, text: '', title: `Remove '${block.variant.name}'` },
  }));
}

function evalClauses(block: BlockEntry | undefined, spec: BlockSpec, values: ValueChecker, ctx: BuildContext, spans: Record<string, Span>, invalidPaths: Set<string>): Record<string, Values> {
  const result: Record<string, Values> = {};
  for (const clause of block?.clauses.values() ?? []) {
    const clauseSpec = lookupClause(spec, clause.keyword.name);
    if (!clauseSpec) {
      reportUnknownClause(clause, spec, ctx);
      continue;
    }
    const path = `${spec.keyword}.${clauseSpec.keyword}`;
    spans[path] = clause.span;
    const clauseValues: Values = {};
    const seen = new Set<string>();
    for (const part of clause.parts) {
      const partSpec = clauseSpec.parts.find((p) => p.word === part.word.name);
      if (!partSpec) {
        ctx.report(diagnostic('VPL2003', part.word.span, `'${clauseSpec.keyword}' has no '${part.word.name}' part`, { help: `write ${clauseSyntax(clauseSpec)}` }));
        continue;
      }
      if (seen.has(partSpec.word)) {
        ctx.report(diagnostic('VPL2004', part.word.span, `'${partSpec.word}' is written twice in '${clauseSpec.keyword}'`, { help: `write ${clauseSyntax(clauseSpec)}` }));
        continue;
      }
      seen.add(partSpec.word);
      if (part.unit && part.unit.name !== partSpec.unitWord) {
        ctx.report(diagnostic('VPL2006', part.unit.span, `'${partSpec.word}' counts ${partSpec.unitWord ?? 'a plain number'}, not '${part.unit.name}'`, {
          help: partSpec.unitWord ? `write ${partSpec.word} ${part.value.raw} ${partSpec.unitWord}` : `write ${partSpec.word} ${part.value.raw}`,
          ...(partSpec.unitWord ? { fix: { span: part.unit.span, text: partSpec.unitWord, title: `Change to '${partSpec.unitWord}'` } } : {}),
        }));
        invalidPaths.add(`${path}.${partSpec.name}`);
        continue;
      }
      const v = values.checkNumber(part.value, partSpec, `${path} ${partSpec.word}`);
      spans[`${path}.${partSpec.name}`] = part.value.span;
      if (v === invalid) invalidPaths.add(`${path}.${partSpec.name}`);
      else clauseValues[partSpec.name] = v;
    }
    for (const partSpec of clauseSpec.parts) if (clauseValues[partSpec.name] === undefined) clauseValues[partSpec.name] = partSpec.default;
    result[clauseSpec.keyword] = clauseValues;
  }
  return result;
}

function reportUnknownClause(clause: Clause, spec: BlockSpec, ctx: BuildContext): void {
  const known = spec.clauses?.map((c) => c.keyword) ?? [];
  const close = closestName(clause.keyword.name, known);
  ctx.report(diagnostic('VPL2012', clause.keyword.span, known.length ? `'${spec.keyword}' has no clause '${clause.keyword.name}'` : `'${spec.keyword}' takes no clauses`, {
    help: close ? `did you mean '${close}'?` : known.length ? `clauses: ${known.join(', ')}` : 'clauses such as `validate every 80 steps` go inside train { }',
    ...(close ? { fix: { span: clause.keyword.span, text: close, title: `Change to '${close}'` } } : {}),
  }));
}

function clauseSyntax(spec: NonNullable<BlockSpec['clauses']>[number]): string {
  return `${spec.keyword} ${spec.parts.map((p) => `${p.word} N${p.unitWord ? ` ${p.unitWord}` : ''}`).join(' ')}`;
}

/** Frames scored per video for a decode choice (before any reward subsamples them). */
export function decodeCount(decode: DecodePlan, frames: number): number {
  switch (decode.mode) {
    case 'random': return Math.min(decode.k, frames);
    case 'frame': return 1;
    case 'every': return Math.ceil(frames / decode.n);
    case 'all': return frames;
  }
}

function latentShape(model: ModelEntry, frames: number, size: Plan['model']['size']): [number, number, number, number] {
  // Open-Sora's temporal VAE encodes chunks of 17 frames into 5 latent frames.
  const latentFrames = model.frameMultiple > 1
    ? Math.floor(frames / model.frameMultiple) * (1 + (model.frameMultiple - 1) / model.temporalStride)
    : Math.ceil(frames / model.temporalStride);
  return [model.latentChannels, latentFrames, Math.floor(size.height / model.spatialStride), Math.floor(size.width / model.spatialStride)];
}
