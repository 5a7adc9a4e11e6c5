// Deterministic mutations of .vpl text for fuzzing the grammar (and, on top, the checker).
// A seeded PRNG makes every failure reproducible from its seed.

/** mulberry32: small, fast, good enough to pick mutations. Returns numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fragments worth inserting: tokens of the language and near-misses of them. */
const fragments = [
  '{', '}', '[', ']', '(', ')', ',', '.', '=', '+', '-', '*', '/', ';', '"', '#', '\n', ' ',
  'pipeline', 'extends', 'every', 'with', 'keep', 'true', 'false', 'model', 'lora', 'x',
  '16', '2e-4', '2e-', '1e999', '24fps', '12abc', '320x512', '1x2x3x4', '.5', '90%',
  '"str"', '"bad \\q escape"', '"\\u{110000}"', '"unterminated', 'adamw { lr = 1 }', 'f(1, 2)',
  '[a, b]', '= }', '\u0000', '\ufffd', '\u2028', '\r', '\r\n', '\t', 'é', '😀', "'", '$', '@', ':',
];

type Mutation = (text: string, random: () => number) => string;

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)]!;
}

function position(text: string, random: () => number): number {
  return Math.floor(random() * (text.length + 1));
}

const mutations: Mutation[] = [
  // delete a run of characters
  (text, random) => {
    const at = position(text, random);
    return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 8));
  },
  // duplicate a run of characters
  (text, random) => {
    const at = position(text, random);
    const length = 1 + Math.floor(random() * 20);
    return text.slice(0, at + length) + text.slice(at, at + length) + text.slice(at + length);
  },
  // insert a language fragment
  (text, random) => {
    const at = position(text, random);
    return text.slice(0, at) + pick(fragments, random) + text.slice(at);
  },
  // insert a random byte (any code unit below 256)
  (text, random) => {
    const at = position(text, random);
    return text.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + text.slice(at);
  },
  // truncate
  (text, random) => text.slice(0, position(text, random)),
  // splice: move a line somewhere else
  (text, random) => {
    const lines = text.split('\n');
    const [line] = lines.splice(Math.floor(random() * lines.length), 1);
    lines.splice(Math.floor(random() * (lines.length + 1)), 0, line ?? '');
    return lines.join('\n');
  },
  // swap two lines' halves: cuts statements mid-way
  (text, random) => {
    const lines = text.split('\n');
    const i = Math.floor(random() * lines.length);
    const line = lines[i] ?? '';
    const cut = Math.floor(random() * (line.length + 1));
    lines[i] = line.slice(cut) + line.slice(0, cut);
    return lines.join('\n');
  },
];

/** Applies 1 to `maxSteps` random mutations to `text`. */
export function mutate(text: string, random: () => number, maxSteps = 4): string {
  const steps = 1 + Math.floor(random() * maxSteps);
  let result = text;
  for (let i = 0; i < steps; i++) result = pick(mutations, random)(result, random);
  return result;
}
