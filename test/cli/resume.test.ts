// Resume equivalence through the real `vplc run` (the VADER driver, its RNG streams and its
// checkpoints): 3 steps straight give the same LoRA bits as 1 step, then a resumed run to 3.
// (Resume after kill -9 and SIGINT is pinned on the generic trainer in test/runtime/train/.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, vplc } from './run-vplc.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-resume-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const demo = path.join(repoRoot, 'pipelines', 'demo.vpl');
const small = ['model.frames=4', 'sampler.steps=3', 'train.batch=1', 'objective.backprop=last(1)', 'objective.decode=random(1)', 'objective.reward=1.0 * brightness', '--tiny'];
const run = (dir: string, steps: number) => vplc(['run', demo, ...small, `output.dir=${dir}`, '--steps', String(steps)], { cwd: tmp, timeoutMs: 280_000 });

describe('vplc run: a resumed run continues bit for bit', () => {
  it('1 step + resume to 3 equals 3 steps straight', () => {
    const straight = run(path.join(tmp, 'straight'), 3);
    expect(straight.stderr).not.toMatch(/error/);
    expect(straight.status).toBe(0);
    expect(run(path.join(tmp, 'resumed'), 1).status).toBe(0);
    const resumed = run(path.join(tmp, 'resumed'), 3);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toMatch(/resum/i);
    const lora = (dir: string) => fs.readFileSync(path.join(tmp, dir, 'lora', 'adapter_model.safetensors'));
    expect(lora('resumed').equals(lora('straight'))).toBe(true);
    const steps = (dir: string) => fs.readFileSync(path.join(tmp, dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number }).filter((r) => 'loss' in r).map((r) => r.step);
    expect(steps('resumed')).toEqual(steps('straight')); // every step logged once
  }, 600_000);
});
