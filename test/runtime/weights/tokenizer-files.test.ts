// Finding and reading a model's CLIP tokenizer files (runtime/weights/tokenizer-files.ts), in
// temporary folders laid out as users have them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { findTokenizerFiles, loadClipTokenizer } from '../../../runtime/weights/tokenizer-files.ts';
import { fixtureMergesTxt, fixtureOpenClipText, fixtureTokenizerJson, fixtureVocab } from '../../helpers/clip-bpe-fixture.ts';

const root = mkdtempSync(path.join(tmpdir(), 'vplc-tokenizer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SIZE = Object.keys(fixtureVocab()).length;

function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = path.join(root, name);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function vplError(p: Promise<unknown> | (() => unknown)): Promise<VplError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (error) {
    expect(error).toBeInstanceOf(VplError);
    return error as VplError;
  }
  throw new Error('did not throw');
}

describe('findTokenizerFiles / loadClipTokenizer', () => {
  it("reads open_clip's bpe_simple_vocab_16e6.txt.gz next to a checkpoint file (VideoCrafter2's model.ckpt)", async () => {
    const dir = folder('vc2', { 'model.ckpt': 'not read', 'bpe_simple_vocab_16e6.txt.gz': gzipSync(fixtureOpenClipText()) });
    const { tokenizer, files } = await loadClipTokenizer(path.join(dir, 'model.ckpt'));
    expect(files).toEqual({ format: 'open_clip', main: path.join(dir, 'bpe_simple_vocab_16e6.txt.gz') });
    expect([tokenizer.sotId, tokenizer.eotId, tokenizer.padId]).toEqual([SIZE - 2, SIZE - 1, 0]);
    expect(tokenizer.tokens('Hello World')).toEqual(['hello</w>', 'world</w>']);
  });

  it("finds a diffusers folder's tokenizer/ from the folder or from a component folder, with its pad token", async () => {
    const dir = folder('ms-t2v', {
      'model_index.json': '{}',
      'text_encoder/model.safetensors': 'not read',
      'unet/diffusion_pytorch_model.safetensors': 'not read',
      'tokenizer/vocab.json': JSON.stringify(fixtureVocab()),
      'tokenizer/merges.txt': fixtureMergesTxt(),
      'tokenizer/tokenizer_config.json': JSON.stringify({ pad_token: '!', bos_token: '<|startoftext|>', eos_token: '<|endoftext|>' }),
    });
    for (const weights of [dir, path.join(dir, 'text_encoder'), path.join(dir, 'text_encoder', 'model.safetensors')]) {
      const { tokenizer, files } = await loadClipTokenizer(weights);
      expect(files.format).toBe('vocab+merges');
      expect(files.main).toBe(path.join(dir, 'tokenizer', 'vocab.json'));
      expect(files.tokenizerConfig).toBe(path.join(dir, 'tokenizer', 'tokenizer_config.json'));
      expect(tokenizer.padId).toBe(0);
    }
    // tokenizer.json wins over vocab.json + merges.txt in the same folder; default pad = end token
    writeFileSync(path.join(dir, 'tokenizer', 'tokenizer.json'), fixtureTokenizerJson());
    rmSync(path.join(dir, 'tokenizer', 'tokenizer_config.json'));
    const { tokenizer, files } = await loadClipTokenizer(dir);
    expect(files.format).toBe('tokenizer.json');
    expect(tokenizer.padId).toBe(SIZE - 1);
    // the caller's pad wins (VideoCrafter2 pads with 0 whatever the files)
    expect((await loadClipTokenizer(dir, { pad: 'zero' })).tokenizer.padId).toBe(0);
  });

  it('takes an explicit tokenizer file or folder, relative to baseDir', async () => {
    const dir = folder('explicit', { 'weights/model.safetensors': 'x', 'tok/my-bpe.txt.gz': gzipSync(fixtureOpenClipText()), 'hf/tokenizer.json': fixtureTokenizerJson() });
    const weights = path.join(dir, 'weights', 'model.safetensors');
    expect(findTokenizerFiles(weights, { tokenizer: 'tok/my-bpe.txt.gz', baseDir: dir }).format).toBe('open_clip');
    expect(findTokenizerFiles(weights, { tokenizer: 'hf', baseDir: dir })).toEqual({ format: 'tokenizer.json', main: path.join(dir, 'hf', 'tokenizer.json') });
    expect(findTokenizerFiles(weights, { tokenizer: path.join(dir, 'hf', 'tokenizer.json') }).format).toBe('tokenizer.json');
    const e = await vplError(() => findTokenizerFiles(weights, { tokenizer: 'nope.json', baseDir: dir }));
    expect(e.code).toBe('VPL7135');
    expect(e.message).toContain(path.join(dir, 'nope.json'));
    const half = folder('half', { 'vocab.json': JSON.stringify(fixtureVocab()) });
    const e2 = await vplError(() => findTokenizerFiles(weights, { tokenizer: path.join(half, 'vocab.json') }));
    expect(e2.message).toMatch(/needs merges\.txt beside it/);
  });

  it('is VPL7135 when nothing is there, saying what is expected where and where to get it', async () => {
    const dir = folder('bare', { 'model.ckpt': 'x' });
    const e = await vplError(loadClipTokenizer(path.join(dir, 'model.ckpt'), { reportFile: '/p/pipeline.vpl' }));
    expect(e.code).toBe('VPL7135');
    expect(e.file).toBe('/p/pipeline.vpl');
    expect(e.message).toContain('tokenizer.json, vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz');
    expect(e.message).toContain(path.join(dir, 'tokenizer'));
    expect(e.help).toMatch(/tokenizer\/ folder of its Hugging Face repository/);
    expect(e.help).toMatch(/bpe_simple_vocab_16e6\.txt\.gz/);
  });

  it('is VPL7135 naming the bad file when contents cannot be used', async () => {
    const gz = folder('bad-gz', { 'bpe_simple_vocab_16e6.txt.gz': new Uint8Array([0x1f, 0x8b, 1, 2, 3]) });
    const e1 = await vplError(loadClipTokenizer(gz));
    expect([e1.code, e1.file]).toEqual(['VPL7135', path.join(gz, 'bpe_simple_vocab_16e6.txt.gz')]);
    expect(e1.message).toMatch(/not a valid gzip file/);
    const json = folder('bad-json', { 'tokenizer.json': '{"model": ' });
    const e2 = await vplError(loadClipTokenizer(json));
    expect([e2.code, e2.file]).toEqual(['VPL7135', path.join(json, 'tokenizer.json')]);
    expect(e2.message).toMatch(/cannot be used: it is not valid JSON/);
    const merges = folder('bad-merges', { 'vocab.json': JSON.stringify(fixtureVocab()), 'merges.txt': '#version: 0.2\na b c\n' });
    const e3 = await vplError(loadClipTokenizer(merges));
    expect([e3.code, e3.file]).toEqual(['VPL7135', path.join(merges, 'merges.txt')]);
    const latin1 = folder('bad-utf8', { 'bpe_simple_vocab_16e6.txt': new Uint8Array([0x68, 0xff, 0x0a]) });
    expect((await vplError(loadClipTokenizer(latin1))).message).toMatch(/not UTF-8/);
  });
});
