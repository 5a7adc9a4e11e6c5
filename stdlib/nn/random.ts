// Deterministic random numbers for parameter initialisation (and anything else that must be
// reproducible from a seed): xoshiro128** seeded through splitmix32, Box-Muller normals.
//
// Parameters derive their own stream from (seed, name), so adding or reordering layers does
// not change the initial values of the others.

/** FNV-1a over the UTF-16 code units of `text`: a 32-bit hash for deriving seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

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

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

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
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
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
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
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
