// The generic training driver. A method's lowering supplies only what one step computes
// (`microStep`, optionally `applyStep` and `validate`) and the initial tensors; the driver
// owns everything around it:
//
//   - the loop: `totalSteps` optimizer steps of `accumulate` micro-steps each. A micro-step
//     either returns gradients (the driver sums them in float32, in micro-step order, and
//     hands their mean to `applyStep`) or returns new state tensors itself (in-graph
//     accumulation: accumulators and the `apply` flag live in the graph and in the state);
//   - the banner before training (effective batch, optimizer steps, micro-steps, model
//     evaluations, trainable parameters, checkpoint and validation schedule);
//   - progress on stderr, metrics (metrics.jsonl + TensorBoard, truncated on resume);
//   - checkpoints every N steps and at the end, keeping the last K: trainable tensors in
//     lora.safetensors, the rest (optimizer moments, step counters) in optimizer.safetensors,
//     state.json with the step, the RNG state, the plan hash and the metrics so far, plus a
//     copy of the plan (plan.json) when one is given;
//   - resume from the newest valid checkpoint by default (`fresh` removes the old checkpoints
//     and metrics and starts over); a checkpoint of a different pipeline is refused with the
//     list of plan values that changed (runtime/train/resume.ts);
//   - SIGINT (Ctrl-C) / SIGTERM: the current step is finished, a checkpoint saved, and the
//     result says exit code 130 / 143 (a second Ctrl-C quits at once without saving); a
//     validation may end the run the same way (`stop`, with its own exit code);
//   - a NaN/inf guard on the loss, every gradient and every new state tensor: the run stops
//     with a VplError naming the step and the tensor, and no checkpoint of the bad state is
//     written (the last good one stays the newest);
//   - validation every N steps (and before and after training) with a generator that is the
//     same every time (fixed seeds), so curves compare like with like.
//
// Steps are counted 1-based in metrics and checkpoints: checkpoint `step-000008` holds the
// state after 8 optimizer steps, and a resumed run continues with step 9.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TypedArray } from '../../tensor/ir/dtype.ts';
import { VPLC_VERSION } from '../../tensor/program/emit.ts';
import type { JsonValue } from '../checkpoint/state.ts';
import { CheckpointStore, stepDirName, type LoadedCheckpoint } from '../checkpoint/store.ts';
import { VplError } from '../../diagnostics/error.ts';
import { RunMetrics } from '../metrics/run-metrics.ts';
import { type BannerItem, formatBanner } from '../progress/banner.ts';
import { ProgressReporter, type ProgressStream } from '../progress/progress.ts';
import { Rng, type RngStream } from '../random.ts';
import { describeChanges, diffPlans, isResumeSafe } from './resume.ts';
import { describeNonFinite, findNonFinite, fromLoaded, numelOf, type TensorState, toWrite } from './tensors.ts';

export type { StateTensor, TensorState } from './tensors.ts';

export interface StepContext {
  /** 0-based index of the optimizer step being computed (the checkpoint after it is step + 1). */
  step: number;
  /** 0-based micro-step within the step, and the micro-steps per step. */
  micro: number;
  accumulate: number;
  /** The current tensors (read them; return new ones instead of writing into them). */
  state: Readonly<TensorState>;
  /** The run's generator: take named streams (`rng.stream('noise')`). */
  rng: Rng;
}

export interface MicroStepResult {
  loss: number;
  /** Other scalars to log (reward, grad norm, ...): averaged over the micro-steps. */
  values?: Record<string, number>;
  /** Gradients by name (summed over micro-steps; their mean goes to applyStep). */
  grads?: Record<string, Float32Array>;
  /** New state tensors (replace the named ones; in-graph accumulation / update). */
  state?: Record<string, TypedArray>;
}

export interface ApplyContext {
  step: number;
  state: Readonly<TensorState>;
  /** The mean of the micro-steps' gradients. */
  grads: Readonly<Record<string, Float32Array>>;
  rng: Rng;
}

export interface ApplyResult {
  state: Record<string, TypedArray>;
  values?: Record<string, number>;
}

export interface ValidateContext {
  /** Steps done (0 before training). */
  step: number;
  phase: 'before' | 'during' | 'after';
  state: Readonly<TensorState>;
  /** The same generator at every validation: fixed seeds. */
  rng: RngStream;
  /** Where this validation's videos go: videos/before, videos/step-000080, videos/after. */
  videoDir: string;
  /** The earlier validations of the run (those of the run it resumed included), oldest first. */
  history: readonly { step: number; values: Readonly<Record<string, number>> }[];
  /**
   * Ends the run after this validation as an interrupt does: the checkpoint is saved and the same
   * command resumes. The result is 'interrupted' with `exitCode`; `reason` starts the message.
   * No effect after the last step.
   */
  stop(request: { reason: string; exitCode: number }): void;
}

export interface TrainBanner {
  title?: string;
  /** Videos (or samples) per micro-step. */
  batch?: number;
  /** Forward evaluations of the model per micro-step (sampler steps x batch, ...). */
  evaluationsPerMicroStep?: number;
  /** More rows (model, device, ...), shown after the derived totals. */
  items?: BannerItem[];
}

export interface TrainOptions {
  runDir: string;
  /** Content hash of the compiled pipeline (planHash or the program hash). */
  planHash: string;
  /** The plan as JSON: copied to <runDir>/plan.json and into each checkpoint, diffed on resume. */
  plan?: unknown;
  /** The pipeline file, copied to <runDir>/pipeline.vpl. */
  pipelineFile?: string;
  totalSteps: number;
  accumulate?: number;
  /** Checkpoint every N optimizer steps (and always after the last); undefined: only at the end. */
  checkpointEvery?: number;
  /** Checkpoints kept (newest first); default 5. */
  keep?: number;
  /** Validate every N steps (and before and after); needs `validate`. */
  validateEvery?: number;
  seed: number;
  /** Start over: remove the run's checkpoints and metrics instead of resuming. */
  fresh?: boolean;
  /** Initial tensors: trainable weights and optimizer state (shapes and dtypes are checked on resume). */
  state: TensorState;
  /** The names of the trainable tensors (saved in lora.safetensors; counted in the banner). */
  trainable: readonly string[];
  microStep(ctx: StepContext): MicroStepResult | Promise<MicroStepResult>;
  applyStep?(ctx: ApplyContext): ApplyResult | Promise<ApplyResult>;
  validate?(ctx: ValidateContext): Record<string, number> | void | Promise<Record<string, number> | void>;
  /** Extra JSON files in every checkpoint (adapter_config.json). */
  checkpointJson?: Record<string, JsonValue>;
  banner?: TrainBanner;
  /** Log metrics every N steps (default 1). */
  logEvery?: number;
  /** Progress and messages (default process.stderr). */
  stderr?: ProgressStream;
  env?: Readonly<Record<string, string | undefined>>;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  tensorboard?: boolean;
}

export interface TrainResult {
  status: 'completed' | 'interrupted';
  /** 0 completed, 130 interrupted by SIGINT, 143 by SIGTERM, else the code a validation stopped with. */
  exitCode: number;
  /** Optimizer steps done. */
  step: number;
  /** The step the run resumed from (0 for a fresh start). */
  resumedFrom: number;
  state: TensorState;
  /** The newest checkpoint folder, if any was written or loaded. */
  checkpoint?: string;
}

interface MetricsSummary {
  /** Mean loss of each step, from step 1. */
  losses: number[];
  last: Record<string, number>;
  validation: { step: number; values: Record<string, number> }[];
}

const LORA_FILE = 'lora.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

function invalid(message: string, help: string): VplError {
  return new VplError('VPL7112', message, { help });
}

function checkOptions(o: TrainOptions): void {
  const positive = (n: number | undefined, what: string, help: string) => {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) throw invalid(`${what} must be a positive integer, got ${n}`, help);
  };
  positive(o.totalSteps, 'steps', 'set `steps` in the train block');
  positive(o.accumulate, 'accumulate', 'set `accumulate` to 1 or more');
  positive(o.checkpointEvery, 'the checkpoint interval', 'write `checkpoint every N steps keep K` with N >= 1');
  positive(o.keep, 'keep', 'keep at least 1 checkpoint');
  positive(o.validateEvery, 'the validation interval', 'write `validate every N steps` with N >= 1');
  positive(o.logEvery, 'logEvery', 'log every 1 or more steps');
  for (const name of o.trainable) {
    if (!Object.hasOwn(o.state, name)) throw invalid(`trainable tensor '${name}' is not in the initial state`, 'this is a bug in the method lowering; please report it');
  }
  for (const [name, t] of Object.entries(o.state)) {
    if (t.data.length !== numelOf(t.shape)) {
      throw invalid(`initial tensor '${name}' has ${t.data.length} elements for shape [${t.shape.join(', ')}]`, 'this is a bug in the method lowering; please report it');
    }
  }
}

/** Runs (or resumes) a training run; see the module comment. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  checkOptions(options);
  const o = options;
  const accumulate = o.accumulate ?? 1;
  const logEvery = o.logEvery ?? 1;
  const stderr = o.stderr ?? process.stderr;
  const say = (line: string) => stderr.write(`${line}\n`);
  fs.mkdirSync(o.runDir, { recursive: true });
  const store = new CheckpointStore(o.runDir, { keepLast: o.keep ?? 5, warn: (m) => say(`warning: ${m}`) });

  // ---- start or resume
  let state: TensorState = cloneState(o.state);
  let rng = new Rng(o.seed);
  let start = 0;
  let summary: MetricsSummary = { losses: [], last: {}, validation: [] };
  let lastCheckpoint: string | undefined;
  if (o.fresh) {
    const removed = (await store.steps()).length;
    fs.rmSync(store.dir, { recursive: true, force: true });
    fs.rmSync(path.join(o.runDir, 'tb'), { recursive: true, force: true });
    fs.rmSync(path.join(o.runDir, 'metrics.jsonl'), { force: true });
    if (removed > 0) say(`--fresh: removed ${removed} earlier checkpoint${removed > 1 ? 's' : ''} and the metrics of ${o.runDir}`);
  } else {
    const latest = await store.latest({ expected: { pipelineHash: o.planHash, vplcVersion: VPLC_VERSION } });
    if (latest) {
      await requireResumable(latest, o, say);
      state = await loadState(latest, o.state, o.trainable);
      rng = Rng.restore(latest.state.rng, path.join(latest.dir, 'state.json'));
      start = latest.step;
      summary = parseSummary(latest.state.metrics);
      lastCheckpoint = latest.dir;
    }
  }
  writeRunFiles(o);

  // ---- banner
  const trainable = o.trainable.reduce((n, name) => n + numelOf(o.state[name]!.shape), 0);
  const batch = o.banner?.batch ?? 1;
  const items: BannerItem[] = [
    { label: 'run folder', value: o.runDir },
    { label: 'start', value: start === 0 ? 'fresh' : `resumed from ${stepDirName(start)} (step ${start} of ${o.totalSteps})` },
    { label: 'optimizer steps', value: o.totalSteps },
    { label: 'micro-steps per step', value: accumulate },
    { label: 'effective batch', value: `${batch * accumulate} (${batch} x ${accumulate})` },
    { label: 'micro-steps in all', value: o.totalSteps * accumulate },
  ];
  if (o.banner?.evaluationsPerMicroStep !== undefined) {
    items.push({ label: 'model evaluations', value: o.totalSteps * accumulate * o.banner.evaluationsPerMicroStep });
  }
  items.push(
    { label: 'trainable parameters', value: trainable },
    { label: 'checkpoints', value: o.checkpointEvery ? `every ${o.checkpointEvery} steps, keep ${o.keep ?? 5}` : 'at the end' },
    { label: 'validation', value: o.validate && o.validateEvery ? `every ${o.validateEvery} steps` : o.validate ? 'before and after' : 'off' },
    { label: 'seed', value: String(o.seed) },
    ...(o.banner?.items ?? []),
  );
  stderr.write(formatBanner(o.banner?.title ?? 'vplc train', items));

  const metrics = new RunMetrics(o.runDir, { resumeFromStep: start === 0 ? -1 : start, tensorboard: o.tensorboard ?? true });
  const progress = new ProgressReporter({ total: o.totalSteps, stream: stderr, ...(o.env ? { env: o.env } : {}) });

  // ---- signals
  let interrupt: { signal: 'SIGINT' | 'SIGTERM'; code: number } | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupt) {
      stderr.write(`\n${signal} again: quitting without saving\n`);
      process.exit(interrupt.code);
    }
    interrupt = { signal, code: signal === 'SIGINT' ? 130 : 143 };
    progress.log(`${signal}: finishing step ${doneSteps + 1}, then saving a checkpoint (press Ctrl-C again to quit without saving)`);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  if (o.handleSignals ?? true) {
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  }

  let doneSteps = start;
  const save = async (): Promise<void> => {
    if (lastCheckpoint !== undefined && lastCheckpoint.endsWith(stepDirName(doneSteps))) return;
    metrics.flush();
    const tensors: Record<string, ReturnType<typeof toWrite>[]> = { [LORA_FILE]: [], [OPTIMIZER_FILE]: [] };
    const trainableSet = new Set(o.trainable);
    for (const name of Object.keys(state).sort()) tensors[trainableSet.has(name) ? LORA_FILE : OPTIMIZER_FILE]!.push(toWrite(name, state[name]!));
    if (tensors[OPTIMIZER_FILE]!.length === 0) delete tensors[OPTIMIZER_FILE];
    const json: Record<string, JsonValue> = { ...(o.checkpointJson ?? {}) };
    if (o.plan !== undefined) json['plan.json'] = o.plan as JsonValue;
    const saved = await store.save({
      step: doneSteps,
      pipelineHash: o.planHash,
      vplcVersion: VPLC_VERSION,
      rng: rng.state(),
      metrics: summary as unknown as JsonValue,
      tensors,
      json,
    });
    lastCheckpoint = saved.dir;
  };

  let stopRequest: { reason: string; exitCode: number } | undefined;
  const runValidation = async (phase: ValidateContext['phase']): Promise<void> => {
    if (!o.validate) return;
    const videoDir = path.join(o.runDir, 'videos', phase === 'during' ? stepDirName(doneSteps) : phase);
    const history = summary.validation.filter((v) => v.step < doneSteps);
    const stop = (request: { reason: string; exitCode: number }) => (stopRequest ??= request);
    const values = (await o.validate({ step: doneSteps, phase, state, rng: rng.fixed('validation'), videoDir, history, stop })) ?? {};
    if (Object.keys(values).length > 0) {
      const logged = Object.fromEntries(Object.entries(values).map(([k, v]) => [`val/${k}`, v]));
      metrics.log(doneSteps, logged);
      summary.validation = summary.validation.filter((v) => v.step !== doneSteps).concat({ step: doneSteps, values });
      progress.log(`validation at step ${doneSteps}: ${Object.entries(values).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join(', ')}`);
    }
  };

  const stopForNonFinite = (what: string, step: number, micro: number | undefined): never => {
    metrics.flush();
    progress.finish();
    const where = micro === undefined ? `step ${step + 1} (optimizer update)` : accumulate > 1 ? `step ${step + 1}, micro-step ${micro + 1} of ${accumulate}` : `step ${step + 1}`;
    const kept = lastCheckpoint === undefined ? 'no checkpoint had been saved yet' : `the last good checkpoint is ${lastCheckpoint} (step ${path.basename(lastCheckpoint).replace(/^step-0*/, '') || '0'})`;
    throw new VplError('VPL7110', `training diverged at ${where}: ${what}; the run stopped and ${kept}`, {
      file: o.runDir,
      help: 'lower the learning rate, enable gradient clipping (train { clip = 1.0 }) or use fp32, then resume from the last good checkpoint',
    });
  };

  const checkState = (produced: Record<string, TypedArray>, step: number, micro: number | undefined, who: string): void => {
    for (const [name, data] of Object.entries(produced)) {
      const current = state[name];
      if (!current) throw new VplError('VPL7111', `${who} returned tensor '${name}', which is not in the training state`, { help: `the state holds: ${Object.keys(state).join(', ')}` });
      if (data.length !== current.data.length || data.constructor !== current.data.constructor) {
        throw new VplError('VPL7111', `${who} returned '${name}' as ${data.constructor.name}(${data.length}), the state holds ${current.data.constructor.name}(${current.data.length})`, {
          help: 'this is a bug in the method lowering; please report it',
        });
      }
      const bad = findNonFinite(data);
      if (bad) stopForNonFinite(describeNonFinite(`the new value of '${name}'`, bad, data.length), step, micro);
    }
  };

  try {
    if (start === 0) await runValidation('before');
    progress.start(start);
    for (let step = start; step < o.totalSteps; step++) {
      let gradSum: Record<string, Float32Array> | undefined;
      let lossSum = 0;
      const valueSums: Record<string, number> = {};
      for (let micro = 0; micro < accumulate; micro++) {
        const result = await o.microStep({ step, micro, accumulate, state, rng });
        if (typeof result?.loss !== 'number') {
          throw new VplError('VPL7111', `microStep returned no numeric loss at step ${step + 1}`, { help: 'this is a bug in the method lowering; please report it' });
        }
        if (!Number.isFinite(result.loss)) stopForNonFinite(`the loss is ${result.loss}`, step, micro);
        for (const [name, g] of Object.entries(result.grads ?? {})) {
          const bad = findNonFinite(g);
          if (bad) stopForNonFinite(describeNonFinite(`the gradient of '${name}'`, bad, g.length), step, micro);
        }
        if (result.state) {
          checkState(result.state, step, micro, 'microStep');
          state = replaceState(state, result.state);
        }
        if (result.grads) {
          if (!gradSum) gradSum = Object.fromEntries(Object.entries(result.grads).map(([k, g]) => [k, Float32Array.from(g)]));
          else {
            for (const [name, g] of Object.entries(result.grads)) {
              const sum = gradSum[name];
              if (!sum || sum.length !== g.length) throw new VplError('VPL7111', `microStep returned a different gradient set at micro-step ${micro + 1}: '${name}'`, { help: 'this is a bug in the method lowering; please report it' });
              for (let i = 0; i < g.length; i++) sum[i] += g[i]!;
            }
          }
        }
        lossSum += result.loss;
        for (const [k, v] of Object.entries(result.values ?? {})) valueSums[k] = (valueSums[k] ?? 0) + v;
      }
      const values: Record<string, number> = { loss: lossSum / accumulate };
      for (const [k, v] of Object.entries(valueSums)) values[k] = v / accumulate;
      if (gradSum) {
        if (!o.applyStep) throw new VplError('VPL7111', 'microStep returned gradients but no applyStep was given to use them', { help: 'this is a bug in the method lowering; please report it' });
        if (accumulate > 1) {
          const scale = Math.fround(1 / accumulate);
          for (const g of Object.values(gradSum)) for (let i = 0; i < g.length; i++) g[i] *= scale;
        }
        const applied = await o.applyStep({ step, state, grads: gradSum, rng });
        checkState(applied.state, step, undefined, 'applyStep');
        state = replaceState(state, applied.state);
        Object.assign(values, applied.values ?? {});
      }
      doneSteps = step + 1;
      summary.losses.push(values.loss!);
      summary.last = values;
      if (doneSteps % logEvery === 0 || doneSteps === o.totalSteps) metrics.log(doneSteps, values);
      progress.update(doneSteps, values);
      if (doneSteps === o.totalSteps) await runValidation('after');
      else if (o.validateEvery && doneSteps % o.validateEvery === 0) await runValidation('during');
      if ((o.checkpointEvery && doneSteps % o.checkpointEvery === 0) || doneSteps === o.totalSteps) await save();
      // let signal handlers run (onnxruntime's run() blocks the event loop while it computes)
      await new Promise<void>((resolve) => setImmediate(resolve));
      if ((interrupt || stopRequest) && doneSteps < o.totalSteps) {
        await save();
        progress.finish();
        say(`${interrupt ? interrupt.signal : stopRequest!.reason}: saved ${lastCheckpoint}; run the same command again to resume from step ${doneSteps}`);
        return { status: 'interrupted', exitCode: interrupt?.code ?? stopRequest!.exitCode, step: doneSteps, resumedFrom: start, state, ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}) };
      }
    }
    progress.finish();
    if (start >= o.totalSteps) say(`${o.runDir}: already trained (checkpoint at step ${start} of ${o.totalSteps}); use --fresh to train again`);
    return { status: 'completed', exitCode: 0, step: doneSteps, resumedFrom: start, state, ...(lastCheckpoint ? { checkpoint: lastCheckpoint } : {}) };
  } finally {
    if (o.handleSignals ?? true) {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    metrics.close();
  }
}

function cloneState(state: TensorState): TensorState {
  return Object.fromEntries(Object.entries(state).map(([k, t]) => [k, { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() as TypedArray }]));
}

function replaceState(state: TensorState, produced: Record<string, TypedArray>): TensorState {
  const next = { ...state };
  for (const [name, data] of Object.entries(produced)) next[name] = { ...state[name]!, data };
  return next;
}

function parseSummary(value: JsonValue): MetricsSummary {
  const v = value as Partial<MetricsSummary> | null;
  return {
    losses: Array.isArray(v?.losses) ? [...v.losses] : [],
    last: v?.last && typeof v.last === 'object' ? { ...v.last } : {},
    validation: Array.isArray(v?.validation) ? [...v.validation] : [],
  };
}

async function requireResumable(latest: LoadedCheckpoint, o: TrainOptions, say: (line: string) => void): Promise<void> {
  for (const d of latest.compatibility.differences) if (d.severity === 'warning') say(`warning: ${d.message}`);
  if (latest.compatibility.compatible) return;
  const help = 'use a new run folder for the changed pipeline, restore the pipeline that wrote the checkpoint, or start over with --fresh';
  let changes: ReturnType<typeof diffPlans> | undefined;
  if (o.plan !== undefined && Object.hasOwn(latest.state.files, 'plan.json')) {
    try {
      const saved = JSON.parse(fs.readFileSync(path.join(latest.dir, 'plan.json'), 'utf8')) as JsonValue;
      changes = diffPlans(saved, o.plan);
    } catch {
      changes = undefined;
    }
  }
  if (changes && changes.length > 0 && changes.every(isResumeSafe)) {
    say(`warning: the pipeline changed since ${latest.dir} (${describeChanges(changes)}); these changes keep the checkpoint valid, resuming`);
    return;
  }
  const what =
    changes === undefined
      ? `the checkpoint was written by a different pipeline (plan hash ${latest.state.pipelineHash.slice(0, 12)}, now ${o.planHash.slice(0, 12)})`
      : changes.length === 0
        ? `the compiled program changed (hash ${latest.state.pipelineHash.slice(0, 12)}, now ${o.planHash.slice(0, 12)}) though the plan is the same (another vplc version or model weights?)`
        : `the pipeline changed: ${describeChanges(changes.filter((c) => !isResumeSafe(c)))}`;
  throw new VplError('VPL7052', `cannot resume from ${stepDirName(latest.step)}: ${what}`, { file: latest.dir, help });
}

async function loadState(latest: LoadedCheckpoint, initial: TensorState, trainable: readonly string[]): Promise<TensorState> {
  const trainableSet = new Set(trainable);
  const files = new Map<string, Awaited<ReturnType<LoadedCheckpoint['readTensors']>>>();
  const state: TensorState = {};
  for (const [name, expected] of Object.entries(initial)) {
    const file = trainableSet.has(name) ? LORA_FILE : OPTIMIZER_FILE;
    if (!files.has(file)) files.set(file, await latest.readTensors(file));
    state[name] = fromLoaded(name, files.get(file)!.get(name), expected, path.join(latest.dir, file));
  }
  return state;
}

function writeRunFiles(o: TrainOptions): void {
  if (o.plan !== undefined) fs.writeFileSync(path.join(o.runDir, 'plan.json'), `${JSON.stringify(o.plan, null, 2)}\n`);
  if (o.pipelineFile !== undefined && path.resolve(o.pipelineFile) !== path.resolve(o.runDir, 'pipeline.vpl')) {
    fs.copyFileSync(o.pipelineFile, path.join(o.runDir, 'pipeline.vpl'));
  }
}
