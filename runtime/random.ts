// The one seeded generator of a run: everything random the runtime draws (initial noise,
// prompt order, backprop cutoffs, decoded-frame choice, toy data) comes from here, so a run is
// a pure function of its seed and resuming from a checkpoint continues the exact sequence.
//
// Named sub-streams: `rng.stream('noise')` is an independent xoshiro128** generator whose
// starting state is derived from (seed, name) only. Adding a new consumer (a new stream name)
// never shifts the numbers an existing consumer sees, and the order in which consumers draw
// does not matter across streams.
//
// Serialisable state: `rng.state()` is plain JSON (the seed and the four 32-bit words of every
// stream touched so far) that goes into a checkpoint's state.json; `Rng.restore(state)` gives
// a generator that continues bit for bit. Normals are drawn in Box-Muller pairs with no cached
// spare, so the state is exactly the four words.
//
// The generator core (xoshiro128** step, 53-bit uniform, FNV-1a, Box-Muller radius) is in
// tensor/random/xoshiro128.ts, shared with parameter initialisation (stdlib/nn/random.ts). The seeding is
// this module's own and stays so: a stream's words come from the whole safe-integer seed and the
// stream name (FNV-1a, then splitmix32 with the murmur3 finaliser constants), which is not
// stdlib's derivation, and every seeded run and saved checkpoint depends on it. The draws built
// on the core are this module's own too: normals and fillUniform take 32-bit inputs, ints are
// rejection sampled, and no spare normal is cached (the state stays exactly the four words).
//
// Speed: fillNormal writes ~23M float32 normals/s on one core of the build machine (no
// allocation per number; Box-Muller's log/sqrt/cos/sin dominate).
// xoshiro128** (Blackman & Vigna) passes BigCrush except linear-complexity tests on the low
// bits; ample for noise and sampling, not for cryptography.
import type { RngState } from './checkpoint/state.ts';
import { VplError } from '../diagnostics/error.ts';
import { TWO_PI, boxMullerRadius, fnv1a, uniform53, xoshiroNext } from '../tensor/random/xoshiro128.ts';

export const rngAlgorithm = 'xoshiro128**/splitmix32/v1';

/** splitmix32 step: a well-mixed 32-bit output per increment of `x`. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The starting words of stream `name` under `seed` (never all zero). */
function streamSeed(seed: number, name: string): Uint32Array {
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  let x = splitmix32(low ^ splitmix32(high ^ 0x5bd1e995) ^ splitmix32(fnv1a(name)));
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    x = splitmix32(x + i * 0x6d2b79f5);
    words[i] = x;
  }
  if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1;
  return words;
}

/** 2^-32: maps a 32-bit output to [0, 1). */
const INV_2_32 = 2 ** -32;

/** One xoshiro128** generator. */
export class RngStream {
  /** s0..s3 as a typed array: the whole state. */
  private readonly s: Uint32Array;

  constructor(
    readonly name: string,
    words: Uint32Array,
  ) {
    this.s = new Uint32Array(words);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    return xoshiroNext(this.s);
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    return uniform53(this.s);
  }

  /** A uniform integer in [0, n) without modulo bias (n <= 2^32). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new RangeError(`rng.int(${n}): n must be an integer in [1, 2^32]`);
    const limit = 2 ** 32 - (2 ** 32 % n);
    const s = this.s;
    for (;;) {
      const x = xoshiroNext(s);
      if (x < limit) return x % n;
    }
  }

  /** One standard normal (a Box-Muller pair is drawn; the second value is discarded). */
  normal(): number {
    const s = this.s;
    const u1 = (xoshiroNext(s) + 0.5) * INV_2_32; // (0, 1): log is finite
    const u2 = xoshiroNext(s) * INV_2_32;
    return boxMullerRadius(u1) * Math.cos(TWO_PI * u2);
  }

  /** Fills `out` with standard normals (times `std`, plus `mean`); returns it. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    const s = this.s;
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const u1 = (xoshiroNext(s) + 0.5) * INV_2_32; // (0, 1): log is finite
      const u2 = xoshiroNext(s) * INV_2_32;
      const r = boxMullerRadius(u1) * std;
      const a = TWO_PI * u2;
      out[i] = mean + r * Math.cos(a);
      out[i + 1] = mean + r * Math.sin(a);
    }
    if (i < n) out[i] = mean + this.normal() * std;
    return out;
  }

  /** Fills `out` with uniforms in [lo, hi). */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    const s = this.s;
    const span = hi - lo;
    for (let i = 0; i < out.length; i++) out[i] = lo + xoshiroNext(s) * INV_2_32 * span;
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** One element, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('rng.choice of an empty list');
    return items[this.int(items.length)]!;
  }

  /** The four state words (copied). */
  words(): number[] {
    return [...this.s];
  }
}

/** The run's generator: a seed and its named streams. */
export class Rng {
  private readonly streams = new Map<string, RngStream>();

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new VplError('VPL7112', `the seed must be a non-negative integer, got ${seed}`, { help: 'set `seed` in the train block to an integer such as 42' });
    }
  }

  /** The stream called `name`, created from (seed, name) on first use. */
  stream(name: string): RngStream {
    let s = this.streams.get(name);
    if (!s) {
      s = new RngStream(name, streamSeed(this.seed, name));
      this.streams.set(name, s);
    }
    return s;
  }

  /**
   * A generator outside the run's state, the same every time it is asked for: for validation
   * with fixed seeds (the same noise and prompts at every validation, whatever the step).
   */
  fixed(name: string): RngStream {
    return new RngStream(name, streamSeed(this.seed, `fixed:${name}`));
  }

  /** Plain JSON for state.json; streams never drawn from are left out (they start fresh). */
  state(): RngState {
    const state: RngState = { algorithm: rngAlgorithm, seed: this.seed };
    for (const name of [...this.streams.keys()].sort()) state[`stream:${name}`] = this.streams.get(name)!.words();
    return state;
  }

  /** The generator a saved state describes, continuing exactly where it stopped. */
  static restore(state: RngState, file?: string): Rng {
    const bad = (why: string) =>
      new VplError('VPL7050', `the checkpoint's RNG state is invalid: ${why}`, {
        ...(file === undefined ? {} : { file }),
        help: 'delete this checkpoint folder to resume from the one before it, or start over with --fresh',
      });
    if (state['algorithm'] !== rngAlgorithm) throw bad(`algorithm ${JSON.stringify(state['algorithm'])}, expected '${rngAlgorithm}'`);
    const seed = state['seed'];
    if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) throw bad(`seed ${JSON.stringify(seed)}`);
    const rng = new Rng(seed);
    for (const [key, value] of Object.entries(state)) {
      if (!key.startsWith('stream:')) continue;
      const name = key.slice('stream:'.length);
      if (!Array.isArray(value) || value.length !== 4 || !value.every((w) => typeof w === 'number' && Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
        throw bad(`stream '${name}' must be four 32-bit words`);
      }
      const words = Uint32Array.from(value as number[]);
      if ((words[0] | words[1] | words[2] | words[3]) === 0) throw bad(`stream '${name}' is all zeros`);
      rng.streams.set(name, new RngStream(name, words));
    }
    return rng;
  }
}
