// "a" or "an" before an English word, by its sound rather than its first letter:
// "an owl", "an hour", "a unicorn", "a one-man band", "an X-ray", "a eulogy".
//
// The rules cover the words vplc's prompt lists use and the common exceptions; they are
// heuristics, not a pronouncing dictionary. Exceptions are matched on word beginnings.

/** Words that start with a vowel letter but a consonant sound ("a unicorn", "a European"). */
const CONSONANT_SOUND = [
  'uni', 'use', 'usu', 'uti', 'ura', 'ure', 'uro', 'eu', 'ewe', 'one', 'once', 'ouija', 'ukulele', 'ukrain', 'uganda', 'utopia', 'unanim',
];
/** Words that start with 'h' or another consonant letter but a vowel sound ("an hour", "an honest"). */
const VOWEL_SOUND = ['hour', 'honest', 'honou', 'honor', 'heir'];
/** Prefixes of "uni-" words that are pronounced "un-" ("an uninvited guest", "an unidentified"). */
const UN_PREFIXES = ['unin', 'unid', 'unim'];

/** "a" or "an" for `word` (its first word is what counts). */
export function indefiniteArticle(word: string): 'a' | 'an' {
  const first = word.trim().split(/[\s-]/)[0] ?? '';
  const lower = first.toLowerCase();
  if (lower === '') return 'a';
  // Letters read out one by one (acronyms, "X-ray"): "an FBI agent", "an X-ray", "a UFO".
  if (first.length > 1 && first === first.toUpperCase() && /^[A-Z]+$/.test(first)) return /^[AEFHILMNORSX]/.test(first) ? 'an' : 'a';
  if (/^x-/i.test(word.trim())) return 'an';
  if (/^[0-9]/.test(lower)) return /^(8|11|18)/.test(lower) ? 'an' : 'a';
  if (UN_PREFIXES.some((p) => lower.startsWith(p))) return 'an';
  if (CONSONANT_SOUND.some((p) => lower.startsWith(p))) return 'a';
  if (VOWEL_SOUND.some((p) => lower.startsWith(p))) return 'an';
  return /^[aeiou]/.test(lower) ? 'an' : 'a';
}

/** `phrase` with its indefinite article in front: "owl" -> "an owl". */
export function withArticle(phrase: string): string {
  return `${indefiniteArticle(phrase)} ${phrase}`;
}
