// Runs the cross-check part of bench/vader_step.ts (the tiny VADER train_step against its
// PyTorch twin bench/vader_torch.py: loss, grad_norm, decoded frame, LoRA gradients, LoRA after
// 3 AdamW steps) where Debian's python has torch; skipped with the reason otherwise.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { torchAvailable } from '../../bench/common.ts';

const torch = torchAvailable();
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('tiny VADER step vs PyTorch', () => {
  it.skipIf(!torch.ok)(`vplc's train_step and the PyTorch twin agree to 1e-4${torch.ok ? '' : ` (skipped: ${torch.why})`}`, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/vader_step.ts', '--check-only'], { cwd: root, encoding: 'utf8', timeout: 290_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toContain('vader crosscheck: OK');
  }, 300_000);
});
