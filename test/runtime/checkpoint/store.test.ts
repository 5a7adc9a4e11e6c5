import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore, stepDirName } from '../../../runtime/checkpoint/store.ts';
import { requireCompatible } from '../../../runtime/checkpoint/state.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { checkpointInput, filled } from './fixtures/checkpoint-input.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const childScript = join(here, 'fixtures', 'interrupted-save.ts');

let root: string;
let runs = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vplc-checkpoints-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function newRun(options: { keepLast?: number } = {}): { runDir: string; store: CheckpointStore; warnings: string[] } {
  const runDir = join(root, `run-${++runs}`);
  const warnings: string[] = [];
  return { runDir, warnings, store: new CheckpointStore(runDir, { ...options, warn: (m) => warnings.push(m) }) };
}

async function rejection(promise: Promise<unknown>): Promise<VplError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  return error as VplError;
}

describe('checkpoint store', () => {
  it('saves and loads a checkpoint with its state and tensors', async () => {
    const { runDir, store } = newRun();
    const saved = await store.save(checkpointInput(80));
    expect(saved.dir).toBe(join(runDir, 'checkpoints', 'step-000080'));
    expect((await readdir(saved.dir)).sort()).toEqual(['adapter_config.json', 'lora.safetensors', 'optimizer.safetensors', 'state.json']);
    expect(await readFile(join(runDir, 'checkpoints', 'latest'), 'utf8')).toBe('step-000080\n');

    const loaded = (await store.latest({ expected: { pipelineHash: 'sha256:aaaa1111', vplcVersion: '0.1.0' } }))!;
    expect(loaded.step).toBe(80);
    expect(loaded.compatibility).toEqual({ compatible: true, differences: [] });
    expect(loaded.state.rng).toEqual({ seed: 42, counter: 320, state: ['18446744073709551615', '12345'] });
    expect(loaded.state.metrics).toEqual({ reward: [0.1, 0.2, 0.8], loss: 80 });
    expect(loaded.state.files['lora.safetensors']!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const lora = await loaded.readTensors('lora.safetensors');
    expect(Array.from(lora.get('base_model.model.m.lora_B.weight')!.data as Float32Array)).toEqual(Array.from(filled(32, 81)));
    const optimizer = await loaded.readTensors('optimizer.safetensors');
    expect(optimizer.get('exp_avg')!.shape).toEqual([512, 1024]);
  });

  it('keeps the last N checkpoints', async () => {
    const { store } = newRun({ keepLast: 2 });
    for (const step of [8, 16, 24, 32]) await store.save(checkpointInput(step));
    expect(await store.steps()).toEqual([24, 32]);
    expect((await store.latest())!.step).toBe(32);
  });

  it('re-saving a step replaces it', async () => {
    const { store } = newRun();
    await store.save(checkpointInput(8));
    await store.save({ ...checkpointInput(8), metrics: { replaced: true } });
    expect((await store.load(8)).state.metrics).toEqual({ replaced: true });
    expect((await readdir(store.dir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('skips a truncated checkpoint with a warning and resumes from the previous one', async () => {
    const { store, warnings } = newRun();
    await store.save(checkpointInput(8));
    await store.save(checkpointInput(16));
    const lora = join(store.dir, 'step-000016', 'lora.safetensors');
    await truncate(lora, 100);

    const error = await rejection(store.load(16));
    expect(error.code).toBe('VPL7050');
    expect(error.file).toBe(lora);
    expect(error.message).toMatch(/this file has 100 bytes but \d+ were written \(it is truncated\)/);
    expect(error.help).toMatch(/delete this checkpoint folder/);

    expect((await store.latest())!.step).toBe(8);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('skipping checkpoint');
    expect(warnings[0]).toContain('step-000016');
  });

  it('detects changed content by hash, and a broken state.json', async () => {
    const { store } = newRun();
    await store.save(checkpointInput(8));
    const optimizer = join(store.dir, 'step-000008', 'optimizer.safetensors');
    const handle = await open(optimizer, 'r+');
    await handle.write(Uint8Array.from([0xff, 0xff]), 0, 2, 4096); // inside tensor data: same size, valid header
    await handle.close();
    await store.load(8, { verify: 'size' }); // sizes and headers still look fine
    expect((await rejection(store.load(8))).message).toMatch(/content differs from the hash recorded/);

    await writeFile(join(store.dir, 'step-000008', 'state.json'), '{"format": "vplc-checkpoint", ');
    const error = await rejection(store.load(8));
    expect(error.message).toMatch(/state\.json is not valid JSON/);
    expect(error.file).toBe(join(store.dir, 'step-000008', 'state.json'));
    expect(await store.latest()).toBeUndefined();
    expect((await rejection(store.requireLatest())).code).toBe('VPL7051');
  });

  it('says what differs when the pipeline or vplc version changed', async () => {
    const { store } = newRun();
    await store.save(checkpointInput(8, 'sha256:aaaa1111'));
    const loaded = await store.load(8, { expected: { pipelineHash: 'sha256:bbbb2222', vplcVersion: '0.2.0' } });
    expect(loaded.compatibility.compatible).toBe(false);
    expect(loaded.compatibility.differences.map((d) => [d.field, d.saved, d.current, d.severity])).toEqual([
      ['pipelineHash', 'sha256:aaaa1111', 'sha256:bbbb2222', 'error'],
      ['vplcVersion', '0.1.0', '0.2.0', 'warning'],
    ]);
    const error = (() => {
      try {
        requireCompatible(loaded.compatibility, loaded.dir);
      } catch (e) {
        return e as VplError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('VPL7052');
    expect(error?.message).toMatch(/different pipeline \(hash aaaa1111, now bbbb2222\)/);
    const versionOnly = await store.load(8, { expected: { vplcVersion: '0.2.0' } });
    expect(versionOnly.compatibility.compatible).toBe(true);
  });

  it('reports a full disk mid-save and keeps the previous checkpoint', async () => {
    const { store } = newRun();
    await store.save(checkpointInput(8));
    const input = checkpointInput(16);
    const [first, second] = input.tensors['optimizer.safetensors']!;
    const diskFull = (): never => {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    input.tensors['optimizer.safetensors'] = [first!, { ...second!, data: diskFull }];
    const error = await rejection(store.save(input));
    expect(error.code).toBe('VPL7003');
    expect(error.message).toBe('disk full while writing checkpoint step-000016; the previous checkpoint (step-000008) is intact');
    expect(error.help).toMatch(/free some space/);
    expect((await readdir(store.dir)).filter((n) => n.startsWith('.'))).toEqual([]);
    expect((await store.latest())!.step).toBe(8);
  });

  it('never prunes away the newest complete checkpoint for a newer broken one', async () => {
    const { store, warnings } = newRun({ keepLast: 1 });
    await store.save(checkpointInput(8));
    await mkdir(join(store.dir, stepDirName(40))); // an incomplete folder newer than everything
    await store.save(checkpointInput(16));
    expect(await store.steps()).toEqual([16, 40]);
    expect((await store.latest())!.step).toBe(16);
    expect(warnings.some((w) => w.includes('step-000040') && w.includes('no state.json'))).toBe(true);
  });
});

/** Runs the child until it reports PAUSED, then kills it with SIGKILL. */
async function killMidSave(runDir: string, step: number, pauseAt: string): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, runDir, String(step), pauseAt], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('PAUSED')) resolve();
    });
    child.on('exit', () => reject(new Error(`child exited before pausing: ${stdout}\n${stderr}`)));
  });
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

describe('checkpoint store: a writer killed mid-save', () => {
  it('while writing the optimizer tensors: the previous checkpoint stays the latest', async () => {
    const { runDir, store, warnings } = newRun();
    await store.save(checkpointInput(8));
    await killMidSave(runDir, 16, 'tensor:optimizer.safetensors:exp_avg_sq');

    // The kill really hit mid-write: a temp folder holds a partial checkpoint.
    const temps = (await readdir(store.dir)).filter((n) => n.startsWith('.tmp-step-000016'));
    expect(temps).toHaveLength(1);
    expect((await readdir(join(store.dir, temps[0]!))).sort()).toEqual(['lora.safetensors', 'optimizer.safetensors']);

    const latest = (await store.latest())!;
    expect(latest.step).toBe(8);
    expect(warnings).toEqual([]);
    const lora = await latest.readTensors('lora.safetensors');
    expect(Array.from(lora.get('base_model.model.m.lora_A.weight')!.data as Float32Array)).toEqual(Array.from(filled(32, 8)));
    expect(await readFile(join(store.dir, 'latest'), 'utf8')).toBe('step-000008\n');

    // The next save cleans up what the killed writer left.
    await store.save(checkpointInput(16));
    expect((await readdir(store.dir)).filter((n) => n.startsWith('.'))).toEqual([]);
    expect((await store.latest())!.step).toBe(16);
  });

  it('after all files but before the rename: nothing of the new checkpoint is visible', async () => {
    const { runDir, store } = newRun();
    await store.save(checkpointInput(8));
    await killMidSave(runDir, 16, 'commit');
    expect(await store.steps()).toEqual([8]);
    expect((await store.latest())!.step).toBe(8);
  });

  it('after the rename but before the pointer: the new checkpoint is complete and found', async () => {
    const { runDir, store } = newRun();
    await store.save(checkpointInput(8));
    await killMidSave(runDir, 16, 'pointer');
    expect(await readFile(join(store.dir, 'latest'), 'utf8')).toBe('step-000008\n');
    const latest = (await store.latest())!;
    expect(latest.step).toBe(16);
    expect((await latest.readTensors('optimizer.safetensors')).get('exp_avg_sq')!.shape).toEqual([512, 1024]);
  });
});
