// Which Kinetics class a prompt names, for the actpred reward. VADER looks the prompt up in the
// classifier's label2id and otherwise maps a few object words to classes by hand
// (mihirp1998/VADER Core/actpred_scorer.py get_target_class_idx: 'guitar' ->
// 'playing guitar', ...); here the class is the label the prompt contains, so any of the
// config.json's id2label names works without a table:
//
// - case-insensitive, on whole words (letters, digits, inner apostrophes; other characters such
//   as the parentheses of "passing American football (in game)" only separate words);
// - the longest label wins (most words, then most characters): "a man playing guitar" names
//   "playing guitar", not a shorter "playing" class inside it;
// - between labels as long, the one the prompt names first, then the lower id.
// A prompt that names no label gives undefined; the runtime turns that into an error naming it.

export interface PromptClass {
  id: number;
  label: string;
}

/** Class names by id: config.json's id2label object, or a list. */
export type Id2Label = readonly string[] | Readonly<Record<string, string>>;

/** The lower-case words of `text` ("Person's" -> "person's"; curly apostrophes as straight ones). */
export function labelWords(text: string): string[] {
  return text.toLowerCase().replace(/\u2019/g, "'").match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];
}

/** Where `needle` first occurs as consecutive words of `words` (-1: nowhere). */
function firstRun(words: readonly string[], needle: readonly string[]): number {
  for (let i = 0; i + needle.length <= words.length; i++) {
    if (needle.every((w, j) => words[i + j] === w)) return i;
  }
  return -1;
}

/** The class `prompt` names among `id2label`'s, or undefined when it names none. */
export function classOfPrompt(prompt: string, id2label: Id2Label): PromptClass | undefined {
  const words = labelWords(prompt);
  let best: (PromptClass & { words: number; chars: number; at: number }) | undefined;
  for (const [key, label] of Object.entries(id2label)) {
    const id = Number(key);
    if (typeof label !== 'string' || !Number.isInteger(id)) continue;
    const needle = labelWords(label);
    if (needle.length === 0) continue;
    const at = firstRun(words, needle);
    if (at < 0) continue;
    const candidate = { id, label, words: needle.length, chars: needle.join(' ').length, at };
    if (!best || better(candidate, best)) best = candidate;
  }
  return best ? { id: best.id, label: best.label } : undefined;
}

type Ranked = { id: number; words: number; chars: number; at: number };

function better(a: Ranked, b: Ranked): boolean {
  if (a.words !== b.words) return a.words > b.words;
  if (a.chars !== b.chars) return a.chars > b.chars;
  if (a.at !== b.at) return a.at < b.at;
  return a.id < b.id;
}
