// `--tiny` smoke runs of the shipped pipelines whose model families are built: one optimizer
// step on random-initialised small networks of the same family, through the real CLI.
// (pickscore and actpred run in test/runtime/methods/reward.test.ts; the demo in run.test.ts.)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, vplc } from './run-vplc.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-smoke-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(['aesthetic', 'hps_aesthetic', 'modelscope_aesthetic', 't2v_turbo_vc2', 't2v_turbo_ms'])('vplc run pipelines/%s.vpl --tiny --steps 1', (name) => {
  it('trains one step and writes a checkpoint, the LoRA and the report', () => {
    const r = vplc(['run', path.join(repoRoot, 'pipelines', `${name}.vpl`), '--tiny', '--steps', '1'], { cwd: tmp, timeoutMs: 280_000 });
    expect(r.stderr).not.toMatch(/error|internal/i);
    expect(r.status).toBe(0);
    const run = path.join(tmp, 'runs', name);
    expect(fs.existsSync(path.join(run, 'lora', 'adapter_config.json'))).toBe(true);
    expect(fs.existsSync(path.join(run, 'report.html'))).toBe(true);
    expect(fs.readdirSync(path.join(run, 'checkpoints')).some((d) => d.startsWith('step-'))).toBe(true);
  }, 300_000);
});
