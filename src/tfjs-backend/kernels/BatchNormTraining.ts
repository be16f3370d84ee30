import { engine } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { allValues, kernels, nativeOutput, torchKernel, values } from '../kernel_utils.js';

/**
 * Not a tfjs kernel but the torch backend's own: BatchNorm in training mode in one native call (batch_norm_layer.ts
 * runs it). Outputs [y, mean, variance]: x normalized by its batch statistics over every axis but the last, and
 * those statistics (the biased variance, as tf.moments). Its gradient (below) is one native call too.
 */
export const BatchNormTraining = 'BatchNormTraining';
/** The gradient's kernel: outputs [dx, dScale, dOffset], with the batch statistics as functions of x. */
export const BatchNormTrainingGrad = 'BatchNormTrainingGrad';

interface Inputs {
  x: TensorInfo;
  scale: TensorInfo;
  offset: TensorInfo;
}
interface Attrs {
  varianceEpsilon: number;
}

/** Values of float32 tensors for a kernel that has no cpu counterpart to hand a call to: anything else is an error. */
export function float32Values(backend: MathBackendCPU, kernel: string, ts: Record<string, TensorInfo>) {
  const v = allValues(backend, Object.values(ts));
  const bad = Object.entries(ts).find(([, t]) => t.dtype !== 'float32');
  if (!v || bad) throw new Error(`${kernel}: float32 tensors only (${bad ? `${bad[0]} is ${bad[1].dtype}` : '?'})`);
  return v;
}

/** Per-channel outputs, then the main one filled by `fill` with theirs; the per-channel ones are freed if it throws. */
export function withChannelOutputs(
  backend: MathBackendCPU,
  shape: number[],
  channels: number,
  count: number,
  fill: (out: Float32Array, channelOuts: Float32Array[]) => void,
): TensorInfo[] {
  const extra = Array.from({ length: count }, () => nativeOutput(backend, [channels], 'float32', () => {}));
  try {
    const main = nativeOutput(backend, shape, 'float32', (out) =>
      fill(
        out as Float32Array,
        extra.map((t) => values(backend, t) as Float32Array),
      ),
    );
    return [main, ...extra];
  } catch (e) {
    for (const t of extra) backend.disposeData(t.dataId);
    throw e;
  }
}

export const batchNormTrainingConfig: KernelConfig = torchKernel<Inputs, Attrs>(
  BatchNormTraining,
  ({ inputs: { x, scale, offset }, backend, attrs }) => {
    const [vx, vs, vo] = float32Values(backend, BatchNormTraining, { x, scale, offset });
    const c = x.shape[x.shape.length - 1] ?? 0;
    return withChannelOutputs(backend, x.shape, c, 2, (out, [meanOut, varianceOut]) =>
      kernels().BatchNormTraining(out, {
        x: vx!,
        xShape: x.shape,
        scale: vs!,
        offset: vo!,
        varianceEpsilon: attrs.varianceEpsilon,
        meanOut: meanOut!,
        varianceOut: varianceOut!,
      }),
    );
  },
);

/**
 * The gradient of y with respect to x, scale and offset. The statistics are outputs for the moving averages only:
 * what flows back into them (tfjs hands zeros for outputs the loss doesn't use) is not propagated.
 */
export const batchNormTrainingGradConfig: GradConfig = {
  kernelName: BatchNormTraining,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [false, true, true],
  gradFunc: (dy, saved, attrs) => {
    const [x, scale, mean, variance] = saved;
    const [dx, dScale, dOffset] = engine().runKernel(
      BatchNormTrainingGrad,
      { dy: (Array.isArray(dy) ? dy[0] : dy)!, x: x!, mean: mean!, variance: variance!, scale: scale! },
      { varianceEpsilon: (attrs as unknown as Attrs).varianceEpsilon },
    ) as Tensor[];
    return { x: () => dx!, scale: () => dScale!, offset: () => dOffset! };
  },
};
