// The learned rewards' networks of a run, opened before anything is compiled: for each learned
// reward of the plan, its folder (the term's `files = "..."`, relative to the pipeline, else
// `<weights root>/rewards/<name>/`), the files its network reads there (strictly, through its key
// map: stdlib/rewards/networks), its own tokenizer, and the class names of a classifier. A missing
// folder or file is VPL7136 naming the public file and where it goes; a file that does not fit the
// network is VPL7030 with every problem; a tokenizer that does not fit is VPL7135.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { watchSettings } from '../../../compiler/lower/watch.ts';
import { type Plan, type RewardTerm, spanOf } from '../../../compiler/plan.ts';
import { diagnostic, type Diagnostic } from '../../../diagnostics/diagnostic.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { rewards as rewardCatalogue } from '../../../stdlib/catalogue/rewards.ts';
import { type AnyRewardNetwork, configOf, encodeRewardText, type RewardConfigs, rewardNetworkOf, rewardScope } from '../../../stdlib/rewards/networks/index.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import type { DType } from '../../../tensor/ir/dtype.ts';
import { Graph, type Value } from '../../../tensor/ir/graph.ts';
import type { WeightSource } from '../../../stdlib/nn/parameters.ts';
import { ParameterStore } from '../../../stdlib/nn/parameters.ts';
import { loadReportError } from '../../weights/load-report.ts';
import { type CheckpointPart, type ModelCheckpoint, openKeyMappedFiles } from '../../weights/model-checkpoint.ts';
import type { ExpectedParameter } from '../../weights/model-parameters.ts';
import { loadClipTokenizer } from '../../weights/tokenizer-files.ts';
import { classOfPrompt } from '../../../stdlib/rewards/networks/actpred-labels.ts';
import type { RewardPromptReaders } from './conditioning.ts';
import { defaultRewardWeightsDir, isLearnedReward } from './reward-weights.ts';
import { type PromptTokenizer, promptTokenizerOf } from './tokenizer.ts';

/** Frames the scratch graph that lists a network's parameters scores (enough for every video reward). */
const LISTING_FRAMES = 16;

/**
 * The parameters `network` asks for at `config` (names relative to its scope), built once into
 * a scratch graph with shape-only weights, as the lowerings build it.
 */
export function rewardNetworkParameters(network: AnyRewardNetwork, config: unknown, options: { dtype?: DType } = {}): ExpectedParameter[] {
  const dtype = options.dtype ?? 'float32';
  const params = new ParameterStore({ lazyFrozen: true, dtype });
  const b = new Builder(new Graph('parameters'));
  const nn = { b, params };
  const configs: RewardConfigs = { [network.reward]: config };
  let text: Value | undefined;
  if (network.prompt?.kind === 'text') text = encodeRewardText(nn, network, b.input('tokens', [1, network.prompt.contextLength], 'int64'), configs);
  const label = network.prompt?.kind === 'class' ? b.input('label', [1], 'int64') : undefined;
  const frames = b.input('frames', [LISTING_FRAMES, 3, 224, 224], dtype);
  b.within(rewardScope(network.reward), () => network.score(nn, config, { frames, framesPerVideo: LISTING_FRAMES, ...(text ? { text } : {}), ...(label ? { label } : {}) }));
  const scope = `${rewardScope(network.reward)}.`;
  return params.list().map((p) => {
    const name = p.name.startsWith(scope) ? p.name.slice(scope.length) : p.name;
    return { name, shape: p.shape, dtype: p.dtype, component: 'network' };
  });
}

// ------------------------------------------------------------------ files

/** The public files of a learned reward, in words (from the catalogue). */
export function rewardFilesInWords(reward: string): string {
  const entry = rewardCatalogue.find((r) => r.name === reward);
  return entry?.checkpoint ? `${entry.checkpoint.files.join(', ')} (from ${entry.checkpoint.source})` : 'its network weights';
}

/** The plan's learned rewards with networks of their own to load: the mix's, and the watch's held-out one. */
export function plannedRewardTerms(plan: Plan): RewardTerm[] {
  const terms = plan.objective.name === 'denoise' ? [] : [...plan.objective.reward];
  const heldOut = watchSettings(plan)?.heldOut;
  if (heldOut) terms.push(heldOut);
  return terms.filter((t) => isLearnedReward(t.reward));
}

/** The folder a term's reward network is read from: its `files = "..."`, else the default one. */
export function rewardFolder(plan: Plan, reward: string, options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string } = {}): { dir: string; given: boolean } {
  const files = plannedRewardTerms(plan).find((t) => t.reward === reward)?.params.files;
  if (typeof files === 'string' && files !== '') return { dir: path.resolve(plan.dir, files), given: true };
  return { dir: defaultRewardWeightsDir(reward, options.env, options.cwd), given: false };
}

/** The files of a shard index (transformers' weight_map), each checked to be there. */
function shardsOf(indexFile: string): string[] {
  let map: Record<string, string>;
  try {
    map = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    if (typeof map !== 'object' || map === null) throw new Error('it has no weight_map');
  } catch (error) {
    throw new VplError('VPL7136', `the shard index cannot be read: ${(error as Error).message}`, { file: indexFile, help: 're-download the index and its shards' });
  }
  return [...new Set(Object.values(map))].map((shard) => {
    const file = path.join(path.dirname(indexFile), shard);
    if (!fs.existsSync(file)) throw new VplError('VPL7136', `shard ${shard} named by ${path.basename(indexFile)} is missing`, { file: indexFile, help: `download ${shard} into ${path.dirname(indexFile)}` });
    return file;
  });
}

/** The parts a network reads from `dir`: per file, the first of its names that is there. */
export function rewardFileParts(network: AnyRewardNetwork, dir: string, reportFile?: string, params: Readonly<Record<string, unknown>> = {}): CheckpointPart[] {
  if (!fs.existsSync(dir)) {
    throw new VplError('VPL7136', `reward '${network.reward}' needs ${rewardFilesInWords(network.reward)}, and its folder ${dir} does not exist`, {
      ...(reportFile ? { file: reportFile } : {}),
      help: `put its files in ${dir}, or point the term at them with \`${network.reward}(files = "...")\`; \`vplc run --tiny\` runs on a stand-in meanwhile`,
    });
  }
  return network.files.flatMap((file) => {
    const chosen = file.byParam ? params[file.byParam.param] : undefined;
    const names = (typeof chosen === 'string' ? file.byParam!.names[chosen] : undefined) ?? file.names;
    const found = names.find((name) => fs.existsSync(path.join(dir, name)));
    if (!found) {
      throw new VplError('VPL7136', `reward '${network.reward}' needs ${file.what}: ${names.length > 1 ? `none of ${names.join(', ')} is` : `${names[0]} is not`} in ${dir}`, {
        file: dir,
        help: `download ${names[0]} (${file.what}) into ${dir}`,
      });
    }
    const where = path.join(dir, found);
    const files = found.endsWith('.index.json') ? shardsOf(where) : [where];
    return files.map((f) => ({ file: f, prefix: file.part }));
  });
}

/**
 * Opens a reward network's files in `dir` at `config` (default the published sizes). Source keys
 * are the store's (`reward.<name>.<parameter>`). The caller checks the report (loadReportError).
 */
export async function openRewardCheckpoint(network: AnyRewardNetwork, dir: string, options: { config?: unknown; dtype?: DType; reportFile?: string; params?: Readonly<Record<string, unknown>> } = {}): Promise<ModelCheckpoint> {
  const config = options.config ?? network.config;
  const parts = rewardFileParts(network, dir, options.reportFile, options.params);
  const scope = `${rewardScope(network.reward)}.`;
  return openKeyMappedFiles({
    target: dir,
    label: network.keyMap(config).layout,
    model: `reward ${network.reward}`,
    parts,
    map: network.keyMap(config),
    expected: rewardNetworkParameters(network, config, options.dtype ? { dtype: options.dtype } : {}).map((p) => ({ ...p, component: componentOfName(network, p.name) })),
    keyOf: (name) => scope + name,
    componentOfKey: network.componentOf,
    components: [],
  });
}

/** A parameter's component by the key map's source of it (for the report's counts). */
function componentOfName(network: AnyRewardNetwork, name: string): string {
  if (name.startsWith('visual.')) return 'visual';
  if (name.startsWith('mlp.') || name.startsWith('head.') || name.startsWith('classifier') || name.startsWith('fc_norm')) return 'head';
  return network.componentOf(name);
}

/**
 * `vplc check`'s look at the disk: a warning (VPL4004) for each learned reward whose folder is
 * missing, at the reward mix in the pipeline (the run itself stops with VPL7136).
 */
export function missingRewardFiles(plan: Plan, options: { env?: Readonly<Record<string, string | undefined>>; cwd?: string } = {}): Diagnostic[] {
  const span = spanOf(plan, 'objective.reward');
  if (!span) return [];
  return plannedRewardTerms(plan).flatMap(({ reward }) => {
    const { dir, given } = rewardFolder(plan, reward, options);
    if (fs.existsSync(dir)) return [];
    const where = given ? `put its files there, or fix the term's files = "..."` : `put its files in ${dir} (or set VPLC_WEIGHTS_DIR to the folder holding rewards/${reward}/, or give the term files = "...")`;
    return [diagnostic('VPL4004', span, `reward '${reward}' needs ${rewardFilesInWords(reward)}, and ${dir} does not exist`, { help: `${where}; \`vplc run --tiny\` runs on a stand-in meanwhile` })];
  });
}

// ------------------------------------------------------------------ prompts

/** The reward's own tokenizer, read from its folder (VPL7135 when missing or of another vocabulary). */
export async function rewardTokenizer(network: AnyRewardNetwork, dir: string, reportFile?: string): Promise<PromptTokenizer> {
  const prompt = network.prompt;
  if (prompt?.kind !== 'text' || prompt.tokenizer.kind !== 'clip-bpe') throw new Error(`internal: ${network.reward} has no BPE text tower`);
  const pad = prompt.tokenizer.pad === 'zero' ? 'zero' : undefined;
  const { tokenizer, files } = await loadClipTokenizer(dir, { contextLength: prompt.contextLength, ...(pad ? { pad } : {}), ...(reportFile ? { reportFile } : {}) });
  if (tokenizer.vocabSize !== prompt.vocabSize || tokenizer.eotId !== prompt.eotToken) {
    throw new VplError('VPL7135', `the tokenizer ${files.main} does not fit reward '${network.reward}': it has ${tokenizer.vocabSize} ids and the end token ${tokenizer.eotId}, the text tower takes ${prompt.vocabSize} ids with the end token ${prompt.eotToken}`, {
      file: files.main,
      help: `use the tokenizer ${network.reward}'s text tower was trained with (CLIP's 49,408-entry BPE vocabulary)`,
    });
  }
  const shown = path.relative(process.cwd(), files.main) || files.main;
  return promptTokenizerOf(tokenizer, `${network.reward}'s CLIP BPE (${files.format}, ${shown})`);
}

/** A classifier's class names by id, from its folder's config.json id2label. */
export function rewardLabels(network: AnyRewardNetwork, dir: string): string[] {
  const prompt = network.prompt;
  if (prompt?.kind !== 'class') throw new Error(`internal: ${network.reward} is not a classifier`);
  const file = path.join(dir, prompt.labels);
  let id2label: Record<string, string>;
  try {
    id2label = (JSON.parse(fs.readFileSync(file, 'utf8')) as { id2label?: Record<string, string> }).id2label ?? {};
  } catch (error) {
    throw new VplError('VPL7136', `reward '${network.reward}' reads its class names from ${prompt.labels}, which cannot be read: ${(error as Error).message}`, { file, help: `download ${prompt.labels} of the model into ${dir}` });
  }
  const labels: string[] = [];
  for (const [id, label] of Object.entries(id2label)) labels[Number(id)] = label;
  if (labels.length === 0 || labels.some((l) => typeof l !== 'string')) {
    throw new VplError('VPL7136', `${prompt.labels} has no usable id2label (class ids 0..n-1 with their names)`, { file, help: `restore ${prompt.labels} from the model's download` });
  }
  return labels;
}

// ------------------------------------------------------------------ a run's reward networks

/** What a run loads for its learned rewards. */
export interface RewardNetworks {
  /** The rewards with networks, in the plan's order. */
  rewards: string[];
  /** Every reward's tensors, under `reward.<name>.`. */
  sources: WeightSource[];
  /** Text rewards: their own tokenizers. */
  tokenizers: Record<string, PromptTokenizer>;
  /** Classifier rewards: class names by id. */
  labels: Record<string, string[]>;
  /** The folders and layouts, for the banner. */
  descriptions: string[];
  /** The files read, for the program's identity. */
  files: string[];
  close(): Promise<void>;
}

export interface OpenRewardNetworksOptions {
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  dtype?: DType;
  /** Per reward, the sizes to load at (tests: the networks' `reduced`). */
  configs?: RewardConfigs;
}

/**
 * Opens the networks of the plan's learned rewards, all checked before any tensor is read: the
 * first problem stops the run (VPL7136 files, VPL7030 keys and shapes, VPL7135 tokenizer).
 */
export async function openRewardNetworks(plan: Plan, command: string, options: OpenRewardNetworksOptions = {}): Promise<RewardNetworks> {
  const opened: ModelCheckpoint[] = [];
  const out: RewardNetworks = { rewards: [], sources: [], tokenizers: {}, labels: {}, descriptions: [], files: [], close: async () => void (await Promise.all(opened.map((c) => c.close()))) };
  try {
    for (const { reward, params } of plannedRewardTerms(plan)) {
      const network = rewardNetworkOf(reward);
      if (!network) {
        throw new VplError('VPL7136', `${command}: vplc cannot load the network of reward '${reward}' yet (${rewardFilesInWords(reward)})`, {
          file: plan.file,
          help: 'train with another reward meanwhile, or run with --tiny for a smoke run on its stand-in',
        });
      }
      const { dir } = rewardFolder(plan, reward, options);
      const checkpoint = await openRewardCheckpoint(network, dir, { config: configOf(network, options.configs), ...(options.dtype ? { dtype: options.dtype } : {}), reportFile: plan.file, params });
      opened.push(checkpoint);
      const problem = loadReportError(checkpoint.report);
      if (problem) throw problem;
      if (network.prompt?.kind === 'text') out.tokenizers[reward] = await rewardTokenizer(network, dir, plan.file);
      if (network.prompt?.kind === 'class') out.labels[reward] = rewardLabels(network, dir);
      out.rewards.push(reward);
      out.sources.push(checkpoint.source);
      out.descriptions.push(`${reward}: ${dir} (${checkpoint.layout})`);
      out.files.push(...checkpoint.files);
    }
    return out;
  } catch (error) {
    await out.close();
    throw error;
  }
}

/** The prompt readers a run's engines get (./conditioning.ts): each text reward's tokenizer, each classifier's classOf. */
export function rewardPromptReaders(networks: Pick<RewardNetworks, 'tokenizers' | 'labels'>): RewardPromptReaders {
  const classOf: Record<string, (prompt: string) => number> = {};
  for (const [reward, labels] of Object.entries(networks.labels)) {
    classOf[reward] = (prompt) => {
      const found = classOfPrompt(prompt, labels);
      if (found) return found.id;
      const some = labels.slice(0, 5).map((l) => `'${l}'`).join(', ');
      throw new VplError('VPL7138', `reward '${reward}' scores the action a prompt names, and the prompt "${prompt}" names none of its ${labels.length} classes`, {
        help: `write prompts that name one of the classifier's classes (its config.json id2label: ${some}, ...), or use another reward for these prompts`,
      });
    };
  }
  return { tokenizers: networks.tokenizers, classOf };
}

/**
 * Before anything runs: every prompt of a finite set names a class of each classifier reward
 * (VPL7138 listing the ones that do not), so a run does not stop at the first such prompt it draws.
 */
export function checkPromptClasses(readers: RewardPromptReaders | undefined, prompts: readonly string[] | undefined, file?: string): void {
  if (!readers || !prompts) return;
  for (const [reward, classOf] of Object.entries(readers.classOf)) {
    const unnamed = prompts.filter((p) => {
      try {
        classOf(p);
        return false;
      } catch (error) {
        if (error instanceof VplError) return true;
        throw error;
      }
    });
    if (unnamed.length === 0) continue;
    const shown = unnamed.slice(0, 3).map((p) => `"${p}"`).join(', ');
    let help = 'write prompts that name one of the classifier\'s classes, or use another reward for these prompts';
    try {
      classOf(unnamed[0]!);
    } catch (error) {
      help = (error as VplError).help ?? help;
    }
    throw new VplError('VPL7138', `reward '${reward}' scores the action each prompt names, and ${unnamed.length} of the ${prompts.length} prompts name none of its classes: ${shown}${unnamed.length > 3 ? ', ...' : ''}`, { ...(file ? { file } : {}), help });
  }
}

/** One WeightSource over several (the model's checkpoint, then each reward's): the first that has a key gives it. */
export function unionSource(sources: readonly WeightSource[]): WeightSource {
  if (sources.length === 1) return sources[0]!;
  return {
    description: sources.map((s) => s.description).join(' + '),
    get: (key) => {
      for (const s of sources) {
        const t = s.get(key);
        if (t) return t;
      }
      return undefined;
    },
    *keys() {
      for (const s of sources) yield* s.keys();
    },
  };
}
