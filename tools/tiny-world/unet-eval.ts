// The tiny UNet's held-out epsilon loss: held-out videos -> VAE latents, noised at a fixed grid
// of timesteps with fixed noise, conditioned on their captions; compared with the loss of
// predicting zeros (mean eps^2, about 1).
import { Rng } from '../../stdlib/nn/index.ts';
import type { ShapesItem } from '../../stdlib/data/shapes.ts';
import { defaultAlphasCumprod } from '../../stdlib/samplers/schedule.ts';
import type { TinyClip } from './clip-embed.ts';
import { LATENT_VIDEO, type TinyUNet, type TinyVae } from './sessions.ts';

export interface EpsLoss {
  loss: number;
  zeros: number;
  /** Loss per timestep of the grid (ascending t). */
  byT: number[];
  timesteps: number[];
}

/** `videos.length` must equal unet.batch; one pass per timestep of `timesteps`. */
export async function heldoutEpsLoss(unet: TinyUNet, vae: TinyVae, clip: TinyClip, videos: ShapesItem[], fps: number, timesteps = [50, 250, 500, 750, 950]): Promise<EpsLoss> {
  const n = unet.batch;
  if (videos.length !== n) throw new Error(`heldoutEpsLoss: ${videos.length} videos for a UNet of batch ${n}`);
  const x0 = await vae.encode(videos.map((v) => v.frames));
  const context = (await clip.embedTexts(videos.map((v) => v.caption))).tokens;
  const alphas = defaultAlphasCumprod();
  const rng = new Rng(4321, 'heldout-eps');
  const byT: number[] = [];
  let zeros = 0;
  for (const t of timesteps) {
    const eps = new Float32Array(n * LATENT_VIDEO);
    rng.fillNormal(eps);
    const a = Math.sqrt(alphas[t]);
    const s = Math.sqrt(1 - alphas[t]);
    const xt = eps.map((e, i) => a * x0[i] + s * e);
    const pred = await unet.eps(xt, Array(n).fill(t), context, fps);
    let se = 0;
    let z = 0;
    for (let i = 0; i < eps.length; i++) {
      se += (pred[i] - eps[i]) ** 2;
      z += eps[i] ** 2;
    }
    byT.push(se / eps.length);
    zeros += z / eps.length;
  }
  return { loss: byT.reduce((a, b) => a + b, 0) / byT.length, zeros: zeros / timesteps.length, byT, timesteps };
}
