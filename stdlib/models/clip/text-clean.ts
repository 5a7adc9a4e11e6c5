// The text clean-up CLIP's tokenizers apply before byte-level BPE.
//
// OpenAI CLIP (`clip/simple_tokenizer.py`) and OpenCLIP (mlfoundations/open_clip
// `src/open_clip/tokenizer.py`, the default `clean='lower'`) run, in this order:
//   basic_clean:      ftfy.fix_text, then html.unescape twice, then strip;
//   whitespace_clean: every run of whitespace becomes one space, then strip;
//   lower-casing.
// Hugging Face's fast CLIP tokenizer (transformers `convert_slow_tokenizer.py`, CLIPConverter)
// has no ftfy or HTML step: its normalizer is NFC, `\s+` -> ' ', lowercase.
//
// ftfy is a Python library; `ftfyLite` does the parts of `ftfy.fix_text`'s default steps that
// change prompts people type: unescape HTML entities (only when the text has no '<', ftfy's
// `unescape_html="auto"`), remove terminal escapes, fix Latin ligatures, fix character width
// (full-width ASCII, the ideographic space, half-width katakana), uncurl quotes, unify line
// breaks, remove control characters, NFC. It does not repair mojibake (ftfy's `fix_encoding`,
// e.g. "Ã©" back to "é"), so text that went through a wrong encoding tokenizes differently
// than under OpenCLIP. html.unescape is done by the `entities` package (HTML5 named and numeric
// references, including the legacy ones without ';'), which gives the same strings as Python's
// `html.unescape` on the cases the tests pin.
import { decodeHTML } from 'entities';

/** How text is cleaned: OpenCLIP's `clean` modes 'lower' (the CLIP default) and 'whitespace', or not at all. */
export type CleanMode = 'lower' | 'whitespace' | 'none';

// ftfy `unescape_html`: '&', an optional '#', 1-24 letters or digits, ';'.
const HTML_ENTITY = /&#?[0-9A-Za-z]{1,24};/g;
// ftfy's terminal escapes: ESC [ digits/semicolons letter.
const TERMINAL_ESCAPES = /\x1b\[[0-9;]*[A-Za-z]/g;
// ftfy `fix_latin_ligatures`: the ligatures of Latin letters (NFKC spells them out).
const LATIN_LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
// ftfy `fix_character_width`: the ideographic space and the half-width/full-width forms block.
const WIDTH_FORMS = /[\u3000\uff01-\uffef]/g;
// ftfy `uncurl_quotes`.
const SINGLE_QUOTES = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_QUOTES = /[\u201c-\u201f]/g;
// ftfy `fix_line_breaks`: CRLF, CR, NEL, line and paragraph separators become '\n'.
const LINE_BREAKS = /\r\n|[\r\u0085\u2028\u2029]/g;
// ftfy `remove_control_chars`: C0 controls other than \t \n \f \r, DEL, the deprecated format
// characters U+206A-206F, the byte-order mark, the interlinear annotation characters and the
// object replacement character U+FFF9-FFFC, the musical formatting characters U+1D173-1D17A and
// the tag characters U+E0000-E007F.
const CONTROL_CHARS = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc\u{1d173}-\u{1d17a}\u{e0000}-\u{e007f}]/gu;
// Python's str.split()/strip() and the `\s` of OpenCLIP's whitespace_clean (control characters
// are gone by then, so Unicode White_Space is the same set).
const WHITESPACE_RUN = /\p{White_Space}+/gu;

/** The parts of ftfy.fix_text listed at the top of this file. */
export function ftfyLite(text: string): string {
  const unescaped = text.includes('<') ? text : text.replace(HTML_ENTITY, (entity) => decodeHTML(entity));
  return unescaped
    .replace(TERMINAL_ESCAPES, '')
    .replace(LATIN_LIGATURES, (c) => c.normalize('NFKC'))
    .replace(WIDTH_FORMS, (c) => c.normalize('NFKC'))
    .replace(SINGLE_QUOTES, "'")
    .replace(DOUBLE_QUOTES, '"')
    .replace(LINE_BREAKS, '\n')
    .replace(CONTROL_CHARS, '')
    .normalize('NFC');
}

/** Python's `str.strip()` without arguments. */
function strip(text: string): string {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** OpenCLIP's basic_clean: ftfy (the subset above), HTML unescaped twice, stripped. */
export function basicClean(text: string): string {
  return strip(decodeHTML(decodeHTML(ftfyLite(text))));
}

/** OpenCLIP's whitespace_clean: runs of whitespace become one space, stripped. */
export function whitespaceClean(text: string): string {
  return strip(text.replace(WHITESPACE_RUN, ' '));
}

/** The clean-up of `mode` (OpenCLIP's get_clean_fn; 'lower' is what CLIP and OpenCLIP use). */
export function cleanText(text: string, mode: CleanMode = 'lower'): string {
  if (mode === 'none') return text;
  const cleaned = whitespaceClean(basicClean(text));
  return mode === 'lower' ? cleaned.toLowerCase() : cleaned;
}
