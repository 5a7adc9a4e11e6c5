// What the text side of a pipeline needs from a tokenizer: prompts in, int64 token ids out,
// `[N, contextLength]` row-major, the layout of the `tokens` input of the `text_encode` graph.
// Both the tiny world's word tokenizer (tiny-tokenizer.ts) and CLIP's byte-level BPE
// (bpe-tokenizer.ts) have this shape.
import * as tiny from './tiny-tokenizer.ts';

export interface TextTokenizer {
  /** Number of embedding rows the ids index (the text tower's vocab_size). */
  readonly vocabSize: number;
  readonly sotId: number;
  /** The id pooled for text_embed (CLIP: argmax over ids = the end token). */
  readonly eotId: number;
  readonly padId: number;
  /** The context length used when a call does not give one. */
  readonly contextLength: number;
  /** [SOT] ids... [EOT] [PAD]...: exactly `contextLength` ids. */
  tokenize(text: string, contextLength?: number): BigInt64Array;
  /** Several texts as one [N, contextLength] row-major array. */
  tokenizeBatch(texts: readonly string[], contextLength?: number): BigInt64Array;
  /** The text back, special tokens and padding dropped. */
  detokenize(tokens: ArrayLike<bigint | number>): string;
  /** Words the tokenizer cannot represent (always none for byte-level BPE). */
  unknownWords(text: string): string[];
}

/** The tiny world's tokenizer behind the same interface (its context length is tinyClipConfig's, 16). */
export const tinyTextTokenizer: TextTokenizer = {
  vocabSize: tiny.TINY_VOCAB_SIZE,
  sotId: tiny.SOT_ID,
  eotId: tiny.EOT_ID,
  padId: tiny.PAD_ID,
  contextLength: 16,
  tokenize: (text, contextLength = 16) => tiny.tokenize(text, contextLength),
  tokenizeBatch: (texts, contextLength = 16) => tiny.tokenizeBatch(texts, contextLength),
  detokenize: (tokens) => tiny.detokenize(tokens),
  unknownWords: (text) => tiny.unknownWords(text),
};
