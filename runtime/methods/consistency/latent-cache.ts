// On-disk cache of VAE-encoded latents, keyed by content: sha256 of (what the video is: its
// file bytes, or the tiny_shapes generator's seed and index), the frozen VAE's identity, the
// video shape (frames x height x width, fps) and the latent shape. One file per video:
// <dir>/<key[0..2]>/<key>.f32, raw little-endian float32 [C, T, h, w], written atomically
// (temp file + rename), so a killed run never leaves a half file that a resume would read.
// A file of the wrong length counts as a miss and is rewritten.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LatentKeyParts {
  /** What the video is: 'file:<sha256 of its bytes>' or 'tiny_shapes:<seed>:<index>'. */
  content: string;
  vae: string;
  video: readonly number[];
  latent: readonly number[];
  fps?: number;
}

export function latentKey(parts: LatentKeyParts): string {
  return createHash('sha256')
    .update(['vplc-latent/v1', parts.content, parts.vae, parts.video.join('x'), parts.latent.join('x'), String(parts.fps ?? '')].join('\n'))
    .digest('hex');
}

export class LatentCache {
  hits = 0;
  misses = 0;

  constructor(readonly dir: string) {}

  private file(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.f32`);
  }

  /** The cached latents of `key`, if there (and `size` floats long). */
  get(key: string, size: number): Float32Array | undefined {
    const file = this.file(key);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch {
      this.misses++;
      return undefined;
    }
    if (bytes.length !== size * 4) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const out = new Float32Array(size);
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }

  put(key: string, latents: Float32Array): void {
    const file = this.file(key);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, new Uint8Array(latents.buffer, latents.byteOffset, latents.byteLength));
    fs.renameSync(tmp, file);
  }
}
