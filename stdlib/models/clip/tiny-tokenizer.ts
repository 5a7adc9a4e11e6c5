// The tiny world's tokenizer: one token per word over a fixed vocabulary of the tiny-world
// caption words (stdlib/data/shapes.ts: shapes, colours, motions, backgrounds and the function
// words of its captions) plus a few common prompt words. The real models' BPE tokenizer
// (OpenCLIP's 49,408-entry vocabulary) is not implemented here.
//
// Ids: [PAD] = 0 (OpenCLIP also pads with 0), [UNK] = 1, the words from 2, then [SOT] and
// [EOT] last, so [EOT] has the largest id as in OpenCLIP (pooling may use argmax or equality).
// The list is frozen: appending words changes the ids of [SOT] and [EOT], so a checkpoint
// trained with one vocabulary needs the same one.

const WORDS = [
  // function words of the captions ("an orange star moving up on a black and grey background")
  'a', 'an', 'on', 'and', 'background',
  // shapes
  'circle', 'square', 'triangle', 'diamond', 'star', 'cross', 'hexagon',
  // shape colours
  'red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'pink',
  // background colours ('dark blue', 'dark green' are two words)
  'black', 'white', 'grey', 'dark', 'brown', 'beige',
  // motions ('moving left', 'staying still')
  'moving', 'left', 'right', 'up', 'down', 'growing', 'shrinking', 'staying', 'still',
  // other prompt words
  'the', 'of', 'in', 'with', 'over', 'is', 'shape', 'video', 'slowly', 'quickly', 'bright', 'light', 'small', 'big',
] as const;

export const PAD = '[PAD]';
export const UNK = '[UNK]';
export const SOT = '[SOT]';
export const EOT = '[EOT]';

/** Every token in id order. */
export const TINY_VOCABULARY: readonly string[] = [PAD, UNK, ...WORDS, SOT, EOT];
export const TINY_VOCAB_SIZE = TINY_VOCABULARY.length;
export const PAD_ID = 0;
export const UNK_ID = 1;
export const SOT_ID = TINY_VOCAB_SIZE - 2;
export const EOT_ID = TINY_VOCAB_SIZE - 1;

const ids = new Map<string, number>(TINY_VOCABULARY.map((w, i) => [w, i]));
/** Spelling variants folded onto vocabulary words. */
const ALIASES: Record<string, string> = { gray: 'grey', colour: 'shape', color: 'shape' };

/** Lower-cased words of `text` (letters only; punctuation and digits separate words). */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w.length > 0)
    .map((w) => ALIASES[w] ?? w);
}

/** [SOT] words... [EOT] [PAD]...: exactly `contextLength` ids; long texts keep their first words. */
export function tokenize(text: string, contextLength: number): BigInt64Array {
  if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`tokenize: the context length must be an integer >= 2, got ${contextLength}`);
  const body = words(text).map((w) => ids.get(w) ?? UNK_ID).slice(0, contextLength - 2);
  const out = new BigInt64Array(contextLength); // zeros = [PAD]
  out[0] = BigInt(SOT_ID);
  body.forEach((id, i) => (out[i + 1] = BigInt(id)));
  out[body.length + 1] = BigInt(EOT_ID);
  return out;
}

/** Several texts as one [N, contextLength] row-major array. */
export function tokenizeBatch(texts: readonly string[], contextLength: number): BigInt64Array {
  const out = new BigInt64Array(texts.length * contextLength);
  texts.forEach((t, i) => out.set(tokenize(t, contextLength), i * contextLength));
  return out;
}

/** The words back (special tokens dropped, unknown words as [UNK]). */
export function detokenize(tokens: ArrayLike<bigint | number>): string {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const id = Number(tokens[i]);
    if (id === EOT_ID) break;
    if (id === SOT_ID || id === PAD_ID) continue;
    out.push(TINY_VOCABULARY[id] ?? UNK);
  }
  return out.join(' ');
}

/** Words of `text` outside the vocabulary (they become [UNK]). */
export function unknownWords(text: string): string[] {
  return words(text).filter((w) => !ids.has(w));
}
