// Runs bench/crosscheck.ts (vplc's training step against PyTorch: loss, gradients, weights after
// 3 AdamW steps) where Debian's python has torch; skipped with the reason otherwise (.ci/run installs python3-torch, so CI runs it).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { torchAvailable } from '../../bench/common.ts';

const torch = torchAvailable();
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('PyTorch cross-check', () => {
  it.skipIf(!torch.ok)(`vplc and PyTorch agree on loss, gradients and AdamW steps${torch.ok ? '' : ` (skipped: ${torch.why})`}`, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/crosscheck.ts'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toContain('crosscheck: OK');
  }, 180_000);
});
