// Helpers shared by the benchmark scripts: timing statistics, FLOP counting over the IR, the
// PyTorch side's files, the machine description, and peak RSS.
import { type ChildProcessByStdio, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { emitModel } from '../tensor/emit/onnx.ts';
import { Builder } from '../tensor/ir/builder.ts';
import { Graph, numel, type Node } from '../tensor/ir/graph.ts';
import { writeSafetensors } from '../runtime/weights/safetensors.ts';
import type { TypedArray } from '../tensor/ir/dtype.ts';

export const PYTHON = '/usr/bin/python3';
export const TORCH_SCRIPT = fileURLToPath(new URL('./net_torch.py', import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Whether Debian's python has torch (the cross-check and PyTorch timings need it). */
/** Whether Debian's python3 can import `modules` (default torch), and why not. */
export function torchAvailable(modules: readonly string[] = ['torch']): { ok: boolean; why: string } {
  const statement = `import ${modules.join(', ')}`;
  const r = spawnSync(PYTHON, ['-c', statement], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `${PYTHON} cannot run (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: `${PYTHON} -c '${statement}' failed: ${r.stderr.trim().split('\n').pop()}` };
  return { ok: true, why: '' };
}

/** Run bench/net_torch.py with `args`; returns its stdout. */
export function runTorch(args: string[]): string {
  return execFileSync(PYTHON, [TORCH_SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
}

/** A long-lived `net_torch.py serve` process: timing rounds on request, interleavable with ours. */
export class TorchServer {
  private constructor(
    private readonly child: ChildProcessByStdio<Writable, Readable, null>,
    private readonly lines: AsyncIterator<string>,
    private readonly rl: Interface,
    readonly info: { torch: string; threads: number },
  ) {}

  static async start(dir: string, warmup: number, threads = 2): Promise<TorchServer> {
    const child = spawn(PYTHON, [TORCH_SCRIPT, 'serve', dir, String(warmup)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, VPLC_BENCH_THREADS: String(threads) },
    });
    const rl = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error('net_torch.py serve exited before it was ready');
    return new TorchServer(child, lines, rl, JSON.parse(first.value) as { torch: string; threads: number });
  }

  /** Time `n` steps; returns each step's seconds. */
  async round(n: number): Promise<number[]> {
    this.child.stdin.write(`${n}\n`);
    const line = await this.lines.next();
    if (line.done) throw new Error('net_torch.py serve exited');
    return (JSON.parse(line.value) as { times_s: number[] }).times_s;
  }

  async stop(): Promise<void> {
    this.child.stdin.end();
    await new Promise((resolve) => this.child.once('exit', resolve));
    this.rl.close();
  }
}

/** Load average over 1 minute (the bench machine is shared: say how busy it was). */
export function load(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

/** Write named float32 tensors as a safetensors file (the PyTorch side reads these). */
export async function writeF32(path: string, tensors: { name: string; shape: readonly number[]; data: TypedArray }[]): Promise<void> {
  await writeSafetensors(
    path,
    tensors.map((t) => {
      if (!(t.data instanceof Float32Array)) throw new Error(`${t.name}: expected float32 data`);
      return { name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data };
    }),
  );
}

// ------------------------------------------------------------------ the MatMul peak

/** An n x n x n float32 MatMul in onnxruntime (2 threads): its FLOP/s is the peak we compare to. */
export class MatmulPeak {
  private constructor(
    readonly n: number,
    private readonly session: ort.InferenceSession,
    private readonly feeds: Record<string, ort.Tensor>,
  ) {}

  static async create(n = 1024, threads = 2): Promise<MatmulPeak> {
    const graph = new Graph('matmul_peak');
    const b = new Builder(graph);
    graph.markOutput(b.matmul(b.input('a', [n, n]), b.input('b', [n, n])));
    const session = await ort.InferenceSession.create(emitModel(graph), { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const data = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const peak = new MatmulPeak(n, session, { a: new ort.Tensor('float32', data, [n, n]), b: new ort.Tensor('float32', data.slice(), [n, n]) });
    await peak.round(2);
    return peak;
  }

  get flopsPerRun(): number {
    return 2 * this.n ** 3;
  }

  /** Seconds of each of `iters` products. */
  async round(iters: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      await this.session.run(this.feeds);
      times.push((performance.now() - t0) / 1000);
    }
    return times;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

// ------------------------------------------------------------------ machine, memory

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const cores = os.cpus().length;
  return `${cpu}, ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, onnxruntime-node ${ortVersion()}`;
}

function ortVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../node_modules/onnxruntime-node/package.json', import.meta.url)), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '?';
  }
}

/** Peak resident set size of this process so far (VmHWM), in bytes; NaN where /proc is missing. */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export const MiB = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const fmt = (x: number, digits = 3): string =>
  !Number.isFinite(x) ? String(x) : x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6) ? x.toExponential(digits - 1) : x.toPrecision(digits);
