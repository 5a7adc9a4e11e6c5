// A small CLIP BPE vocabulary in the three file layouts vplc reads (the real files cannot be
// downloaded in tests): open_clip's bpe_simple_vocab text (header + merges), Hugging Face's
// vocab.json + merges.txt, and a tokenizer.json in the layout transformers' CLIPConverter writes.
import { byteCharacters, CLIP_PRETOKENIZE_PATTERN } from '../../stdlib/models/clip/bpe-tokenizer.ts';

/** Merges in rank order: whole words for the test sentences, plus contractions. */
export const FIXTURE_MERGES = [
  'h e', 'l l', 'he ll', 'hell o</w>', 'hell o',
  'w o', 'r l', 'wo rl', 'worl d</w>',
  "' s</w>", "' t</w>", 'r e</w>', "' re</w>",
  'a n', 'an d</w>', 'c a', 'ca t</w>', 'd o', 'do g</w>', 'o n', 'do n',
  'r u', 'n n', 'ru nn', 'runn i', 'runni n', 'runnin g</w>',
];

/** open_clip's layout: 256 byte characters, the same + '</w>', the merges, start, end. */
export function fixtureVocab(merges: readonly string[] = FIXTURE_MERGES): Record<string, number> {
  const bytes = byteCharacters().vocabOrder;
  const tokens = [...bytes, ...bytes.map((c) => c + '</w>'), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'];
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  return vocab;
}

/** bpe_simple_vocab_16e6.txt's layout: a header line, then one merge per line. */
export function fixtureOpenClipText(merges: readonly string[] = FIXTURE_MERGES): string {
  return ['"bpe_simple_vocab_16e6.txt#version: 0.2', ...merges].join('\n') + '\n';
}

export function fixtureMergesTxt(merges: readonly string[] = FIXTURE_MERGES): string {
  return ['#version: 0.2', ...merges].join('\n') + '\n';
}

/** A Hugging Face CLIP tokenizer.json (normalizer, pre-tokenizer, post-processor as CLIPConverter's). */
export function fixtureTokenizerJson(merges: readonly string[] = FIXTURE_MERGES, extra: Record<string, unknown> = {}): string {
  const vocab = fixtureVocab(merges);
  const sot = vocab['<|startoftext|>']!;
  const eot = vocab['<|endoftext|>']!;
  const added = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(sot, '<|startoftext|>'), added(eot, '<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_PRETOKENIZE_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', eot], cls: ['<|startoftext|>', sot], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, vocab, merges },
    ...extra,
  });
}

/**
 * `count` merges whose joined strings are all distinct and new (not byte characters), for the
 * id arithmetic of a full-size vocabulary: 'q<n>' + 'z', n in base 10 with the digits spelled
 * as letters so every half is one pre-token's worth of characters.
 */
export function fillerMerges(count: number, start = 0): string[] {
  const out: string[] = [];
  for (let i = start; i < start + count; i++) out.push(`q${i.toString(10).replace(/\d/g, (d) => 'abcdefghij'[Number(d)]!)} z`);
  return out;
}

/**
 * open_clip's bpe() as its source describes it, written plainly for cross-checking: the word's
 * characters with '</w>' on the last, then repeatedly the lowest-ranked adjacent pair merged
 * everywhere (left to right) until no pair is a merge.
 */
export function referenceBpe(word: string, ranks: Map<string, number>): string[] {
  let symbols = Array.from(word);
  symbols[symbols.length - 1] += '</w>';
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return symbols;
    const first = symbols[best]!;
    const second = symbols[best + 1]!;
    const next: string[] = [];
    for (let i = 0; i < symbols.length; ) {
      if (i + 1 < symbols.length && symbols[i] === first && symbols[i + 1] === second) {
        next.push(first + second);
        i += 2;
      } else {
        next.push(symbols[i]!);
        i += 1;
      }
    }
    symbols = next;
  }
}

/** Simple BPE training on `words` (counts pairs, merges the most frequent) for `n` merges. */
export function trainMerges(words: readonly string[], n: number): string[] {
  let corpus = words.map((w) => {
    const s = Array.from(w);
    s[s.length - 1] += '</w>';
    return s;
  });
  const merges: string[] = [];
  for (let k = 0; k < n; k++) {
    const counts = new Map<string, number>();
    for (const s of corpus) for (let i = 0; i + 1 < s.length; i++) counts.set(`${s[i]} ${s[i + 1]}`, (counts.get(`${s[i]} ${s[i + 1]}`) ?? 0) + 1);
    let best = '';
    let bestCount = 0;
    for (const [pair, c] of counts) if (c > bestCount || (c === bestCount && pair < best)) [best, bestCount] = [pair, c];
    if (bestCount < 2) break;
    merges.push(best);
    const [a, b] = best.split(' ') as [string, string];
    corpus = corpus.map((s) => {
      const out: string[] = [];
      for (let i = 0; i < s.length; ) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i += 2;
        } else out.push(s[i++]!);
      }
      return out;
    });
  }
  return merges;
}
