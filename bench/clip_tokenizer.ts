// CLIP BPE tokenizer: speed of tokenizing prompts and memory of a full-size (49,408-id)
// vocabulary, for stdlib/models/clip/bpe-tokenizer.ts (@huggingface/tokenizers underneath)
// against a plain transcription of open_clip's algorithm (test/helpers/clip-bpe-fixture.ts
// `referenceBpe`, with open_clip's per-word cache), the only hand-written BPE in the repo.
//
//   node --expose-gc --import tsx bench/clip_tokenizer.ts [--prompts 1000] [--rounds 5]
//
// The real merges file cannot be downloaded here, so the 48,894 merges are built from English
// text (the Markdown files under node_modules): words by frequency, each spelled out by
// left-to-right merges ('r u', 'ru n', 'run </w>'...) until 48,894 merges exist. Common words
// are then one token and rare ones split, as with the real vocabulary; the merge chains are
// longer than real BPE's (which shares sub-words), so BPE work per word is if anything higher.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { byteCharacters, CLIP_PRETOKENIZE_PATTERN, createClipTokenizer, OPEN_CLIP_MERGES } from '../stdlib/models/clip/bpe-tokenizer.ts';
import { cleanText } from '../stdlib/models/clip/text-clean.ts';
import { fixtureOpenClipText, fixtureTokenizerJson, referenceBpe } from '../test/helpers/clip-bpe-fixture.ts';
import { median } from './common.ts';

const { values } = parseArgs({ options: { prompts: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const PROMPTS = Number(values.prompts);
const ROUNDS = Number(values.rounds);

function markdownText(dir: string, out: string[] = [], budget = { bytes: 6_000_000 }): string[] {
  for (const name of readdirSync(dir)) {
    if (budget.bytes <= 0) break;
    const full = path.join(dir, name);
    const st = statSync(full, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) markdownText(full, out, budget);
    else if (name.endsWith('.md')) {
      const t = readFileSync(full, 'utf8');
      out.push(t);
      budget.bytes -= t.length;
    }
  }
  return out;
}

const text = markdownText(path.resolve(import.meta.dirname, '..', 'node_modules')).join('\n');
const words = cleanText(text).match(/\p{L}+/gu) ?? [];
const freq = new Map<string, number>();
for (const w of words) freq.set(w, (freq.get(w) ?? 0) + 1);
const byFreq = [...freq].sort((a, b) => b[1] - a[1]).map(([w]) => w);

// merges spelling out words left to right, most frequent words first
const byteOf = byteCharacters().charOf;
const enc = new TextEncoder();
const toByteChars = (s: string) => Array.from(enc.encode(s), (b) => byteOf[b]!);
const mergeSet = new Set<string>();
const merges: string[] = [];
outer: for (const w of byFreq) {
  const symbols = toByteChars(w);
  symbols[symbols.length - 1] += '</w>';
  let acc = symbols[0]!;
  for (let i = 1; i < symbols.length; i++) {
    const m = `${acc} ${symbols[i]}`;
    if (!mergeSet.has(m)) {
      mergeSet.add(m);
      merges.push(m);
      if (merges.length === OPEN_CLIP_MERGES) break outer;
    }
    acc += symbols[i];
  }
}
// ranks: shorter merges first, as BPE training produces them (a merge's halves exist before it)
merges.sort((a, b) => a.length - b.length);

// prompts: 8-24 words drawn from the corpus, seeded; plus punctuation and digits
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const prompts = Array.from({ length: PROMPTS }, () => {
  const n = 8 + Math.floor(rand() * 17);
  const ws = Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!);
  return `A ${ws.join(' ')}, ${Math.floor(rand() * 100)} fps!`;
});

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function measure<T>(label: string, build: () => T): T {
  globalThis.gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const value = build();
  const ms = performance.now() - t0;
  globalThis.gc?.();
  const after = process.memoryUsage();
  console.log(`${label}: build ${ms.toFixed(0)} ms, heap +${mib(after.heapUsed - before.heapUsed)}, rss +${mib(after.rss - before.rss)}`);
  return value;
}

console.log(`corpus ${words.length} words, ${byFreq.length} distinct; ${merges.length} merges; ${PROMPTS} prompts, ${prompts.reduce((a, p) => a + p.length, 0)} chars`);
if (!globalThis.gc) console.log('(run with node --expose-gc for the memory numbers)');

const bpeText = fixtureOpenClipText(merges);
const jsonText = fixtureTokenizerJson(merges);
console.log(`bpe_simple_vocab text ${mib(bpeText.length)}, tokenizer.json ${mib(jsonText.length)}`);
const lib = measure('library, open_clip merges', () => createClipTokenizer({ format: 'open_clip', mergesTxt: bpeText }));
const libJson = measure('library, tokenizer.json', () => createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: jsonText }, { pad: 'zero' }));
console.log(`ids: start ${lib.sotId}, end ${lib.eotId}, vocab ${lib.vocabSize}`);

// the hand-written baseline: open_clip's pipeline with referenceBpe and a per-word cache
const reference = measure('hand-written, open_clip merges', () => {
  const ranks = new Map(merges.map((m, i) => [m, i]));
  const ids = new Map<string, number>();
  const vocabOrder = byteCharacters().vocabOrder;
  [...vocabOrder, ...vocabOrder.map((c) => c + '</w>'), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'].forEach((t, i) => ids.set(t, i));
  return { ranks, ids, cache: new Map<string, number[]>() };
});
const pattern = new RegExp(CLIP_PRETOKENIZE_PATTERN, 'gu');
function referenceTokenize(prompt: string): BigInt64Array {
  const out = new BigInt64Array(77);
  const body: number[] = [];
  for (const piece of cleanText(prompt).match(pattern) ?? []) {
    const token = toByteChars(piece).join('');
    let hit = reference.cache.get(token);
    if (!hit) {
      hit = referenceBpe(token, reference.ranks).map((s) => reference.ids.get(s)!);
      reference.cache.set(token, hit);
    }
    body.push(...hit);
  }
  const n = Math.min(body.length, 75);
  out[0] = 49406n;
  for (let i = 0; i < n; i++) out[i + 1] = BigInt(body[i]!);
  out[n + 1] = 49407n;
  return out;
}

// the same ids (the tokenizer.json one padded with 0 like open_clip for the comparison)
let same = 0;
for (const p of prompts) {
  const a = lib.tokenize(p);
  const b = referenceTokenize(p);
  const c = libJson.tokenize(p);
  if (a.every((x, i) => x === b[i] && x === c[i])) same++;
}
console.log(`identical rows (library open_clip / library tokenizer.json / hand-written): ${same} of ${prompts.length}`);

function time(label: string, cold: () => void, run: () => void): void {
  const colds: number[] = [];
  const warms: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    cold();
    let t0 = performance.now();
    run();
    colds.push(performance.now() - t0);
    t0 = performance.now();
    run();
    warms.push(performance.now() - t0);
  }
  console.log(`${label}: ${prompts.length} prompts, cold word cache ${median(colds).toFixed(1)} ms, warm ${median(warms).toFixed(1)} ms (median of ${ROUNDS})`);
}

const libModel = (lib as unknown as { tokenizer: { model: { clear_cache(): void } } }).tokenizer.model;
time('library tokenizeBatch', () => libModel.clear_cache(), () => void lib.tokenizeBatch(prompts));
time('hand-written', () => reference.cache.clear(), () => void prompts.map(referenceTokenize));
time('cleanText alone', () => {}, () => void prompts.map((p) => cleanText(p)));
