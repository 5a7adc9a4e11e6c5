// What a method's results look like on disk: the weighted reward total of a batch, its decoded
// videos in the pipeline's formats, and the random frame picks of `decode = random(k)`.
import type { Plan, RewardTerm } from '../../../compiler/plan.ts';
import { type VideoFormat, writeVideo } from '../../media/video.ts';

/** Weighted sum of mean reward values: what "the reward" of a run is. */
export function totalReward(terms: readonly RewardTerm[], rewards: Readonly<Record<string, number>>): number {
  return terms.reduce((s, t) => s + t.weight * (rewards[t.reward] ?? 0), 0);
}

function videoFormats(plan: Plan): VideoFormat[] {
  const formats = plan.output.formats.map((f) => (f === 'png' ? 'png-grid' : f) as VideoFormat);
  return formats.length > 0 ? formats : ['gif'];
}

/** The B videos of a decoded batch [B T, 3, H, W] (video-major). */
export function splitVideos(frames: Float32Array, batch: number, plan: Plan): { data: Float32Array; frames: number; height: number; width: number }[] {
  const T = plan.derived.latent_shape[1];
  const per = frames.length / batch;
  const hw = per / T / 3;
  const side = plan.model.size;
  if (side.height * side.width !== hw) throw new Error(`internal: decoded frames do not match ${side.height}x${side.width}`);
  return Array.from({ length: batch }, (_, i) => ({ data: frames.slice(i * per, (i + 1) * per), frames: T, height: side.height, width: side.width }));
}

/** Writes B videos of a decoded batch, one file per format. */
export async function writeBatchVideos(plan: Plan, frames: Float32Array, batch: number, names: string[], say: (line: string) => void): Promise<string[]> {
  const written: string[] = [];
  const videos = splitVideos(frames, batch, plan);
  for (let i = 0; i < names.length; i++) {
    for (const format of videoFormats(plan)) {
      const w = await writeVideo(videos[i]!, { path: names[i]!, fps: plan.model.fps, format });
      if (w.note) say(`note: ${w.note}`);
      written.push(w.path);
    }
  }
  return written;
}

/** k distinct latent frames out of T, in increasing order. */
export function randomFrames(stream: { int(n: number): number }, T: number, k: number): BigInt64Array {
  const idx = Array.from({ length: T }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + stream.int(T - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return BigInt64Array.from(idx.slice(0, k).sort((a, b) => a - b), BigInt);
}
