// Runs bench/parity.ts at the reduced size: vplc's VideoCrafter2 UNet3D, VAE decoder and
// OpenCLIP text tower against the PyTorch twins of the reference (bench/twins/), both loading
// one synthetic checkpoint with the real key names. Skipped with the reason where Debian's
// python has no torch.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { torchAvailable } from '../../bench/common.ts';

const torch = torchAvailable();
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('VideoCrafter2 networks vs the PyTorch twins (reduced size)', () => {
  it.skipIf(!torch.ok)(`UNet3D, VAE decoder and text tower agree to 1e-3${torch.ok ? '' : ` (skipped: ${torch.why})`}`, () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/parity.ts', '--size', 'reduced'], { cwd: root, encoding: 'utf8', timeout: 170_000 });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output).toBe(0);
    for (const net of ['unet', 'vae', 'text']) expect(output, output).toMatch(new RegExp(`^\\| ${net} .*\\| pass `, 'm'));
    expect(output).toContain('parity reduced: OK');
  }, 180_000);
});
