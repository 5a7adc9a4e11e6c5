// The consistency objective's data: captioned videos from the pipeline's `data` block, each
// resized to the model's frames and size, VAE-encoded once and kept as latents.
//
//   data tiny_shapes { count seed }     the tiny world's generator (stdlib/data/shapes.ts)
//   data video_folder { path captions } files + captions CSV, decoded by ffmpeg at the model's
//                                       frames, size and fps; files that are missing or cannot
//                                       be decoded are skipped, reported and counted
//
// Latents are cached on disk by content (latent-cache.ts): a second run, or a resumed one,
// reads them back without decoding or encoding. The VAE runs in batches of train.batch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { Plan } from '../../../compiler/plan.ts';
import { shapesItem, shapesItemSeed } from '../../../stdlib/data/shapes.ts';
import { decodeVideo, describeSkipped, listVideoFolder, type SkippedVideo, VideoDecodeError } from '../../data/video-folder.ts';
import { VplError } from '../../../diagnostics/error.ts';
import { LatentCache, latentKey } from './latent-cache.ts';

export interface LatentItem {
  caption: string;
  /** [C, T, h, w]: the VAE posterior mean x the latent scale factor. */
  latents: Float32Array;
  /** Where it came from (file name, or tiny_shapes:<index>). */
  source: string;
}

export interface LatentDataset {
  items: LatentItem[];
  skipped: SkippedVideo[];
  /** Videos the data block lists (items + skipped). */
  total: number;
  hits: number;
  encoded: number;
  cacheDir: string;
}

export interface LatentDataOptions {
  plan: Plan;
  vaeIdentity: string;
  cacheDir: string;
  /** The VAE: up to `batch` videos [3, F, H, W] -> latents [C, T, h, w] each. */
  encode(videos: Float32Array[]): Promise<Float32Array[]>;
  batch: number;
  say?: (line: string) => void;
  /** ffmpeg executable (tests); default found on PATH. */
  ffmpeg?: string | null;
}

/** [T, 3, H, W] -> [3, T, H, W]. */
export function channelsFirst(frames: Float32Array, T: number, H: number, W: number): Float32Array {
  const plane = H * W;
  const out = new Float32Array(frames.length);
  for (let t = 0; t < T; t++) for (let c = 0; c < 3; c++) out.set(frames.subarray((t * 3 + c) * plane, (t * 3 + c + 1) * plane), (c * T + t) * plane);
  return out;
}

interface Pending {
  key: string;
  caption: string;
  source: string;
  video(): Promise<Float32Array | { skipped: string }>;
}

export async function loadLatentData(options: LatentDataOptions): Promise<LatentDataset> {
  const { plan } = options;
  const data = plan.data;
  if (!data) {
    throw new VplError('VPL3003', 'objective consistency needs captioned videos: the pipeline has no data block', {
      file: plan.file,
      help: 'add `data tiny_shapes { count = 64 }` or `data video_folder { path = "videos/" }`',
    });
  }
  const say = options.say ?? (() => {});
  const F = plan.model.frames;
  const H = plan.model.size.height;
  const W = plan.model.size.width;
  const latentShape = plan.derived.latent_shape;
  const latentSize = latentShape.reduce((a, b) => a * b, 1);
  const cache = new LatentCache(options.cacheDir);
  const keyOf = (content: string, fps?: number) => latentKey({ content, vae: options.vaeIdentity, video: [F, H, W], latent: latentShape, ...(fps ? { fps } : {}) });
  const pending: Pending[] = [];
  const skipped: SkippedVideo[] = [];
  if (data.name === 'tiny_shapes') {
    for (let index = 0; index < data.count; index++) {
      const item = shapesItem(data.seed, index, { frames: F, height: H, width: W });
      pending.push({
        key: keyOf(`tiny_shapes:${shapesItemSeed(data.seed, index)}`),
        caption: item.caption,
        source: `tiny_shapes:${index}`,
        video: async () => channelsFirst(item.frames, F, H, W),
      });
    }
  } else {
    const folder = path.resolve(plan.dir, data.path);
    const entries = listVideoFolder(folder, { captions: path.resolve(plan.dir, data.captions) });
    for (const entry of entries) {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(entry.path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        skipped.push({ file: entry.file, reason: code === 'ENOENT' ? 'file not found' : `unreadable (${code ?? (error as Error).message})` });
        continue;
      }
      pending.push({
        key: keyOf(`file:${createHash('sha256').update(bytes).digest('hex')}`, plan.model.fps),
        caption: entry.caption,
        source: entry.file,
        video: async () => {
          try {
            const v = await decodeVideo(entry.path, { frames: F, height: H, width: W, fps: plan.model.fps, ...(options.ffmpeg !== undefined ? { ffmpeg: options.ffmpeg } : {}) });
            return channelsFirst(v.data, F, H, W);
          } catch (error) {
            if (error instanceof VideoDecodeError) return { skipped: error.message };
            throw error;
          }
        },
      });
    }
  }

  const items: (LatentItem | undefined)[] = [];
  const misses: { at: number; p: Pending; video: Float32Array }[] = [];
  let encoded = 0;
  const flush = async () => {
    if (misses.length === 0) return;
    const latents = await options.encode(misses.map((m) => m.video));
    misses.forEach((m, i) => {
      cache.put(m.p.key, latents[i]!);
      items[m.at] = { caption: m.p.caption, latents: latents[i]!, source: m.p.source };
    });
    encoded += misses.length;
    misses.length = 0;
  };
  for (const p of pending) {
    const hit = cache.get(p.key, latentSize);
    if (hit) {
      items.push({ caption: p.caption, latents: hit, source: p.source });
      continue;
    }
    const video = await p.video();
    if (!(video instanceof Float32Array)) {
      skipped.push({ file: p.source, reason: video.skipped });
      continue;
    }
    items.push(undefined);
    misses.push({ at: items.length - 1, p, video });
    if (misses.length === options.batch) await flush();
  }
  await flush();
  const total = pending.length + skipped.filter((s) => !pending.some((p) => p.source === s.file)).length;
  const out = items.filter((i): i is LatentItem => i !== undefined);
  if (skipped.length > 0) say(`warning: ${describeSkipped(skipped, total)}`);
  say(`data ${data.name}: ${out.length} videos (${cache.hits} latents from the cache, ${encoded} encoded; ${skipped.length} skipped) in ${options.cacheDir}`);
  if (out.length === 0) {
    throw new VplError('VPL7063', `no usable videos in data ${data.name}${skipped.length > 0 ? ` (${describeSkipped(skipped, total)})` : ''}`, {
      file: plan.file,
      help: 'check the folder, the captions CSV and that ffmpeg can read the files',
    });
  }
  return { items: out, skipped, total, hits: cache.hits, encoded, cacheDir: options.cacheDir };
}
