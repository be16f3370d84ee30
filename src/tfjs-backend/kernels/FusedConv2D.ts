import { backend_util, FusedConv2D } from '@tensorflow/tfjs-core';
import type { TensorInfo, FusedConv2DAttrs, KernelConfig } from '@tensorflow/tfjs-core';
import {
  allValues,
  conv2DInfo,
  convPlan,
  kernels,
  NATIVE_ACTIVATIONS,
  nativeOutput,
  torchKernel,
} from '../kernel_utils.js';

/** conv2d + bias + activation in one call: what tfjs-layers runs for Conv2D outside of gradient recording. */
export const fusedConv2DConfig: KernelConfig = torchKernel<
  { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo },
  FusedConv2DAttrs
>(FusedConv2D, ({ inputs: { x, filter, bias }, backend, attrs }) => {
  const { dataFormat, activation, leakyreluAlpha } = attrs;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || !NATIVE_ACTIVATIONS.has(activation)) return null;
  if (bias && bias.dtype !== 'float32') return null;
  const info = conv2DInfo(x.shape, filter.shape, attrs);
  const plan = convPlan(info);
  const v = plan && allValues(backend, bias ? [x, filter, bias] : [x, filter]);
  if (!plan || !v) return null;
  // As on the cpu backend: in NCHW, a 1-D bias is per channel.
  const channelBiasNCHW = bias && dataFormat === 'NCHW' && bias.shape.length === 1 && bias.shape[0] !== 1;
  const biasShape = bias && (channelBiasNCHW ? [bias.shape[0], 1, 1] : bias.shape);
  const shape = biasShape ? backend_util.assertAndGetBroadcastShape(info.outShape, biasShape) : info.outShape;
  return nativeOutput(backend, shape, 'float32', (out) =>
    kernels().FusedConv2D(out, {
      x: v[0],
      xShape: x.shape,
      filter: v[1],
      filterShape: filter.shape,
      ...plan,
      bias: bias ? v[2] : null,
      biasShape,
      activation,
      leakyreluAlpha: leakyreluAlpha ?? 0.2,
    }),
  );
});
