// A toy method compiled by our compiler and trained by the real driver: linear regression
// y = x W + b with a two-graph Program,
//   micro_step: x, y, w, b -> loss, grad_w, grad_b      (forward + `gradients`)
//   apply_step: w, b, m_*, v_*, opt_step, g_w, g_b -> new w, b, m_*, v_*, opt_step   (AdamW)
// Data are drawn from the run's generator (stream 'data'), so a run is a function of its seed.
// Used in-process by the tests and as a child process (child.ts) for kill -9 and SIGINT.
import { gradients } from '../../../tensor/autodiff/grad.ts';
import { Builder } from '../../../tensor/ir/builder.ts';
import { Graph } from '../../../tensor/ir/graph.ts';
import { adamw } from '../../../tensor/optim/adamw.ts';
import type { Program } from '../../../tensor/program/program.ts';
import { loadProgram, type ProgramSessions } from '../../../runtime/session.ts';
import type { TrainOptions, TensorState } from '../../../runtime/train/index.ts';

export const BATCH = 8;
export const IN = 6;
export const OUT = 3;

export function toyProgram(lr = 0.05): Program {
  const fwd = new Builder(new Graph('micro_step'));
  const x = fwd.input('x', [BATCH, IN]);
  const y = fwd.input('y', [BATCH, OUT]);
  const w = fwd.input('w', [IN, OUT]);
  const b = fwd.input('b', [OUT]);
  const d = fwd.sub(fwd.add(fwd.matmul(x, w), b), y);
  const loss = fwd.reduceMean(fwd.mul(d, d), undefined, false);
  const g = gradients(fwd.graph, loss, [w, b]);
  fwd.graph.markOutput(loss);
  fwd.graph.markOutput(g.get(w)!);
  fwd.graph.markOutput(g.get(b)!);

  const ap = new Builder(new Graph('apply_step'));
  const names = ['w', 'b'] as const;
  const shapes = { w: [IN, OUT], b: [OUT] };
  const slots = names.map((n) => ({
    param: ap.input(n, shapes[n]),
    m: ap.input(`m_${n}`, shapes[n]),
    v: ap.input(`v_${n}`, shapes[n]),
    grad: ap.input(`g_${n}`, shapes[n]),
  }));
  const step = ap.input('opt_step', [], 'int64');
  const r = adamw(ap, slots, step, { lr, weightDecay: 0.01 });
  [...r.params, ...r.m, ...r.v, r.step].forEach((v) => ap.graph.markOutput(v));
  return { name: 'toy', graphs: { micro_step: fwd.graph, apply_step: ap.graph }, schedule: [], weights: [] };
}

export function toyInitialState(): TensorState {
  const w = Float32Array.from({ length: IN * OUT }, (_, i) => ((i * 7) % 5) / 10 - 0.2);
  return {
    w: { dtype: 'float32', shape: [IN, OUT], data: w },
    b: { dtype: 'float32', shape: [OUT], data: new Float32Array(OUT) },
    m_w: { dtype: 'float32', shape: [IN, OUT], data: new Float32Array(IN * OUT) },
    m_b: { dtype: 'float32', shape: [OUT], data: new Float32Array(OUT) },
    v_w: { dtype: 'float32', shape: [IN, OUT], data: new Float32Array(IN * OUT) },
    v_b: { dtype: 'float32', shape: [OUT], data: new Float32Array(OUT) },
    opt_step: { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) },
  };
}

const TRUE_W = Float32Array.from({ length: IN * OUT }, (_, i) => Math.sin(i + 1));

export interface ToyHooks {
  /** Called before each micro-step; may return a promise (to pause) or corrupt the data. */
  beforeMicro?(step: number, micro: number, x: Float32Array): void | Promise<void>;
}

/** The per-step functions a lowering would supply, over real onnxruntime sessions. */
export async function toyMethod(hooks: ToyHooks = {}): Promise<{ sessions: ProgramSessions } & Pick<TrainOptions, 'state' | 'trainable' | 'microStep' | 'applyStep' | 'validate'>> {
  const sessions = await loadProgram(toyProgram());
  const micro = sessions.graph('micro_step');
  const apply = sessions.graph('apply_step');
  const [lossName, gwName, gbName] = micro.outputs.map((o) => o.name);
  const names = ['w', 'b'] as const;
  return {
    sessions,
    state: toyInitialState(),
    trainable: ['w', 'b'],
    async microStep({ step, micro: m, state, rng }) {
      const data = rng.stream('data');
      const x = data.fillNormal(new Float32Array(BATCH * IN));
      const y = new Float32Array(BATCH * OUT);
      const noise = data.fillNormal(new Float32Array(BATCH * OUT), 0, 0.05);
      for (let i = 0; i < BATCH; i++) {
        for (let j = 0; j < OUT; j++) {
          let s = noise[i * OUT + j]!;
          for (let k = 0; k < IN; k++) s += x[i * IN + k]! * TRUE_W[k * OUT + j]!;
          y[i * OUT + j] = s;
        }
      }
      await hooks.beforeMicro?.(step, m, x);
      const out = await micro.run({ x, y, w: state.w!.data, b: state.b!.data });
      return { loss: (out[lossName!] as Float32Array)[0]!, grads: { w: out[gwName!] as Float32Array, b: out[gbName!] as Float32Array } };
    },
    async applyStep({ state, grads }) {
      const feeds: Record<string, Float32Array | BigInt64Array> = { opt_step: state.opt_step!.data as BigInt64Array };
      for (const n of names) {
        feeds[n] = state[n]!.data as Float32Array;
        feeds[`m_${n}`] = state[`m_${n}`]!.data as Float32Array;
        feeds[`v_${n}`] = state[`v_${n}`]!.data as Float32Array;
        feeds[`g_${n}`] = grads[n]!;
      }
      const out = await apply.run(feeds);
      const o = apply.outputs.map((s) => out[s.name]!);
      return { state: { w: o[0]!, b: o[1]!, m_w: o[2]!, m_b: o[3]!, v_w: o[4]!, v_b: o[5]!, opt_step: o[6]! } };
    },
    validate({ state, rng }) {
      // a fixed validation batch: the same numbers at every validation
      const x = rng.fillNormal(new Float32Array(IN));
      let err = 0;
      for (let j = 0; j < OUT; j++) {
        let s = state.b!.data[j] as number;
        let t = 0;
        for (let k = 0; k < IN; k++) {
          s += x[k]! * (state.w!.data[k * OUT + j] as number);
          t += x[k]! * TRUE_W[k * OUT + j]!;
        }
        err += (s - t) ** 2;
      }
      return { mse: err / OUT, probe: x[0]! };
    },
  };
}
