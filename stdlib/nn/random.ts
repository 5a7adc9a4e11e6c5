// Deterministic random numbers for parameter initialisation (and anything else that must be
// reproducible from a seed): xoshiro128** seeded through splitmix32, Box-Muller normals.
//
// Parameters derive their own stream from (seed, name), so adding or reordering layers does
// not change the initial values of the others.
//
// The generator core (xoshiro128** step, 53-bit uniform, FNV-1a, Box-Muller radius) is shared
// with the run's generator in tensor/random/xoshiro128.ts. The seeding is this module's own and stays
// so: any number or string seed (string seeds hashed, the high bits of large numbers folded in),
// mixed with an optional stream name, expanded by a stateful splitmix32 with other constants
// than runtime/random.ts uses. Every initial weight, and so every trained model and measured
// threshold, depends on it. The draws built on the core are this module's own too: normals take
// two 53-bit uniforms and keep the pair's second value as a spare, int is floor(uniform * n).
import { TWO_PI, boxMullerRadius, fnv1a as hashString, uniform53, xoshiroNext } from '../../tensor/random/xoshiro128.ts';

/** FNV-1a over the UTF-16 code units of a string: the 32-bit hash for deriving seeds. */
export { hashString };

/** splitmix32: a good scrambler to expand one 32-bit seed into generator state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let t = state.s ^ (state.s >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  t ^= t >>> 15;
  return t >>> 0;
}

export class Rng {
  /** xoshiro128** state (four 32-bit words, never all zero). */
  readonly state = new Uint32Array(4);
  private spare: number | undefined;

  /** A generator for `seed`; a string seed (or seed + stream name) is hashed first. */
  constructor(seed: number | string = 0, stream?: string) {
    let s = typeof seed === 'string' ? hashString(seed) : seed >>> 0;
    // Mix in the high bits of large numeric seeds too.
    if (typeof seed === 'number' && Math.abs(seed) > 0xffffffff) s ^= Math.floor(seed / 2 ** 32) >>> 0;
    if (stream !== undefined) s = (Math.imul(s, 0x9e3779b1) ^ hashString(stream)) >>> 0;
    const mix = { s };
    for (let i = 0; i < 4; i++) this.state[i] = splitmix32(mix);
    if (this.state.every((w) => w === 0)) this.state[0] = 1;
  }

  /** Next 32-bit output of xoshiro128**. */
  nextUint32(): number {
    return xoshiroNext(this.state);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return uniform53(this.state);
  }

  /** Uniform in [low, high). */
  uniformIn(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Standard normal by Box-Muller (both values of a pair are used). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + std * z;
    }
    const u1 = 1 - uniform53(this.state); // (0, 1]: log stays finite
    const u2 = uniform53(this.state);
    const r = boxMullerRadius(u1);
    this.spare = r * Math.sin(TWO_PI * u2);
    return mean + std * r * Math.cos(TWO_PI * u2);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  fillUniform(out: Float32Array | Float64Array | number[], low = 0, high = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = this.uniformIn(low, high);
  }

  fillNormal(out: Float32Array | Float64Array | number[], mean = 0, std = 1): void {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
  }
}
