// conv1d/2d/3d like torch.nn.ConvNd: weight [out, in/groups, k...], bias [out].
import { spatialList } from '../../tensor/ir/builder.ts';
import { formatShape, type Value } from '../../tensor/ir/graph.ts';
import { ShapeError } from '../../tensor/ir/ops.ts';
import { fans, init, type Init, type NN, parameter } from './parameters.ts';

export interface ConvLayerOptions {
  out: number;
  /** Expected input channels; checked when given. */
  in?: number;
  kernel: number | number[];
  stride?: number | number[];
  /** Symmetric per axis, the ONNX form [begin..., end...], or 'same' (stride 1; extra pad at the end like torch). */
  padding?: number | number[] | 'same';
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
  weightInit?: Init;
  biasInit?: Init;
  trainable?: boolean;
}

/** What a conv hook learns about the layer it runs in (resolved attributes, ONNX forms). */
export interface ConvLayerInfo {
  /** Module path (b.scope inside the layer). */
  path: string;
  in: number;
  out: number;
  kernel: number[];
  strides: number[];
  /** [begin..., end...]. */
  pads: number[];
  dilations: number[];
  groups: number;
  /**
   * 'channels-last': a pointwise projection whose checkpoint weight is a 1x1 conv but which is
   * computed as a matmul over the last axis (x [..., in], y [..., out]; kernel all 1, stride 1,
   * no padding). Default: x [N, in, ...spatial], y [N, out, ...spatial'].
   */
  layout?: 'channels-first' | 'channels-last';
}

/**
 * A hook that may add to a convolution's output (LoRA, stdlib/nn/lora.ts), the conv twin of
 * linear's `linearHook`. Set it as `convHook` on the NN object; it runs inside the layer's scope.
 */
export type ConvHook = (nn: NN, x: Value, y: Value, layer: ConvLayerInfo) => Value;

/** A convolution over the last `spatial` axes of x [N, C, ...]. */
export function conv(nn: NN, name: string, x: Value, spatial: number, options: ConvLayerOptions): Value {
  const { b } = nn;
  return b.within(name, () => {
    const layer = `conv${spatial}d`;
    if (x.rank !== spatial + 2) throw new ShapeError(`in ${b.scope}: ${layer} expects an input [N, C, ${spatial} spatial axes], got ${formatShape(x.shape)}`);
    const channels = x.shape[1];
    const groups = options.groups ?? 1;
    if ((options.in !== undefined && options.in !== channels) || channels % groups !== 0 || options.out % groups !== 0) {
      throw new ShapeError(
        `in ${b.scope}: ${layer} expects ${options.in ?? channels} input channels in ${groups} group(s) and ${options.out} outputs, got input ${formatShape(x.shape)}`,
      );
    }
    const kernel = spatialList(options.kernel, spatial, 1, `${layer} kernel`);
    const dilations = spatialList(options.dilation, spatial, 1, `${layer} dilation`);
    const strides = spatialList(options.stride, spatial, 1, `${layer} stride`);
    let pads: number[];
    if (options.padding === 'same') {
      if (strides.some((s) => s !== 1)) throw new ShapeError(`in ${b.scope}: ${layer} padding 'same' needs stride 1`);
      const total = kernel.map((k, i) => dilations[i] * (k - 1));
      pads = [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
    } else {
      pads = spatialList(options.padding, spatial, 0, `${layer} padding`, true);
    }
    const shape = [options.out, channels / groups, ...kernel];
    const weight = parameter(nn, 'weight', shape, { init: options.weightInit ?? init.kaimingUniform(), dtype: x.dtype, trainable: options.trainable });
    const bias =
      (options.bias ?? true)
        ? parameter(nn, 'bias', [options.out], { init: options.biasInit ?? init.fanInUniform(fans(shape).fanIn), dtype: x.dtype, trainable: options.trainable })
        : undefined;
    const y = b.conv(x, weight, bias, { strides, pads, dilations, group: groups });
    const hook = (nn as NN & { convHook?: ConvHook }).convHook;
    return hook ? hook(nn, x, y, { path: b.scope, in: channels, out: options.out, kernel, strides, pads, dilations, groups }) : y;
  });
}

export const conv1d = (nn: NN, name: string, x: Value, options: ConvLayerOptions): Value => conv(nn, name, x, 1, options);
export const conv2d = (nn: NN, name: string, x: Value, options: ConvLayerOptions): Value => conv(nn, name, x, 2, options);
export const conv3d = (nn: NN, name: string, x: Value, options: ConvLayerOptions): Value => conv(nn, name, x, 3, options);
