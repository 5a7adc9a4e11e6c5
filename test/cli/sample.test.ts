// `vplc sample` through the real binary on the tiny world (--tiny: random-initialised networks).
// Sampling with a trained LoRA is tested after the training run in run.test.ts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGif } from '../runtime/media/gif-reader.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const binary = path.join(repoRoot, 'bin', 'vplc.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-sample-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const demo = path.join(repoRoot, 'pipelines', 'demo.vpl');

function vplcIn(cwd: string, args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const r = spawnSync(process.execPath, [binary, ...args], { cwd, env, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vplc sample', () => {
  it('--tiny writes one GIF and one frame grid per validation prompt under runs/<name>/samples', () => {
    const r = vplcIn(tmp, ['sample', demo, 'model.frames=4', 'sampler.steps=3', '--tiny', '--seed', '5']);
    expect(r.stderr).not.toMatch(/internal error|    at /);
    expect(r.status).toBe(0);
    const dir = path.join(tmp, 'runs', 'demo', 'samples');
    const files = fs.readdirSync(dir).sort();
    expect(files.filter((f) => f.endsWith('.gif'))).toHaveLength(2); // validate ... with 2 prompts
    expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(2);
    const gif = parseGif(fs.readFileSync(path.join(dir, files.find((f) => f.endsWith('.gif'))!)));
    expect(gif.frames).toHaveLength(4);
    expect([gif.width, gif.height]).toEqual([32, 32]);
    expect(r.stdout).toMatch(/wrote 4 files to runs\/demo\/samples/);
  }, 200_000);

  it('a --lora path without a LoRA is a clear error', () => {
    fs.mkdirSync(path.join(tmp, 'empty'), { recursive: true });
    const r = vplcIn(tmp, ['sample', demo, '--tiny', '--lora', 'empty']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/empty: error VPL7133: this folder holds no LoRA/);
    expect(r.stderr).toMatch(/help: pass a LoRA written by `vplc run`/);
  }, 60_000);
});
