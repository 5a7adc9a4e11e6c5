// The xoshiro128** core (Blackman & Vigna) behind both seeded generators of the project:
//   - runtime/random.ts: the run's named streams (noise, prompts, cutoffs, ...), checkpointed;
//   - stdlib/nn/random.ts: parameter initialisation, seeded by (seed, parameter name).
// Each of them derives its own starting words (different seed mixing, kept as is so that trained
// weights and resumable runs keep their numbers) and has its own public API; what they share is
// defined once here: the state step with its 32-bit output, the 53-bit uniform double, the FNV-1a
// string hash used in seeding, and the Box-Muller radius and angle factor. The normal draws
// themselves stay in each module because they differ (32-bit inputs and no cached spare in the
// run's streams, 53-bit inputs and a cached spare in parameter initialisation).
//
// The state is a Uint32Array of four words (never all zero) that these functions advance in
// place. Plain functions rather than a base class, so that call sites stay monomorphic and V8
// can inline them into each module's hot loops.
//
// Every number either generator produces goes through here: any change alters trained weights,
// measured test thresholds and the continuation of saved checkpoints. test/runtime/random.test.ts
// and test/stdlib/random.test.ts pin exact outputs of both generators.
// xoshiro128** passes BigCrush except linear-complexity tests on the low bits; ample for noise,
// sampling and initialisation, not for cryptography.

/** 2π, the Box-Muller angle factor. */
export const TWO_PI = 2 * Math.PI;

/** 32-bit FNV-1a of a string's UTF-16 code units (for deriving seeds from names). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Advances the state `s` (four 32-bit words) one step; returns its 32-bit unsigned output. */
export function xoshiroNext(s: Uint32Array): number {
  const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
  const t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 11);
  return result;
}

/** A uniform double in [0, 1) with 53 random bits (two steps: 27 high bits, then 26 low). */
export function uniform53(s: Uint32Array): number {
  const hi = xoshiroNext(s) >>> 5; // 27 bits
  const lo = xoshiroNext(s) >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/**
 * The Box-Muller radius sqrt(-2 ln u) for u in (0, 1]; a pair of standard normals is
 * radius * cos(TWO_PI * v) and radius * sin(TWO_PI * v) for an independent uniform v.
 */
export function boxMullerRadius(u: number): number {
  return Math.sqrt(-2 * Math.log(u));
}
