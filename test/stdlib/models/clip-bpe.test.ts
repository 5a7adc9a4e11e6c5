// CLIP byte-level BPE (stdlib/models/clip/bpe-tokenizer.ts) on small vocabularies built in the
// test: the facts of open_clip's / OpenAI CLIP's / Hugging Face's CLIP tokenizers, the same ids
// from all three file layouts, the full-size id arithmetic, and the BPE library against
// open_clip's merge loop.
import { describe, expect, it } from 'vitest';
import {
  byteCharacters,
  ClipTokenizerFormatError,
  createClipTokenizer,
  OPEN_CLIP_MERGES,
  openClipVocabulary,
  parseMergesTxt,
  type ClipBpeTokenizer,
  type ClipTokenizerOptions,
} from '../../../stdlib/models/clip/bpe-tokenizer.ts';
import { basicClean, cleanText, ftfyLite, whitespaceClean } from '../../../stdlib/models/clip/text-clean.ts';
import { tinyTextTokenizer } from '../../../stdlib/models/clip/text-tokenizer.ts';
import * as tiny from '../../../stdlib/models/clip/tiny-tokenizer.ts';
import {
  FIXTURE_MERGES,
  fillerMerges,
  fixtureMergesTxt,
  fixtureOpenClipText,
  fixtureTokenizerJson,
  fixtureVocab,
  referenceBpe,
  trainMerges,
} from '../../helpers/clip-bpe-fixture.ts';

const vocab = fixtureVocab();
const SIZE = Object.keys(vocab).length; // 512 + merges + 2
const id = (token: string) => {
  const i = vocab[token];
  if (i === undefined) throw new Error(`no ${token}`);
  return i;
};

function all(options: ClipTokenizerOptions = {}): Record<string, ClipBpeTokenizer> {
  return {
    open_clip: createClipTokenizer({ format: 'open_clip', mergesTxt: fixtureOpenClipText() }, options),
    'vocab+merges': createClipTokenizer({ format: 'vocab+merges', vocabJson: JSON.stringify(vocab), mergesTxt: fixtureMergesTxt() }, options),
    'tokenizer.json': createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: fixtureTokenizerJson() }, options),
  };
}
const tokenizers = all();
const openClip = tokenizers.open_clip!;

describe('byte characters (bytes_to_unicode)', () => {
  it('maps the 256 bytes to 256 distinct printable characters, printable Latin-1 to itself', () => {
    const { charOf, byteOf, vocabOrder } = byteCharacters();
    expect(new Set(charOf).size).toBe(256);
    expect(charOf[0x41]).toBe('A');
    expect(charOf[0x20]).toBe('\u0120'); // space -> 'Ġ'
    expect(charOf[0x00]).toBe('\u0100');
    expect(charOf[0xad]).toBe('\u0143'); // soft hyphen, the last non-printable byte
    expect(byteOf.get('\u0120')).toBe(0x20);
    // vocabulary order: the printable ones first ('!' is id 0), then the others in byte order
    expect(vocabOrder[0]).toBe('!');
    expect(vocabOrder[187]).toBe('\u00ff');
    expect(vocabOrder[188]).toBe('\u0100');
    expect(vocabOrder.length).toBe(256);
  });
});

describe('the vocabulary layout and the special ids', () => {
  it('gives the start and end tokens the last two ids of the vocabulary (here 512 + merges)', () => {
    for (const [name, t] of Object.entries(tokenizers)) {
      expect([name, t.vocabSize, t.sotId, t.eotId]).toEqual([name, SIZE, SIZE - 2, SIZE - 1]);
      expect(t.tokenToId('<|startoftext|>')).toBe(SIZE - 2);
      expect(t.tokenToId('<|endoftext|>')).toBe(SIZE - 1);
    }
    expect(SIZE).toBe(512 + FIXTURE_MERGES.length + 2);
  });

  it('gives 49406 / 49407 and 49408 ids for open_clip\'s 48,894 merges, reading no more than those', () => {
    expect(OPEN_CLIP_MERGES).toBe(48894);
    // the real merges first, filler up to 48,894, then lines open_clip never reads
    const merges = [...FIXTURE_MERGES, ...fillerMerges(OPEN_CLIP_MERGES - FIXTURE_MERGES.length), 'w o', 'wo r'];
    const text = fixtureOpenClipText(merges);
    const layout = openClipVocabulary(text);
    expect(layout.merges.length).toBe(48894);
    expect(layout.vocab.length).toBe(49408);
    const t = createClipTokenizer({ format: 'open_clip', mergesTxt: text });
    expect([t.sotId, t.eotId, t.vocabSize, t.padId]).toEqual([49406, 49407, 49408, 0]);
    // the merge on line k of the file (k >= 1 after the header) is id 511 + k
    expect(t.tokenToId('hello</w>')).toBe(512 + FIXTURE_MERGES.indexOf('hell o</w>'));
    expect(t.tokenToId('qaz')).toBe(512 + FIXTURE_MERGES.length); // the first filler: 'qa' + 'z'
    const row = t.tokenize('Hello world');
    expect(Array.from(row.slice(0, 4), Number)).toEqual([49406, 512 + FIXTURE_MERGES.indexOf('hell o</w>'), 512 + FIXTURE_MERGES.indexOf('worl d</w>'), 49407]);
    // the same ids as a Hugging Face vocab.json + merges.txt of that vocabulary
    const hf = createClipTokenizer({ format: 'vocab+merges', vocabJson: JSON.stringify(fixtureVocab(layout.merges)), mergesTxt: fixtureMergesTxt(layout.merges) });
    expect([hf.sotId, hf.eotId, hf.vocabSize]).toEqual([49406, 49407, 49408]);
    expect(Array.from(hf.tokenize('Hello world'))).toEqual(Array.from(row.map((x) => (x === 0n ? 49407n : x))));
  });
});

describe('clean-up', () => {
  it('lower-cases, collapses whitespace and strips', () => {
    expect(cleanText('  A  Red\tCat\n\n on   Grass  ')).toBe('a red cat on grass');
    expect(cleanText('A\u00a0B\u3000C\u2028D')).toBe('a b c d');
    expect(cleanText('Keep Case', 'whitespace')).toBe('Keep Case');
    expect(cleanText('  Raw  ', 'none')).toBe('  Raw  ');
    expect(whitespaceClean(' a \r\n b ')).toBe('a b');
    for (const t of Object.values(tokenizers)) expect(Array.from(t.tokenize('  HELLO \n\t World  '))).toEqual(Array.from(t.tokenize('hello world')));
  });

  it('unescapes HTML twice, as Python html.unescape does', () => {
    // Python: html.unescape(html.unescape(x)) for each (checked against CPython 3.11)
    expect(basicClean('Tom &amp;amp; Jerry')).toBe('Tom & Jerry');
    expect(basicClean('&lt;3 &quot;x&quot; &#39;y&#39; &#x80; &ampx &frac12')).toBe('<3 "x" \'y\' \u20ac &x \u00bd');
    expect(basicClean('a&b')).toBe('a&b');
  });

  it('does the ftfy fixes prompts meet: quotes, ligatures, width, control characters, NFC', () => {
    expect(ftfyLite('it\u2019s \u201cfine\u201d')).toBe('it\'s "fine"');
    expect(ftfyLite('\ufb01sh \ufb02ow')).toBe('fish flow');
    expect(ftfyLite('\uff28\uff25\uff2c\uff2c\uff2f\uff01')).toBe('HELLO!');
    expect(ftfyLite('a\u0000b\u007fc\ufeffd\x1b[31me')).toBe('abcde');
    expect(ftfyLite('e\u0301')).toBe('\u00e9');
    expect(Array.from(openClip.tokenize('It\u2019S')).slice(0, 5)).toEqual(Array.from(openClip.tokenize("it's")).slice(0, 5));
  });
});

describe('pre-tokenisation and BPE', () => {
  it('appends </w> to the last symbol of each word', () => {
    for (const t of Object.values(tokenizers)) {
      expect(t.tokens('hello world')).toEqual(['hello</w>', 'world</w>']);
      expect(t.tokens('hellos')).toEqual(['hello', 's</w>']);
      expect(t.tokens('x')).toEqual(['x</w>']);
    }
  });

  it("splits contractions ('s 't 're ...), letter runs, single digits and other runs; drops whitespace", () => {
    for (const t of Object.values(tokenizers)) {
      expect(t.tokens("it's")).toEqual(['i', 't</w>', "'s</w>"]);
      // 'don' ends a word, so its last symbol is 'n</w>' and the merge 'do n' does not apply
      expect(t.tokens("don't")).toEqual(['do', 'n</w>', "'t</w>"]);
      expect(t.tokens("they're")).toEqual(['t', 'he', 'y</w>', "'re</w>"]);
      expect(t.tokens('2024')).toEqual(['2</w>', '0</w>', '2</w>', '4</w>']);
      expect(t.tokens('cat!!?')).toEqual(['cat</w>', '!', '!', '?</w>']);
      expect(t.tokens('a,b')).toEqual(['a</w>', ',</w>', 'b</w>']);
      expect(t.tokens('dog3cat')).toEqual(['dog</w>', '3</w>', 'cat</w>']);
      // non-ASCII letters go through their UTF-8 bytes: 'é' = C3 A9 -> 'Ã' '©'
      expect(t.tokens('caf\u00e9')).toEqual(['ca', 'f', '\u00c3', '\u00a9</w>']);
    }
  });

  it('gives the same ids from the three file layouts', () => {
    const prompts = ['Hello World', "It's a dog, and a cat running on 2 hellos!", 'caf\u00e9 \u2764\ufe0f \u732b', ''];
    for (const p of prompts) {
      const ref = Array.from(openClip.encode(p));
      for (const t of Object.values(tokenizers)) expect(Array.from(t.encode(p))).toEqual(ref);
    }
    expect(openClip.encode('hello and world')).toEqual([id('hello</w>'), id('and</w>'), id('world</w>')]);
  });

  it('reads a literal special token in the text as that token (as open_clip and Hugging Face do)', () => {
    expect(openClip.encode('dog <|endoftext|> cat')).toEqual([id('dog</w>'), SIZE - 1, id('cat</w>')]);
  });

  it("merges as open_clip's bpe() does, on words of a vocabulary trained in the test", () => {
    // a corpus of random words over a few letters, BPE-trained, then random words tokenized
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const letters = 'abcdeor';
    const word = (max: number) => Array.from({ length: 1 + Math.floor(rand() * max) }, () => letters[Math.floor(rand() * letters.length)]).join('');
    const corpus = Array.from({ length: 400 }, () => word(7));
    const merges = trainMerges(corpus, 120);
    expect(merges.length).toBeGreaterThan(60);
    const ranks = new Map(merges.map((m, i) => [m, i]));
    const t = createClipTokenizer({ format: 'open_clip', mergesTxt: fixtureOpenClipText(merges) });
    for (let k = 0; k < 500; k++) {
      const w = word(12);
      expect(t.tokens(w)).toEqual(referenceBpe(w, ranks));
    }
    // repeated pairs: 'aaaa' merges left to right
    const aa = createClipTokenizer({ format: 'open_clip', mergesTxt: fixtureOpenClipText(['a a', 'aa a', 'a a</w>']) });
    expect(aa.tokens('aaaaa')).toEqual(referenceBpe('aaaaa', new Map([['a a', 0], ['aa a', 1], ['a a</w>', 2]])));
  });
});

describe('rows of context_length ids', () => {
  it('is [start] ids [end] then padding, 77 ids by default', () => {
    const row = openClip.tokenize('hello world');
    expect(row).toBeInstanceOf(BigInt64Array);
    expect(row.length).toBe(77);
    expect(Array.from(row.slice(0, 5), Number)).toEqual([SIZE - 2, id('hello</w>'), id('world</w>'), SIZE - 1, 0]);
    expect(openClip.tokenize('').slice(0, 3)).toEqual(new BigInt64Array([BigInt(SIZE - 2), BigInt(SIZE - 1), 0n]));
  });

  it('truncates long texts to 77 with the end token kept last', () => {
    const long = Array.from({ length: 100 }, () => 'dog').join(' ');
    for (const t of Object.values(tokenizers)) {
      const row = t.tokenize(long);
      expect(row.length).toBe(77);
      expect(Number(row[0])).toBe(t.sotId);
      expect(Number(row[76])).toBe(t.eotId);
      expect(Array.from(row.slice(1, 76), Number).every((x) => x === id('dog</w>'))).toBe(true);
    }
    // 75 body tokens fit exactly; 76 lose the last one to the end token
    const fit = openClip.tokenize(Array(75).fill('cat').join(' '));
    expect([Number(fit[75]), Number(fit[76])]).toEqual([id('cat</w>'), SIZE - 1]);
    const over = openClip.tokenize(Array(75).fill('cat').join(' ') + ' dog');
    expect([Number(over[75]), Number(over[76])]).toEqual([id('cat</w>'), SIZE - 1]);
    expect(openClip.tokenize('hello world', 3)).toEqual(new BigInt64Array([BigInt(SIZE - 2), BigInt(id('hello</w>')), BigInt(SIZE - 1)]));
    expect(() => openClip.tokenize('x', 1)).toThrow(/context length/);
  });

  it('pads with 0 for open_clip and with the pad token (default the end token) for Hugging Face files', () => {
    expect(openClip.padId).toBe(0);
    expect(tokenizers['vocab+merges']!.padId).toBe(SIZE - 1);
    expect(tokenizers['tokenizer.json']!.padId).toBe(SIZE - 1);
    const row = tokenizers['tokenizer.json']!.tokenize('hello');
    expect(Array.from(row.slice(2), Number).every((x) => x === SIZE - 1)).toBe(true);
    // tokenizer_config.json's pad_token '!' (id 0), as in folders converted from OpenCLIP models
    const config = JSON.stringify({ pad_token: { __type: 'AddedToken', content: '!' }, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' });
    const bang = createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: fixtureTokenizerJson(), tokenizerConfig: config });
    expect(bang.padId).toBe(0);
    const map = createClipTokenizer({ format: 'vocab+merges', vocabJson: JSON.stringify(vocab), mergesTxt: fixtureMergesTxt(), specialTokensMap: JSON.stringify({ pad_token: '!' }) });
    expect(map.padId).toBe(0);
    // the option wins over the files
    expect(createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: fixtureTokenizerJson(), tokenizerConfig: config }, { pad: 'eot' }).padId).toBe(SIZE - 1);
    expect(createClipTokenizer({ format: 'open_clip', mergesTxt: fixtureOpenClipText() }, { pad: 'eot' }).padId).toBe(SIZE - 1);
    expect(createClipTokenizer({ format: 'open_clip', mergesTxt: fixtureOpenClipText() }, { pad: 'hello</w>' }).padId).toBe(id('hello</w>'));
  });

  it('lays batches out as [N, contextLength]', () => {
    const batch = openClip.tokenizeBatch(['hello', 'dog cat', ''], 8);
    expect(batch.length).toBe(24);
    expect(batch.slice(8, 16)).toEqual(openClip.tokenize('dog cat', 8));
    expect(batch.slice(16, 24)).toEqual(openClip.tokenize('', 8));
  });

  it('decodes back to the cleaned text, stopping at the end token (0 is "!", not padding)', () => {
    for (const t of Object.values(tokenizers)) {
      expect(t.detokenize(t.tokenize("Hello  World, it's a DOG!"))).toBe("hello world , it 's a dog !");
      expect(t.detokenize(t.tokenize('caf\u00e9'))).toBe('caf\u00e9');
      expect(t.detokenize(t.tokenize(''))).toBe('');
    }
  });

  it('knows every word (byte-level)', () => {
    expect(openClip.unknownWords('zebra qux \u732b')).toEqual([]);
  });
});

describe('bad file contents', () => {
  const fails = (f: () => unknown, part: string, message: RegExp) => {
    try {
      f();
    } catch (error) {
      expect(error).toBeInstanceOf(ClipTokenizerFormatError);
      expect((error as ClipTokenizerFormatError).part).toBe(part);
      expect((error as Error).message).toMatch(message);
      return;
    }
    throw new Error('did not throw');
  };

  it('names the file and the problem', () => {
    fails(() => createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: '{"model": ' }), 'tokenizer.json', /not valid JSON/);
    fails(() => createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: '{"model": {"type": "WordPiece", "vocab": {}}}' }), 'tokenizer.json', /WordPiece/);
    // a GPT-2 style byte-level BPE: no '</w>'
    const gpt2 = JSON.parse(fixtureTokenizerJson());
    gpt2.model.end_of_word_suffix = null;
    fails(() => createClipTokenizer({ format: 'tokenizer.json', tokenizerJson: JSON.stringify(gpt2) }), 'tokenizer.json', /end-of-word suffix/);
    fails(() => createClipTokenizer({ format: 'open_clip', mergesTxt: 'header\na b c\n' }), 'bpe_simple_vocab', /line 2/);
    fails(() => createClipTokenizer({ format: 'open_clip', mergesTxt: '' }), 'bpe_simple_vocab', /no merges/);
    const noEnd = { ...vocab };
    delete noEnd['<|endoftext|>'];
    fails(() => createClipTokenizer({ format: 'vocab+merges', vocabJson: JSON.stringify(noEnd), mergesTxt: fixtureMergesTxt() }), 'vocab.json', /end token/);
    fails(() => createClipTokenizer({ format: 'vocab+merges', vocabJson: JSON.stringify(vocab), mergesTxt: fixtureMergesTxt(), tokenizerConfig: JSON.stringify({ pad_token: '<pad>' }) }), 'tokenizer_config.json', /pad token/);
  });

  it('reads merges.txt with or without its #version header', () => {
    expect(parseMergesTxt('#version: 0.2\na b\n\nc d\r\n')).toEqual(['a b', 'c d']);
    expect(parseMergesTxt('a b\n')).toEqual(['a b']);
  });
});

describe('the TextTokenizer interface', () => {
  it('wraps the tiny tokenizer unchanged', () => {
    expect(tinyTextTokenizer.tokenize('a red circle')).toEqual(tiny.tokenize('a red circle', 16));
    expect(tinyTextTokenizer.eotId).toBe(tiny.EOT_ID);
    expect(tinyTextTokenizer.tokenizeBatch(['a', 'b'], 4)).toEqual(tiny.tokenizeBatch(['a', 'b'], 4));
  });
});
