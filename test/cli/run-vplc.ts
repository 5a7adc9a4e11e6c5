// Spawns the real `vplc` binary, as a user's shell would.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const binary = fileURLToPath(new URL('../../bin/vplc.js', import.meta.url));

export interface VplcResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function vplc(args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): VplcResult {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  if (options.env?.FORCE_COLOR) env.FORCE_COLOR = options.env.FORCE_COLOR;
  if (options.env?.NO_COLOR === '') delete env.NO_COLOR;
  const result = spawnSync(process.execPath, [binary, ...args], { cwd: options.cwd ?? repoRoot, env, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
