// Emitted models pass onnx.checker.check_model (Debian's python3-onnx; CI installs it).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emitModel } from '../../../tensor/emit/onnx.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { lowerPrecision } from '../../../tensor/optim/precision.ts';
import { emitProgram } from '../../../tensor/program/emit.ts';
import { smallProgram } from './fixtures.ts';

const PYTHON = '/usr/bin/python3';
const probe = spawnSync(PYTHON, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
const hasOnnx = probe.status === 0;
if (!hasOnnx) {
  console.warn(`checker tests skipped: ${PYTHON} cannot import onnx (apt-get install python3-onnx): ${(probe.stderr || String(probe.error ?? '')).trim().split('\n').pop()}`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vplc-checker-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Run check_model on each path (with its external data); returns path -> error text ('' when valid). */
function check(paths: string[]): Record<string, string> {
  const script = `
import json, sys, onnx
result = {}
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(p)
        result[p] = ''
    except Exception as e:
        result[p] = str(e)
print(json.dumps(result))
`;
  const r = spawnSync(PYTHON, ['-c', script, ...paths], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

function mlpForward(): Graph {
  const b = new Builder(new Graph('mlp_fp16'));
  const x = b.input('x', [8, 16]);
  const w1 = b.input('w1', [16, 32]);
  const w2 = b.input('w2', [32, 4]);
  const h = b.tanh(b.add(b.matmul(x, w1), b.scalar(0.1)));
  b.graph.markOutput(b.softmax(b.matmul(h, w2)));
  return b.graph;
}

describe.skipIf(!hasOnnx)('onnx.checker', () => {
  it('accepts emitted programs (a training step, a Loop of steps, external data) and lowered-precision graphs', () => {
    const dir = path.join(tmp, 'program');
    emitProgram(smallProgram(path.join(tmp, 'src')), dir, { externalThreshold: 8 * 1024 });
    const files = ['sample_step.onnx', 'train_step.onnx', 'train_loop.onnx'].map((f) => path.join(dir, f));
    for (const low of ['float16', 'bfloat16'] as const) {
      const file = path.join(tmp, `mlp_${low}.onnx`);
      fs.writeFileSync(file, emitModel(lowerPrecision(mlpForward(), low)));
      files.push(file);
    }
    const result = check(files);
    for (const f of files) expect(result[f], path.basename(f)).toBe('');
  });

  it('really checks: a model with a dangling input is rejected', () => {
    const b = new Builder(new Graph('broken'));
    const x = b.input('x', [2]);
    const y = b.neg(x);
    b.graph.markOutput(y);
    b.graph.inputs.length = 0; // x is now used but never defined
    const file = path.join(tmp, 'broken.onnx');
    fs.writeFileSync(file, emitModel(b.graph));
    expect(check([file])[file]).toMatch(/x/);
  });
});
