// The reward-hacking watch on the tiny world's trained networks (stdlib/weights/tiny), in-process:
// the demo pipeline (1.0 * tiny_text_align + 0.5 * brightness) validated every 10 steps on its 2
// prompts hacks its reward (brightness up, text alignment down, the total up: the first such
// validation is at step 50, 60 steps being the demo's length), so the watch must warn there, and
// with on_hacking = stop end the run there as an interrupted run (checkpoint, exit code 3) that
// the same call resumes; text alignment trained alone (50 steps), tiny_aesthetic held out, must raise
// text alignment and stay quiet. Every value asserted is read back from the run's own metrics.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFile } from '../../../compiler/check/index.ts';
import { LoweringError, lowerReward } from '../../../compiler/lower/index.ts';
import { WATCH_GRAPH } from '../../../compiler/lower/watch.ts';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { WATCH_FILE, WATCH_STOP_EXIT_CODE, type WatchFile } from '../../../runtime/methods/common/watch.ts';
import { runReward } from '../../../runtime/methods/reward/run.ts';
import { setupReward } from '../../../runtime/methods/reward/setup.ts';
import { readMetrics } from '../../../runtime/metrics/jsonl.ts';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-watch-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The demo, validated every 10 steps (a clause cannot be overridden on the command line). */
const pipeline = path.join(tmp, 'watch_demo.vpl');
fs.writeFileSync(pipeline, `pipeline watch_demo\nextends ${JSON.stringify(path.join(repoRoot, 'pipelines', 'demo.vpl'))}\ntrain {\n  validate every 10 steps with 2 prompts\n}\n`);

function planOf(overrides: string[]) {
  const checked = checkFile(pipeline, { overrides });
  if (!checked.plan) throw new Error(checked.diagnostics.map((d) => d.message).join('\n'));
  return checked.plan;
}

async function run(name: string, overrides: string[], fresh = true) {
  const setup = await setupReward(planOf(overrides), {});
  expect(setup.mode).toBe('tiny-world');
  let log = '';
  const runDir = path.join(tmp, name);
  const result = await runReward({ setup, runDir, fresh, handleSignals: false, stderr: { write: (t: string) => ((log += t), true) }, cacheRoot: path.join(tmp, 'cache') });
  /** The validation values by step, as logged (val/ stripped). */
  const validation = new Map<number, Record<string, number>>();
  for (const r of readMetrics(path.join(runDir, 'metrics.jsonl')).records) {
    const val = Object.entries(r.values).filter(([k]) => k.startsWith('val/'));
    if (val.length > 0) validation.set(r.step, { ...validation.get(r.step), ...Object.fromEntries(val.map(([k, v]) => [k.slice(4), v])) });
  }
  const watch = JSON.parse(fs.readFileSync(path.join(runDir, WATCH_FILE), 'utf8')) as WatchFile;
  return { plan: setup.plan, result, log, runDir, validation, watch };
}

const p4 = (x: number) => x.toPrecision(4).replace('.', '\\.');

describe('the watch graph', () => {
  const small = ['model.frames=4', 'sampler.steps=2'];

  it('embeds with the mix\'s first learned image reward\'s encoder, frames in, nothing trained', () => {
    const low = lowerReward(planOf(small), { tiny: true });
    const g = low.interfaces[WATCH_GRAPH]!;
    expect(low.watch).toEqual({ embedding: 'tiny_text_align' });
    expect(g.inputs.map((i) => [i.name, i.shape])).toEqual([['frames', [2 * 4, 3, 32, 32]]]);
    expect(g.outputs.map((o) => o.name)).toEqual(['embedding']);
    expect(g.outputs[0]!.shape[0]).toBe(8);
    expect([...g.inputs, ...g.outputs].every((t) => t.doc.length > 0)).toBe(true);
  });

  it('scores a held-out text reward from the prompts\' text_embed, embedding with its encoder when the mix has none', () => {
    const low = lowerReward(planOf([...small, 'objective.reward=1.0 * brightness', 'objective.watch=tiny_text_align']), { tiny: true });
    const g = low.interfaces[WATCH_GRAPH]!;
    expect(low.watch).toEqual({ embedding: 'tiny_text_align', heldOut: 'tiny_text_align' });
    expect(g.inputs.map((i) => i.name)).toEqual(['frames', 'text_embed']);
    expect(g.outputs.map((o) => [o.name, o.shape])).toEqual([['embedding', [8, g.outputs[0]!.shape[1]]], ['reward.tiny_text_align', []]]);
    // a held-out reward that is trained on is refused by the checker (VPL3016) and the lowering alike
    const trained = { ...planOf(small) };
    trained.objective = { ...trained.objective, watch: { name: 'brightness' } } as typeof trained.objective;
    expect(() => lowerReward(trained, { tiny: true })).toThrow(LoweringError);
  });

  it('embeds pixels for a mix without a learned image reward: frames pooled to 8x8, flattened, L2-normalised', async () => {
    const low = lowerReward(planOf([...small, 'objective.reward=1.0 * brightness']), { tiny: true });
    expect(low.watch).toEqual({ embedding: 'pixels' });
    const session = await ort.InferenceSession.create(emitModel(low.program.graphs[WATCH_GRAPH]!));
    const [N, H, W] = [8, 32, 32];
    const frames = Float32Array.from({ length: N * 3 * H * W }, (_, i) => Math.sin(i * 0.37) * 0.9);
    const out = await session.run({ frames: new ort.Tensor('float32', frames, [N, 3, H, W]) });
    const embedding = out.embedding!.data as Float32Array;
    expect(out.embedding!.dims).toEqual([N, 192]);
    for (let n = 0; n < N; n++) {
      const pooled: number[] = [];
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            let sum = 0;
            for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) sum += frames[((n * 3 + c) * H + y * 4 + dy) * W + x * 4 + dx]!;
            pooled.push(sum / 16);
          }
        }
      }
      const norm = Math.hypot(...pooled);
      pooled.forEach((v, k) => expect(embedding[n * 192 + k]).toBeCloseTo(v / norm, 5));
    }
    await session.release();
  });
});

describe('the reward-hacking watch on the tiny world', () => {
  it('fires on the demo\'s brightness hacking and, with on_hacking = stop, stops there resumably', async () => {
    const first = await run('demo', ['objective.on_hacking=stop']);
    const { result, log, validation, plan } = first;
    // stopped after a validation, before train.steps, as an interrupted run with the watch's code
    expect(result.status).toBe('interrupted');
    expect(result.exitCode).toBe(WATCH_STOP_EXIT_CODE);
    expect(result.step).toBeLessThan(plan.train.steps);
    expect(result.step % 10).toBe(0);
    const at = result.step;
    expect(result.checkpoint).toBe(path.join(first.runDir, 'checkpoints', `step-${String(at).padStart(6, '0')}`));
    expect(fs.existsSync(path.join(result.checkpoint!, 'lora.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(first.runDir, 'lora'))).toBe(false); // like an interrupted run: no final LoRA
    // the logged metrics show the hacking the warning names
    const v0 = validation.get(0)!;
    const v = validation.get(at)!;
    expect(v.reward).toBeGreaterThan(v0.reward!);
    expect(v['reward.tiny_text_align']).toBeLessThan(v0['reward.tiny_text_align']!);
    expect(v['reward.brightness']).toBeGreaterThan(v0['reward.brightness']!);
    for (const [step, values] of validation) expect(values['watch.diversity'], `step ${step}`).toBeGreaterThanOrEqual(0);
    // ... and the earlier validations did not fire (the first warning stopped the run)
    expect(log.match(/warning: reward hacking\?/g)).toHaveLength(1);
    expect(log).toMatch(new RegExp(
      `warning: reward hacking\\? step ${at}: tiny_text_align fell from ${p4(v0['reward.tiny_text_align']!)} to ${p4(v['reward.tiny_text_align']!)} ` +
      `while the training reward rose from ${p4(v0.reward!)} to ${p4(v.reward!)}; brightness rose from ${p4(v0['reward.brightness']!)} to ${p4(v['reward.brightness']!)}\n` +
      `  what to do: lower the weight of brightness \\(0\\.5 now\\), or stop earlier \\(the last validation without this warning was at step ${at - 10}\\), or add a held-out reward the mix does not train on \\(objective\\.watch = tiny_aesthetic\\)\n`,
    ));
    expect(log).toContain(`stopped by the reward-hacking watch at step ${at}: saved ${result.checkpoint}; run the same command again to resume from step ${at}`);
    expect(first.watch.warnings.map((w) => [w.step, w.kind, w.name])).toEqual([[at, 'term', 'tiny_text_align']]);
    expect(first.watch.embedding).toBe('tiny_text_align');

    // the same call resumes from that checkpoint and trains to the end (a warning after the
    // last step no longer stops anything)
    const resumed = await run('demo', ['objective.on_hacking=stop'], false);
    expect(resumed.result.resumedFrom).toBe(at);
    expect(resumed.result.status).toBe('completed');
    expect(resumed.result.step).toBe(plan.train.steps);
    expect(resumed.log).not.toContain('stopped by the reward-hacking watch');
    expect(resumed.watch.validations).toEqual(Array.from({ length: plan.train.steps / 10 + 1 }, (_, i) => i * 10));
    // the report lists the watch's warnings and charts what it compares
    const html = fs.readFileSync(path.join(resumed.runDir, 'report.html'), 'utf8');
    const section = html.slice(html.indexOf('<section id="watch">'));
    expect(section).toContain(`step ${at}: tiny_text_align fell from`);
    for (const title of ['watch.diversity', 'reward.tiny_text_align', 'reward.brightness']) expect(section).toContain(`aria-label="${title}"`);
  }, 300_000);

  it('stays quiet on a run that trains text alignment alone, with tiny_aesthetic held out', async () => {
    // 50 steps: text alignment is up by 0.25 by then (it is still level at step 40)
    const { result, log, validation, watch, plan } = await run('text', ['objective.reward=1.0 * tiny_text_align', 'objective.watch=tiny_aesthetic', 'train.steps=50']);
    expect(result.status).toBe('completed');
    expect(result.step).toBe(plan.train.steps);
    expect(log).toMatch(/\n {2}watch +diversity logged \(tiny_text_align image encoder; warns with 4 or more validation prompts, this run has 2\), each term against the training reward, held-out tiny_aesthetic; on hacking: warn\n/);
    // it does improve text alignment (and the held-out reward is scored every time)
    const first = validation.get(0)!;
    const last = validation.get(plan.train.steps)!;
    expect(last['reward.tiny_text_align']).toBeGreaterThan(first['reward.tiny_text_align']! + 0.1);
    for (const [step, values] of validation) expect(Number.isFinite(values['watch.tiny_aesthetic']), `step ${step}`).toBe(true);
    expect(log).not.toContain('reward hacking');
    expect(watch.warnings).toEqual([]);
    expect(watch.judgesDiversity).toBe(false); // 2 prompts: one pair, logged only
    expect(watch.validations).toHaveLength(plan.train.steps / 10 + 1);
  }, 300_000);
});
