import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { kernels, torchKernel } from '../kernel_utils.js';
import { BatchNormTrainingGrad, float32Values, withChannelOutputs } from './BatchNormTraining.js';

// Not a tfjs kernel: BatchNormTraining's gradient in one native call (BatchNormTraining.ts registers it as the
// gradient). Outputs [dx, dScale, dOffset].

interface Inputs {
  dy: TensorInfo;
  x: TensorInfo;
  mean: TensorInfo;
  variance: TensorInfo;
  scale: TensorInfo;
}
interface Attrs {
  varianceEpsilon: number;
}

export const batchNormTrainingGradConfig: KernelConfig = torchKernel<Inputs, Attrs>(
  BatchNormTrainingGrad,
  ({ inputs: { dy, x, mean, variance, scale }, backend, attrs }) => {
    const v = float32Values(backend, BatchNormTrainingGrad, { dy, x, mean, variance, scale });
    const c = x.shape[x.shape.length - 1] ?? 0;
    return withChannelOutputs(backend, x.shape, c, 2, (out, [dScaleOut, dOffsetOut]) =>
      kernels().BatchNormTrainingGrad(out, {
        dy: v[0]!,
        x: v[1]!,
        xShape: x.shape,
        mean: v[2]!,
        variance: v[3]!,
        scale: v[4]!,
        varianceEpsilon: attrs.varianceEpsilon,
        dScaleOut: dScaleOut!,
        dOffsetOut: dOffsetOut!,
      }),
    );
  },
);
