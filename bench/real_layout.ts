// VADER's reference pipeline (pipelines/pickscore.vpl) at full width on a synthetic checkpoint in
// VideoCrafter2's real layout: the Lightning .ckpt that torch.save writes
// (tools/checkpoints/synthetic.py --layout videocrafter2-ckpt --size full: the real keys and
// shapes, seeded random values) with an open_clip tokenizer file of our own beside it, padded to
// the real vocabulary's ids. The reduced-width version of the same runs is
// test/runtime/methods/real-layout.test.ts.
//
//   npx tsx bench/real_layout.ts [--dtype fp32[,fp16]] [--keep DIR] [--only check,refuse,sample,run]
//
// One child process per command (the CLI's own main() in-process, so its VmHWM is the command's):
//   check-weights  `vplc check-weights pipelines/pickscore.vpl --weights CKPT` exits 0;
//   refuse         `vplc run` without the analytic reward stops with VPL7136 naming PickScore's files;
//   sample         `vplc sample` (2 frames, 64x64, 2 DDIM steps, brightness) writes videos with a finite reward;
//   run            `vplc run --steps 1` (batch 1, accumulate 1) logs one optimizer step: loss finite, grad_norm > 0.
// For each: wall seconds, peak RSS (VmHWM) and its ratio to the checkpoint's size, and from the
// parent's polling of /proc/<pid>: the largest PSS (shared file pages counted once even when
// two sessions map them), its anonymous / file split, and the bytes of mappings of the
// checkpoint itself (by inode: the program cache hard-links it). Comparing `sample` (one UNet
// session) with `run` (sample_step and train_step sessions) shows whether each session holds its
// own copy of the UNet. A child is killed if the machine's MemAvailable drops below 1.5 GiB (the
// machine is shared); the row then says so and where its RSS was.
//
// The checkpoint (about 7 GB in fp32) is written to a temporary folder and deleted afterwards,
// unless --keep DIR (then kept there and re-used).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { readMetrics } from '../runtime/metrics/jsonl.ts';
import { FIXTURE_MERGES, fillerMerges, fixtureOpenClipText } from '../test/helpers/clip-bpe-fixture.ts';
import { load, machine, PYTHON, torchAvailable } from './common.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PIPELINE = path.join(repoRoot, 'pipelines', 'pickscore.vpl');
const PROMPT = 'a red fox running through snow';
const GiB = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const MEM_FLOOR = 1.5 * 2 ** 30;

// ------------------------------------------------------------------ child: the CLI in-process

/** `--cli ARGS...`: vplc's main() in this process; at exit, its VmHWM goes to $VPLC_BENCH_STATUS. */
async function cliChild(args: string[]): Promise<void> {
  const out = process.env.VPLC_BENCH_STATUS;
  process.on('exit', () => {
    if (out) fs.writeFileSync(out, fs.readFileSync('/proc/self/status', 'utf8'));
  });
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(args);
}

// ------------------------------------------------------------------ parent: polling a child

interface Sample {
  t: number;
  rss: number;
  pss: number;
  pssAnon: number;
  pssFile: number;
  ckptMapped: number;
}

interface ChildRun {
  exitCode: number | null;
  signal: string | null;
  wall: number;
  /** VmHWM reported by the child at exit (NaN when it did not get there). */
  hwm: number;
  /** The largest of each figure seen while polling. */
  max: Sample;
  /** The sample at the largest PSS. */
  atPeak: Sample;
  /** The log line the child printed last before the largest RSS. */
  lineAtPeak: string;
  killed?: string;
  stdout: string;
  stderr: string;
}

const kb = (text: string, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
};

function memAvailable(): number {
  return kb(fs.readFileSync('/proc/meminfo', 'utf8'), 'MemAvailable');
}

/** Bytes of the child's mappings of the file with inode `inode` (the checkpoint or its hard link). */
function mappedBytes(pid: number, inode: number): number {
  let total = 0;
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const f = line.split(/\s+/);
    if (f.length < 6 || Number(f[4]) !== inode) continue;
    const [a, b] = f[0]!.split('-').map((x) => parseInt(x, 16));
    total += b! - a!;
  }
  return total;
}

function poll(pid: number, inode: number, t0: number): Sample | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return {
      t: (performance.now() - t0) / 1000,
      rss: kb(status, 'VmRSS'),
      pss: kb(rollup, 'Pss'),
      pssAnon: kb(rollup, 'Pss_Anon'),
      pssFile: kb(rollup, 'Pss_File'),
      ckptMapped: mappedBytes(pid, inode),
    };
  } catch {
    return undefined; // exited between polls
  }
}

async function runCli(what: string, args: string[], options: { cwd: string; inode: number; logDir: string }): Promise<ChildRun> {
  const statusFile = path.join(options.logDir, `${what}.status`);
  fs.rmSync(statusFile, { force: true });
  const self = fileURLToPath(import.meta.url);
  const t0 = performance.now();
  // tsx by URL: the child's working folder is outside the repository (its program cache goes there)
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), self, '--cli', ...args], {
    cwd: options.cwd,
    env: { ...process.env, VPLC_BENCH_STATUS: statusFile, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let lastLine = '';
  let current: Sample | undefined;
  const zero: Sample = { t: 0, rss: 0, pss: 0, pssAnon: 0, pssFile: 0, ckptMapped: 0 };
  const max: Sample = { ...zero };
  let atPeak: Sample = { ...zero };
  let lineAtPeak = '';
  let killed: string | undefined;
  const log = fs.createWriteStream(path.join(options.logDir, `${what}.log`));
  const onText = (text: string, stream: 'out' | 'err') => {
    if (stream === 'out') stdout += text;
    else stderr += text;
    for (const line of text.split('\n').filter((l) => l.trim())) {
      lastLine = line.trim();
      const t = ((performance.now() - t0) / 1000).toFixed(1);
      log.write(`[${t} s, RSS ${current ? GiB(current.rss) : '?'}] ${line}\n`);
    }
  };
  child.stdout.setEncoding('utf8').on('data', (t: string) => onText(t, 'out'));
  child.stderr.setEncoding('utf8').on('data', (t: string) => onText(t, 'err'));
  const timer = setInterval(() => {
    const s = poll(child.pid!, options.inode, t0);
    if (!s) return;
    current = s;
    for (const k of Object.keys(max) as (keyof Sample)[]) max[k] = Math.max(max[k], s[k]);
    if (s.pss >= atPeak.pss) atPeak = s;
    if (s.rss >= max.rss) lineAtPeak = lastLine;
    const avail = memAvailable();
    if (avail < MEM_FLOOR && !killed) {
      killed = `killed at ${s.t.toFixed(0)} s: MemAvailable ${GiB(avail)} < ${GiB(MEM_FLOOR)} with the child at RSS ${GiB(s.rss)}, PSS ${GiB(s.pss)} (last line: ${lastLine})`;
      child.kill('SIGKILL');
    }
  }, 500);
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (code, sig) => resolve([code, sig])));
  clearInterval(timer);
  log.end();
  const wall = (performance.now() - t0) / 1000;
  const hwm = fs.existsSync(statusFile) ? kb(fs.readFileSync(statusFile, 'utf8'), 'VmHWM') : NaN;
  return { exitCode, signal, wall, hwm, max, atPeak, lineAtPeak, ...(killed ? { killed } : {}), stdout, stderr };
}

// ------------------------------------------------------------------ the checkpoint

function writeCheckpoint(ckpt: string, dtype: string): { seconds: number; reused: boolean } {
  const t0 = performance.now();
  fs.mkdirSync(path.dirname(ckpt), { recursive: true });
  let reused = fs.existsSync(ckpt);
  if (!reused) {
    const r = spawnSync(PYTHON, ['tools/checkpoints/synthetic.py', '--layout', 'videocrafter2-ckpt', '--size', 'full', '--dtype', dtype, '--out', `${ckpt}.partial`], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new Error(`synthetic.py failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
    fs.renameSync(`${ckpt}.partial`, ckpt);
    reused = false;
  }
  // open_clip's tokenizer file beside it: our own merges, padded to the real vocabulary's ids (49408, end 49407)
  const merges = [...FIXTURE_MERGES, ...fillerMerges(49408 - 512 - 2 - FIXTURE_MERGES.length)];
  fs.writeFileSync(path.join(path.dirname(ckpt), 'bpe_simple_vocab_16e6.txt.gz'), gzipSync(fixtureOpenClipText(merges)));
  return { seconds: (performance.now() - t0) / 1000, reused };
}

/** Bytes per component (unet, vae, text, schedule) of the layout, from the generator's manifest. */
function componentBytes(dtype: string): Record<string, number> {
  const r = spawnSync(PYTHON, ['tools/checkpoints/synthetic.py', '--layout', 'videocrafter2-ckpt', '--size', 'full', '--dtype', dtype, '--manifest'], { cwd: repoRoot, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`synthetic.py --manifest failed:\n${r.stderr}`);
  const width: Record<string, number> = { F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };
  const out: Record<string, number> = {};
  for (const line of r.stdout.trim().split('\n')) {
    const row = JSON.parse(line) as { shape: number[]; dtype: string; component: string };
    out[row.component] = (out[row.component] ?? 0) + row.shape.reduce((a, b) => a * b, 1) * (width[row.dtype] ?? NaN);
  }
  return out;
}

// ------------------------------------------------------------------ the steps

type Step = 'check' | 'refuse' | 'sample' | 'run';
const STEPS: Step[] = ['check', 'refuse', 'sample', 'run'];

interface Row {
  dtype: string;
  step: Step;
  command: string;
  ok: boolean;
  detail: string;
  child: ChildRun;
}

const quote = (a: string): string => (/^[\w./=,:@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

async function bench(dtype: string, dir: string, steps: readonly Step[], say: (line: string) => void): Promise<{ rows: Row[]; ckptBytes: number; components: Record<string, number> }> {
  const ckpt = path.join(dir, dtype, 'videocrafter2', 'model.ckpt');
  const written = writeCheckpoint(ckpt, dtype);
  const ckptBytes = fs.statSync(ckpt).size;
  const inode = fs.statSync(ckpt).ino;
  const components = componentBytes(dtype);
  const parts = Object.entries(components).map(([k, v]) => `${k} ${GiB(v)}`).join(', ');
  say(`checkpoint ${ckpt}: ${GiB(ckptBytes)} (${ckptBytes} bytes; ${parts}), ${written.reused ? 're-used' : `written in ${written.seconds.toFixed(0)} s`}; load average ${load()}; MemAvailable ${GiB(memAvailable())}`);
  const work = path.join(dir, dtype, 'work');
  const logDir = path.join(dir, dtype, 'logs');
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(logDir, { recursive: true });
  const small = [`model.weights=${ckpt}`, 'model.frames=2', 'model.size=64x64', 'sampler.steps=2'];
  const analytic = 'objective.reward=1.0 * brightness';
  const train = ['train.steps=1', 'train.batch=1', 'train.accumulate=1'];
  const samplesDir = path.join(work, 'samples');
  const runDir = path.join(work, 'run');
  const commands: Record<Step, string[]> = {
    check: ['check-weights', PIPELINE, '--weights', ckpt],
    refuse: ['run', PIPELINE, ...small, ...train, `output.dir=${runDir}-refused`, '--fresh'],
    sample: ['sample', PIPELINE, ...small, analytic, '--prompt', PROMPT, '--seed', '1', '--out', samplesDir],
    run: ['run', PIPELINE, ...small, ...train, analytic, `output.dir=${runDir}`, '--fresh', '--steps', '1'],
  };
  const rows: Row[] = [];
  for (const step of steps) {
    const args = commands[step];
    const command = `vplc ${args.map(quote).join(' ')}`;
    say(`${dtype} ${step}: ${command}`);
    const child = await runCli(`${step}`, args, { cwd: work, inode, logDir });
    const err = child.stderr + child.stdout;
    let ok = false;
    let detail = '';
    if (child.killed) detail = child.killed;
    else if (step === 'check') {
      ok = child.exitCode === 0;
      detail = ok ? (child.stdout.trim().split('\n')[0] ?? '') : `exit ${child.exitCode}: ${err.trim().split('\n').slice(-15).join(' | ')}`;
    } else if (step === 'refuse') {
      ok = child.exitCode !== 0 && /VPL7136/.test(err) && /pickscore needs .*PickScore_v1/.test(err);
      detail = `exit ${child.exitCode}: ${err.trim().split('\n').filter((l) => /VPL7136|pickscore needs/.test(l)).join(' | ').slice(0, 300)}`;
    } else if (step === 'sample') {
      const files = fs.existsSync(samplesDir) ? fs.readdirSync(samplesDir).map((f) => path.join(samplesDir, f)) : [];
      const gifs = files.filter((f) => f.endsWith('.gif') && fs.statSync(f).size > 0 && fs.readFileSync(f).subarray(0, 6).toString('latin1').startsWith('GIF8'));
      const rewards = [...err.matchAll(/\(reward ([^)]+)\)/g)].map((m) => Number(m[1]));
      ok = child.exitCode === 0 && gifs.length > 0 && rewards.length > 0 && rewards.every(Number.isFinite);
      detail = `exit ${child.exitCode}; ${gifs.length} GIF(s) (${gifs.map((f) => `${path.basename(f)} ${fs.statSync(f).size} B`).join(', ')}); brightness reward ${rewards.join(', ') || 'none printed'}`;
      if (child.exitCode !== 0) detail += `: ${err.trim().split('\n').slice(-15).join(' | ')}`;
    } else {
      const metrics = path.join(runDir, 'metrics.jsonl');
      const rec = fs.existsSync(metrics) ? readMetrics(metrics).records.find((r) => r.step === 1 && r.values.loss !== undefined) : undefined;
      ok = child.exitCode === 0 && rec !== undefined && Number.isFinite(rec.values.loss) && rec.values.grad_norm! > 0;
      detail = `exit ${child.exitCode}; ${rec ? `step 1: loss ${rec.values.loss}, grad_norm ${rec.values.grad_norm}` : 'no step-1 record in metrics.jsonl'}`;
      if (child.exitCode !== 0) detail += `: ${err.trim().split('\n').slice(-15).join(' | ')}`;
    }
    if (child.signal && !child.killed) detail += ` (signal ${child.signal})`;
    rows.push({ dtype, step, command, ok, detail, child });
    say(`  ${ok ? 'ok' : 'FAILED'} in ${child.wall.toFixed(1)} s, VmHWM ${GiB(child.hwm)} (${(child.hwm / ckptBytes).toFixed(2)}x the checkpoint), max PSS ${GiB(child.max.pss)}: ${detail}`);
  }
  return { rows, ckptBytes, components };
}

function table(rows: Row[], ckptBytes: Map<string, number>): string[] {
  const head = ['dtype', 'command', 'outcome', 'wall s', 'peak RSS (VmHWM)', 'x checkpoint', 'max PSS (anon + file)', 'checkpoint mapped', 'log line at peak RSS'];
  const body = rows.map((r) => {
    const c = r.child;
    const size = ckptBytes.get(r.dtype)!;
    const hwm = Number.isFinite(c.hwm) ? c.hwm : c.max.rss;
    return [
      r.dtype,
      r.step,
      r.ok ? 'ok' : 'FAILED',
      c.wall.toFixed(1),
      `${GiB(hwm)}${Number.isFinite(c.hwm) ? '' : ' (polled)'}`,
      `${(hwm / size).toFixed(2)}x`,
      `${GiB(c.atPeak.pss)} (${GiB(c.atPeak.pssAnon)} + ${GiB(c.atPeak.pssFile)})`,
      GiB(c.max.ckptMapped),
      c.lineAtPeak.slice(0, 70),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)];
}

async function main(): Promise<void> {
  if (process.argv[2] === '--cli') return cliChild(process.argv.slice(3));
  const { values } = parseArgs({
    options: {
      dtype: { type: 'string', default: 'fp32' },
      keep: { type: 'string' },
      only: { type: 'string', default: STEPS.join(',') },
      json: { type: 'string' },
    },
  });
  const torch = torchAvailable();
  if (!torch.ok) {
    console.error(`real_layout: needs PyTorch to write the checkpoint (${torch.why})`);
    process.exit(2);
  }
  const steps = values.only!.split(',') as Step[];
  for (const s of steps) if (!STEPS.includes(s)) throw new Error(`unknown step '${s}' (${STEPS.join(', ')})`);
  const dir = values.keep ? path.resolve(values.keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-real-layout-'));
  fs.mkdirSync(dir, { recursive: true });
  const say = (line: string) => console.log(line);
  say(`machine: ${machine()}`);
  say(`date: ${new Date().toISOString()}; load average ${load()}; MemAvailable ${GiB(memAvailable())}`);
  say(`pickscore.vpl at full width on a synthetic VideoCrafter2 .ckpt: 2 frames, 64x64, 2 DDIM steps; logs (with RSS per line) in ${dir}/<dtype>/logs`);
  const rows: Row[] = [];
  const sizes = new Map<string, number>();
  const unets = new Map<string, number>();
  try {
    for (const dtype of values.dtype!.split(',')) {
      const r = await bench(dtype, dir, steps, say);
      rows.push(...r.rows);
      sizes.set(dtype, r.ckptBytes);
      unets.set(dtype, r.components.unet ?? NaN);
      if (!values.keep) fs.rmSync(path.join(dir, dtype), { recursive: true, force: true });
    }
  } finally {
    if (!values.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
  for (const line of table(rows, sizes)) say(line);
  for (const dtype of sizes.keys()) {
    const s = rows.find((r) => r.dtype === dtype && r.step === 'sample')?.child;
    const t = rows.find((r) => r.dtype === dtype && r.step === 'run')?.child;
    if (!s || !t) continue;
    say(
      `${dtype}: run - sample = ${GiB(t.hwm - s.hwm)} VmHWM, ${GiB(t.max.pss - s.max.pss)} PSS (the UNet's tensors in the file: ${GiB(unets.get(dtype)!)}); ` +
        `checkpoint mapped: sample ${GiB(s.max.ckptMapped)}, run ${GiB(t.max.ckptMapped)}`,
    );
  }
  say(`load average after: ${load()}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows.map((r) => ({ ...r, child: { ...r.child, stdout: undefined, stderr: r.child.stderr.slice(-4000) } })), null, 2));
  if (!rows.every((r) => r.ok)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
}
