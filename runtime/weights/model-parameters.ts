// The parameters a model build's networks ask for (name, shape, dtype), the way the lowerings
// build them: each network is built once at its smallest input into a scratch graph, with a
// store of shape-only (lazy) weights, so nothing is allocated for a 1.4 B-parameter UNet.
import { Builder } from '../../tensor/ir/builder.ts';
import type { DType } from '../../tensor/ir/dtype.ts';
import { Graph } from '../../tensor/ir/graph.ts';
import { buildClipTextEncoder } from '../../stdlib/models/clip/clip.ts';
import { denoise, familyOf } from '../../stdlib/models/families.ts';
import type { ModelBuild } from '../../stdlib/models/registry.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../stdlib/models/vae/vae.ts';
import { vaeSpatialStride } from '../../stdlib/models/vae/config.ts';
import { ParameterStore } from '../../stdlib/nn/parameters.ts';

/** The network a parameter belongs to: a model's unet, vae, clip; a reward's visual, text, head. */
export type ModelComponent = string;

export interface ExpectedParameter {
  /** The vplc name (`unet.input_blocks.1.0.in_layers.0.weight`). */
  name: string;
  shape: number[];
  dtype: DType;
  component: ModelComponent;
}

/** Every parameter of the build's UNet, VAE (encoder and decoder) and text tower, in build order. */
export function modelParameters(build: ModelBuild, options: { dtype?: DType } = {}): ExpectedParameter[] {
  const dtype = options.dtype ?? 'float32';
  const params = new ParameterStore({ lazyFrozen: true, dtype });
  const b = new Builder(new Graph('parameters'));
  const nn = { b, params };
  const side = familyOf(build.denoiser).sizeMultiple(build.denoiser);
  b.within('unet', () =>
    denoise(nn, build.denoiser, {
      x: b.input('x', [1, build.denoiser.inChannels, 2, side, side], dtype),
      timesteps: b.input('t', [1]),
      context: b.input('context', [1, 2, build.denoiser.contextDim], dtype),
      fps: 8, // any number: only the fps-conditioned families read it
    }),
  );
  b.within('vae', () => {
    const stride = vaeSpatialStride(build.vae);
    buildVaeEncoder(nn, build.vae, b.input('images', [1, build.vae.inChannels, stride, stride], dtype));
    buildVaeDecoder(nn, build.vae, b.input('latents', [1, build.vae.latentChannels, 1, 1], dtype));
  });
  b.within('clip', () => buildClipTextEncoder(nn, build.text, b.input('tokens', [1, build.text.text.contextLength], 'int64')));
  return params.list().map((p) => ({ name: p.name, shape: p.shape, dtype: p.dtype, component: p.name.slice(0, p.name.indexOf('.')) }));
}
