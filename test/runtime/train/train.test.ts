import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../../runtime/checkpoint/store.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';
import { train, type TrainOptions, type TrainResult } from '../../../runtime/train/index.ts';
import { type ToyHooks, toyMethod } from './toy.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

const STEPS = 12;
const base = { totalSteps: STEPS, accumulate: 2, checkpointEvery: 2, keep: 3, seed: 7, planHash: 'toy-plan' };

/** A sink for the banner and progress lines. */
function sink(): { stream: { write(t: string): boolean }; text(): string } {
  let text = '';
  return { stream: { write: (t: string) => ((text += t), true) }, text: () => text };
}

async function run(runDir: string, extra: Partial<TrainOptions> = {}, hooks: ToyHooks = {}): Promise<TrainResult & { stderr: string }> {
  const method = await toyMethod(hooks);
  const err = sink();
  try {
    const result = await train({ runDir, ...base, ...method, stderr: err.stream, handleSignals: false, banner: { batch: 8, evaluationsPerMicroStep: 3 }, ...extra });
    return { ...result, stderr: err.text() };
  } finally {
    await method.sessions.release();
  }
}

const bits = (a: ArrayLike<number | bigint> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }) =>
  Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).toString('hex');
const weights = (r: TrainResult) => Object.fromEntries(Object.entries(r.state).map(([k, t]) => [k, bits(t.data)]));

function child(options: object): { proc: ChildProcess; stdout: () => string; stderr: () => string; waitFor(text: string): Promise<void>; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(options)], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(text)) return resolve();
        waiters.push({ text, resolve });
        void exit.then((code) => reject(new Error(`child exited (${code}) before printing ${text}:\n${err}`)));
      }),
    exit,
  };
}

let straight: TrainResult & { stderr: string };
beforeAll(async () => {
  straight = await run(path.join(tmp, 'straight'));
});

describe('the training driver', () => {
  it('trains the compiled toy program, prints the banner with derived totals, logs metrics and keeps the last checkpoints', () => {
    expect(straight.status).toBe('completed');
    expect(straight.step).toBe(STEPS);
    expect(straight.state.opt_step!.data[0]).toBe(BigInt(STEPS)); // one AdamW update per 2 micro-steps
    expect(straight.stderr).toMatch(/effective batch\s+16 \(8 x 2\)/);
    expect(straight.stderr).toMatch(/optimizer steps\s+12\n/);
    expect(straight.stderr).toMatch(/micro-steps in all\s+24\n/);
    expect(straight.stderr).toMatch(/model evaluations\s+72\n/);
    expect(straight.stderr).toMatch(/trainable parameters\s+21\n/); // w 6x3 + b 3
    const losses = readMetrics(path.join(tmp, 'straight', 'metrics.jsonl')).records.filter((r) => 'loss' in r.values);
    expect(losses.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(losses[STEPS - 1]!.values.loss).toBeLessThan(losses[0]!.values.loss! * 0.5);
    expect(fs.readdirSync(path.join(tmp, 'straight', 'checkpoints')).filter((d) => d.startsWith('step-')).sort()).toEqual([
      'step-000008',
      'step-000010',
      'step-000012',
    ]);
    expect(fs.existsSync(path.join(tmp, 'straight', 'tb'))).toBe(true);
  });

  it('is deterministic: the same seed gives bitwise identical weights, another seed does not', async () => {
    const again = await run(path.join(tmp, 'again'));
    expect(weights(again)).toEqual(weights(straight));
    const other = await run(path.join(tmp, 'other-seed'), { seed: 8 });
    expect(weights(other).w).not.toEqual(weights(straight).w);
  });

  it('resumes after kill -9 to bitwise the same weights as a straight run', async () => {
    const runDir = path.join(tmp, 'killed');
    const c = child({ runDir, steps: STEPS, accumulate: 2, checkpointEvery: 2, seed: 7, pauseAt: 7 });
    await c.waitFor('PAUSED'); // 7 steps done, checkpoint step-000006 written, step 8 under way
    c.proc.kill('SIGKILL');
    expect(await c.exit).toBeNull();
    const resumed = await run(runDir);
    expect(resumed.resumedFrom).toBe(6);
    expect(resumed.stderr).toMatch(/resumed from step-000006/);
    expect(weights(resumed)).toEqual(weights(straight));
    // metrics: every step once (step 7 logged by the killed run was dropped on resume)
    const steps = readMetrics(path.join(runDir, 'metrics.jsonl')).records.filter((r) => 'loss' in r.values).map((r) => r.step);
    expect(steps).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  });

  it('saves a checkpoint and exits 130 on SIGINT, and the resumed run matches the straight one', async () => {
    const runDir = path.join(tmp, 'sigint');
    const c = child({ runDir, steps: STEPS, accumulate: 2, checkpointEvery: 4, seed: 7, waitSigintAt: 4 });
    await c.waitFor('READY');
    c.proc.kill('SIGINT');
    expect(await c.exit).toBe(130);
    expect(c.stderr()).toMatch(/SIGINT: saved .*step-000005/);
    const latest = await new CheckpointStore(runDir).latest();
    expect(latest?.step).toBe(5); // the step under way was finished, then saved
    const resumed = await run(runDir);
    expect(resumed.resumedFrom).toBe(5);
    expect(weights(resumed)).toEqual(weights(straight));
  });

  it('stops on a NaN loss with a message naming the step, keeping the last good checkpoint', async () => {
    const runDir = path.join(tmp, 'nan');
    const poison: ToyHooks = { beforeMicro: (step, micro, x) => void (step === 6 && micro === 1 ? (x[3] = NaN) : undefined) };
    const error = await run(runDir, {}, poison).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7110');
    expect((error as VplError).message).toMatch(/step 7, micro-step 2 of 2: the loss is NaN/);
    expect((error as VplError).message).toMatch(/last good checkpoint is .*step-000006/);
    const store = new CheckpointStore(runDir);
    expect(await store.steps()).toEqual([2, 4, 6]);
    expect((await store.latest())?.step).toBe(6); // intact: it validates (sizes and hashes)
  });

  it('names the tensor when a gradient or a new state tensor is not finite', async () => {
    const method = await toyMethod();
    const err = sink();
    const options = { runDir: path.join(tmp, 'nan-grad'), ...base, ...method, stderr: err.stream, handleSignals: false };
    const error = await train({
      ...options,
      async microStep(ctx) {
        const r = await method.microStep(ctx);
        if (ctx.step === 2) r.grads!.b![1] = -Infinity;
        return r;
      },
    }).catch((e: unknown) => e);
    expect((error as VplError).message).toMatch(/step 3, micro-step 1 of 2: the gradient of 'b' has 1 non-finite value of 3 \(first: -Infinity at index 1\)/);
    const error2 = await train({
      ...options,
      fresh: true,
      async applyStep(ctx) {
        const r = await method.applyStep!(ctx);
        if (ctx.step === 1) (r.state.v_w as Float32Array)[0] = NaN;
        return r;
      },
    }).catch((e: unknown) => e);
    expect((error2 as VplError).message).toMatch(/step 2 \(optimizer update\): the new value of 'v_w' has 1 non-finite value/);
    expect((error2 as VplError).message).toMatch(/no checkpoint had been saved yet/);
    await method.sessions.release();
  });

  it('refuses to resume a checkpoint of a changed pipeline, saying what changed; resume-safe changes resume', async () => {
    const runDir = path.join(tmp, 'changed');
    const plan = { name: 'toy', train: { steps: 4, optimizer: { lr: 0.05 }, seed: 7 }, lora: { rank: 4 } };
    await run(runDir, { totalSteps: 4, plan, planHash: 'hash-a' });
    expect(JSON.parse(fs.readFileSync(path.join(runDir, 'plan.json'), 'utf8'))).toEqual(plan);
    const changed = { ...plan, train: { ...plan.train, optimizer: { lr: 0.1 } }, lora: { rank: 8 } };
    const error = await run(runDir, { totalSteps: 4, plan: changed, planHash: 'hash-b' }).catch((e: unknown) => e);
    expect((error as VplError).code).toBe('VPL7052');
    expect((error as VplError).message).toMatch(/cannot resume from step-000004: the pipeline changed: lora\.rank: 4 -> 8; train\.optimizer\.lr: 0\.05 -> 0\.1/);
    expect((error as VplError).help).toMatch(/--fresh/);
    const noPlan = await run(runDir, { totalSteps: 4, planHash: 'hash-b' }).catch((e: unknown) => e);
    expect((noPlan as VplError).message).toMatch(/different pipeline \(plan hash hash-a, now hash-b\)/);
    // more steps: the checkpoint stays valid
    const longer = await run(runDir, { totalSteps: 6, plan: { ...plan, train: { ...plan.train, steps: 6 } }, planHash: 'hash-c' });
    expect(longer.resumedFrom).toBe(4);
    expect(longer.stderr).toMatch(/train\.steps: 4 -> 6.*resuming/);
  });

  it('--fresh starts over: old checkpoints and metrics are removed and the result equals a straight run', async () => {
    const runDir = path.join(tmp, 'fresh');
    await run(runDir, { totalSteps: 4, seed: 99 });
    const nothingToDo = await run(runDir, { totalSteps: 4, seed: 99 });
    expect(nothingToDo.resumedFrom).toBe(4);
    expect(nothingToDo.stderr).toMatch(/already trained/);
    const fresh = await run(runDir, { fresh: true });
    expect(fresh.resumedFrom).toBe(0);
    expect(fresh.stderr).toMatch(/--fresh: removed 2 earlier checkpoints/);
    expect(weights(fresh)).toEqual(weights(straight));
    const records = readMetrics(path.join(runDir, 'metrics.jsonl')).records.filter((r) => 'loss' in r.values);
    expect(records.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  });

  it('validates before, every N steps and after, with the same fixed generator each time', async () => {
    const runDir = path.join(tmp, 'validate');
    const seen: { step: number; phase: string; dir: string }[] = [];
    const method = await toyMethod();
    const r = await train({
      runDir,
      ...base,
      ...method,
      validateEvery: 5,
      stderr: sink().stream,
      handleSignals: false,
      validate(ctx) {
        seen.push({ step: ctx.step, phase: ctx.phase, dir: path.relative(runDir, ctx.videoDir) });
        return method.validate!(ctx) as Record<string, number>;
      },
    });
    await method.sessions.release();
    expect(r.status).toBe('completed');
    expect(seen).toEqual([
      { step: 0, phase: 'before', dir: path.join('videos', 'before') },
      { step: 5, phase: 'during', dir: path.join('videos', 'step-000005') },
      { step: 10, phase: 'during', dir: path.join('videos', 'step-000010') },
      { step: 12, phase: 'after', dir: path.join('videos', 'after') },
    ]);
    const val = readMetrics(path.join(runDir, 'metrics.jsonl')).records.filter((x) => 'val/mse' in x.values);
    expect(new Set(val.map((x) => x.values['val/probe'])).size).toBe(1); // fixed seeds: same validation input
    expect(val[3]!.values['val/mse']!).toBeLessThan(val[0]!.values['val/mse']!);
  });

  it('rejects invalid options with a VplError', async () => {
    const method = await toyMethod();
    await expect(train({ runDir: path.join(tmp, 'bad'), ...base, ...method, accumulate: 0 })).rejects.toThrow(/accumulate must be a positive integer, got 0/);
    await expect(train({ runDir: path.join(tmp, 'bad'), ...base, ...method, trainable: ['nope'] })).rejects.toThrow(/trainable tensor 'nope'/);
    await method.sessions.release();
  });
});
