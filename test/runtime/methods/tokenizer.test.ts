// The run's prompt tokenizer (runtime/methods/common/tokenizer.ts): the tiny world keeps its word
// tokenizer; real text towers get CLIP's BPE from `tokenizer = "..."` or the files next to the
// weights, padded as their model's reference pipeline pads; the text conditioning feeds its ids.
// The BPE files are the small vocabulary of test/helpers/clip-bpe-fixture.ts, in temporary
// folders laid out as users have them; the builds are the real ones with that vocabulary's size.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { checkSource } from '../../../compiler/check/index.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { TextConditioner } from '../../../runtime/methods/common/conditioning.ts';
import { type PromptTokenizer, resolvePromptTokenizer, tinyPromptTokenizer } from '../../../runtime/methods/common/tokenizer.ts';
import type { GraphSession } from '../../../runtime/session.ts';
import * as tiny from '../../../stdlib/models/clip/tiny-tokenizer.ts';
import { type ModelBuild, modelBuild, tinyFamilyBuild } from '../../../stdlib/models/registry.ts';
import { FIXTURE_MERGES, fillerMerges, fixtureMergesTxt, fixtureOpenClipText, fixtureTokenizerJson, fixtureVocab } from '../../helpers/clip-bpe-fixture.ts';

const root = mkdtempSync(path.join(tmpdir(), 'vplc-prompt-tokenizer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const vocab = fixtureVocab();
const SIZE = Object.keys(vocab).length;
const SOT = SIZE - 2;
const EOT = SIZE - 1;
const id = (token: string) => vocab[token]!;

/** A real model's build with the fixture vocabulary's size (the real one has 49,408 ids). */
function small(name: 'videocrafter2' | 'modelscope'): ModelBuild {
  const b = modelBuild(name);
  return { ...b, text: { ...b.text, text: { ...b.text.text, vocabSize: SIZE, eotToken: EOT } } };
}

function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

/** A checked plan of `model` in `dir`, with `fields` in its model block. */
function planIn(dir: string, model: string, fields = ''): Plan {
  const file = path.join(dir, 'p.vpl');
  const result = checkSource(`pipeline t\nmodel ${model} { ${fields} }\nprompts = animals\nobjective reward { reward = 1.0 * pickscore }\n`, file);
  expect(result.diagnostics).toEqual([]);
  return result.plan!;
}

async function vplError(p: Promise<unknown>): Promise<VplError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VplError);
  return error as VplError;
}

const row = (t: PromptTokenizer, prompt: string) => Array.from(t.encode([prompt]), Number);

const HF_PAD_BANG = JSON.stringify({ pad_token: '!', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' });

describe('tiny text towers', () => {
  it('get the tiny word tokenizer, with no files anywhere', async () => {
    const plan = planIn(folder('tiny', {}), 'tiny_vc');
    for (const build of [modelBuild('tiny_vc'), tinyFamilyBuild(modelBuild('videocrafter2')), tinyFamilyBuild(modelBuild('modelscope'))]) {
      const t = await resolvePromptTokenizer(plan, build, path.join(root, 'nowhere', 'model.ckpt'));
      expect(t).toBe(tinyPromptTokenizer);
    }
    expect(tinyPromptTokenizer.contextLength).toBe(16);
    const prompts = ['a red circle moving left', 'a zebra'];
    expect(tinyPromptTokenizer.encode(prompts)).toEqual(tiny.tokenizeBatch(prompts, 16));
    expect(tinyPromptTokenizer.unknown('a zebra on grey')).toEqual(['zebra']);
  });
});

describe('CLIP BPE: the pinned rules through the run tokenizer', () => {
  const dir = folder('rules', { 'model.ckpt': 'not read', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText()) });
  const load = () => resolvePromptTokenizer(planIn(dir, 'videocrafter2'), small('videocrafter2'), path.join(dir, 'model.ckpt'));

  it('gives [start] ids [end] [pad]... in 77 slots, prompts one row each', async () => {
    const t = await load();
    expect(t.contextLength).toBe(77);
    const batch = t.encode(['hello world', '']);
    expect(batch).toBeInstanceOf(BigInt64Array);
    expect(batch.length).toBe(2 * 77);
    expect(Array.from(batch.slice(0, 5), Number)).toEqual([SOT, id('hello</w>'), id('world</w>'), EOT, 0]);
    expect(Array.from(batch.slice(77, 80), Number)).toEqual([SOT, EOT, 0]);
    expect(t.unknown('zebra \u732b')).toEqual([]);
    expect(t.description).toMatch(/open_clip.*padded with 0/);
  });

  it('lower-cases and cleans whitespace, and truncates keeping the end token', async () => {
    const t = await load();
    expect(row(t, '  HELLO \n\t  World ')).toEqual(row(t, 'hello world'));
    const long = row(t, Array(100).fill('dog').join(' '));
    expect(long.length).toBe(77);
    expect([long[0], long[75], long[76]]).toEqual([SOT, id('dog</w>'), EOT]);
  });
});

describe('the pad policy is the model\'s', () => {
  const hf = folder('hf', {
    'model.ckpt': 'not read',
    'tokenizer/tokenizer.json': fixtureTokenizerJson(),
    'tokenizer/tokenizer_config.json': JSON.stringify({ pad_token: '<|endoftext|>' }),
  });
  const hfBang = folder('hf-bang', { 'text_encoder/model.safetensors': 'x', 'tokenizer/vocab.json': JSON.stringify(vocab), 'tokenizer/merges.txt': fixtureMergesTxt(), 'tokenizer/tokenizer_config.json': HF_PAD_BANG });
  const hfBare = folder('hf-bare', { 'model.safetensors': 'x', 'tokenizer.json': fixtureTokenizerJson() });
  const openClip = folder('oc', { 'model.ckpt': 'x', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText()) });
  const padOf = async (model: 'videocrafter2' | 'modelscope', weights: string) => row(await resolvePromptTokenizer(planIn(root, model), small(model), weights), 'hello').slice(3);

  it('VideoCrafter2 pads with 0 (open_clip.tokenize), whatever the files name', async () => {
    for (const weights of [path.join(hf, 'model.ckpt'), path.join(hfBang, 'text_encoder', 'model.safetensors'), path.join(hfBare, 'model.safetensors'), path.join(openClip, 'model.ckpt')]) {
      expect(new Set(await padOf('videocrafter2', weights)), weights).toEqual(new Set([0]));
    }
  });

  it("ModelScope pads with the pad token its files name, else the end token", async () => {
    expect(new Set(await padOf('modelscope', path.join(hf, 'model.ckpt')))).toEqual(new Set([EOT]));
    expect(new Set(await padOf('modelscope', path.join(hfBang, 'text_encoder', 'model.safetensors')))).toEqual(new Set([0]));
    expect(new Set(await padOf('modelscope', path.join(hfBare, 'model.safetensors')))).toEqual(new Set([EOT]));
    // open_clip's file names no pad token: the end token, not open_clip's 0
    expect(new Set(await padOf('modelscope', path.join(openClip, 'model.ckpt')))).toEqual(new Set([EOT]));
    expect(modelBuild('videocrafter2').tokenizer).toEqual({ kind: 'clip-bpe', pad: 'zero' });
    expect(modelBuild('modelscope').tokenizer).toEqual({ kind: 'clip-bpe', pad: 'from-files' });
  });
});

describe('where the files are', () => {
  it('takes tokenizer = "..." relative to the pipeline\'s folder over the files next to the weights', async () => {
    // next to the weights: a vocabulary of the same size without the 'hello' merges; the named one has them
    const weights = folder('beside', { 'model.ckpt': 'x', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText(fillerMerges(FIXTURE_MERGES.length))) });
    const project = folder('project', { 'pipelines/.keep': '', 'clip/tokenizer.json': fixtureTokenizerJson(), 'clip/tokenizer_config.json': HF_PAD_BANG });
    const pipelines = path.join(project, 'pipelines');
    const beside = await resolvePromptTokenizer(planIn(pipelines, 'modelscope'), small('modelscope'), path.join(weights, 'model.ckpt'));
    const wrote = ['tokenizer = "../clip/tokenizer.json"', 'tokenizer = "../clip"', `tokenizer = "${path.join(project, 'clip')}"`];
    expect(planIn(pipelines, 'modelscope', wrote[0]).model.tokenizer).toBe('../clip/tokenizer.json');
    for (const fields of wrote) {
      const t = await resolvePromptTokenizer(planIn(pipelines, 'modelscope', fields), small('modelscope'), path.join(weights, 'model.ckpt'));
      expect(row(t, 'hello').slice(0, 4), fields).toEqual([SOT, id('hello</w>'), EOT, 0]);
      expect(t.description).toContain('tokenizer.json');
    }
    expect(row(beside, 'hello')[1]).not.toBe(id('hello</w>'));
    // no weights at all: the named tokenizer is enough
    const alone = await resolvePromptTokenizer(planIn(pipelines, 'videocrafter2', wrote[0]), small('videocrafter2'));
    expect(row(alone, 'hello').slice(0, 3)).toEqual([SOT, id('hello</w>'), EOT]);
  });

  it('is VPL7135 naming the files looked for and the folders, against the pipeline file', async () => {
    const dir = folder('empty-model', { 'weights/model.ckpt': 'x' });
    const plan = planIn(dir, 'videocrafter2');
    const e = await vplError(resolvePromptTokenizer(plan, small('videocrafter2'), path.join(dir, 'weights', 'model.ckpt')));
    expect(e.code).toBe('VPL7135');
    for (const part of ['tokenizer.json', 'vocab.json + merges.txt', 'bpe_simple_vocab_16e6.txt.gz', path.join(dir, 'weights', 'tokenizer'), path.join(dir, 'weights')]) expect(e.message).toContain(part);
    expect(e.file).toBe(plan.file);
    expect(e.help).toContain('tokenizer = "..."');

    const named = await vplError(resolvePromptTokenizer(planIn(dir, 'videocrafter2', 'tokenizer = "tok/missing.json"'), small('videocrafter2'), path.join(dir, 'weights', 'model.ckpt')));
    expect(named.code).toBe('VPL7135');
    expect(named.message).toContain(path.join(dir, 'tok', 'missing.json'));
    expect(named.message).toContain('tokenizer = "tok/missing.json"');

    const none = await vplError(resolvePromptTokenizer(plan, small('videocrafter2')));
    expect(none.code).toBe('VPL7135');
    expect(none.help).toContain('tokenizer = "..."');
  });

  it('is VPL7135 when the vocabulary does not fit the text encoder', async () => {
    const dir = folder('misfit', { 'model.ckpt': 'x', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText()) });
    const e = await vplError(resolvePromptTokenizer(planIn(dir, 'videocrafter2'), modelBuild('videocrafter2'), path.join(dir, 'model.ckpt')));
    expect(e.code).toBe('VPL7135');
    expect(e.message).toContain(`${SIZE} ids`);
    expect(e.message).toContain('49408');
  });
});

describe('the text conditioning', () => {
  /** A stand-in text_encode graph: context = the tokens as floats, text_embed = their sum. */
  function fakeTextEncode(batch: number, L: number) {
    const fed: BigInt64Array[] = [];
    const graph = {
      name: 'text_encode',
      inputs: [{ name: 'tokens', dtype: 'int64', shape: [batch, L] }],
      outputs: [
        { name: 'context', dtype: 'float32', shape: [batch, L, 1] },
        { name: 'text_embed', dtype: 'float32', shape: [batch, 1] },
      ],
      async run(feeds: { tokens: BigInt64Array }) {
        fed.push(feeds.tokens);
        const context = Float32Array.from(feeds.tokens, Number);
        const textEmbed = new Float32Array(batch);
        for (let b = 0; b < batch; b++) for (let i = 0; i < L; i++) textEmbed[b]! += context[b * L + i]!;
        return { context, text_embed: textEmbed };
      },
    };
    return { graph: graph as unknown as GraphSession, fed };
  }

  it('feeds the ids of the tokenizer it is given, and the tiny ones by default', async () => {
    const dir = folder('cond', { 'model.ckpt': 'x', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText()) });
    const bpe = await resolvePromptTokenizer(planIn(dir, 'videocrafter2'), small('videocrafter2'), path.join(dir, 'model.ckpt'));
    const real = fakeTextEncode(2, 77);
    const cond = await new TextConditioner(real.graph, 2, bpe).conditioning(['Hello World', 'hello world']);
    // the empty prompt, then each prompt text once; both texts clean to the same ids
    expect(real.fed.length).toBe(3);
    expect(Array.from(real.fed[1]!.slice(0, 77), Number)).toEqual(row(bpe, 'hello world'));
    expect(real.fed[2]).toEqual(real.fed[1]);
    expect(Array.from(cond.context.slice(0, 4))).toEqual([SOT, id('hello</w>'), id('world</w>'), EOT]);
    expect(Array.from(cond.uncond.slice(0, 3))).toEqual([SOT, EOT, 0]);

    const small16 = fakeTextEncode(1, 16);
    const conditioner = new TextConditioner(small16.graph, 1);
    await conditioner.embed('a red zebra');
    expect(small16.fed[0]).toEqual(tiny.tokenizeBatch(['a red zebra'], 16));
    expect([...conditioner.unknown]).toEqual(['zebra']);
  });

  it('refuses a tokenizer of another context length than the graph', () => {
    expect(() => new TextConditioner(fakeTextEncode(1, 77).graph, 1)).toThrow(/77 tokens per prompt.*gives 16/);
  });
});
