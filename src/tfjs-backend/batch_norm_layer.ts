// tfjs-layers' BatchNormalization with a fused training step on the torch backend. In training, the stock layer
// composes tf.moments and tf.batchNorm, and the tape differentiates each piece: about 60 kernel calls per layer and
// step (cnn-bn's step: 556 calls with the stock layer, 379 with this one). Here the step is one native kernel each way
// (BatchNormTraining and its registered gradient, native/tfjs/batchnorm.cc). Everything else is the stock layer's:
// its weights, its config, its class name in model.json, inference, and the moving-average update (same formula, same
// biased variance). The engines build the registry's models with it (torchLayersApi); registerTorchBackend()
// registers it under 'BatchNormalization', so that tfjs builds it from model.json too (resumed and converted runs).
// On any other backend, or for a layout the kernels don't take, it runs the stock code.
import * as tfc from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers'; // importing it registers the stock class, read below
import { TORCH } from './kernel_utils.js';
import { BatchNormTraining } from './kernels/BatchNormTraining.js';

/** The stock layer's fields that the fused step reads (they are public in JS, private in tfjs-layers' types). */
interface StockFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): Tensor };
  beta: { read(): Tensor };
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}
type Kwargs = Record<string, unknown>;
interface StockLayer {
  call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor | Tensor[];
}
type StockClass = (new (args?: object) => StockLayer) & { className: string };

const registry = () => tfc.serialization.SerializationMap.getMap().classNameMap;
const Stock = registry()['BatchNormalization']![0] as unknown as StockClass;

export class BatchNormalization extends Stock {
  /** model.json keeps the stock name: a file written with this layer loads anywhere, as the stock layer. */
  static override className = 'BatchNormalization';

  override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor | Tensor[] {
    const x = Array.isArray(inputs) && inputs.length === 1 ? inputs[0]! : inputs;
    const self = this as unknown as StockFields;
    const fused =
      kwargs['training'] === true &&
      !Array.isArray(x) &&
      tfc.getBackend() === TORCH &&
      x.dtype === 'float32' &&
      x.rank >= 2 &&
      (self.axis === -1 || self.axis === x.rank - 1) &&
      self.center &&
      self.scale;
    if (!fused) return super.call(inputs, kwargs);
    return tfc.tidy(() => {
      // One kernel, and its registered gradient on the tape (kernels/BatchNormTraining.ts).
      const [y, mean, variance] = tfc.engine().runKernel(
        BatchNormTraining,
        { x, scale: self.gamma.read(), offset: self.beta.read() },
        {
          varianceEpsilon: self.epsilon,
        },
      ) as Tensor[];
      // The stock layer's update, as it writes it: moving -= (moving - batch) * (1 - momentum).
      const decay = 1 - self.momentum;
      for (const [variable, value] of [
        [self.movingMean, mean!],
        [self.movingVariance, variance!],
      ] as const) {
        tfc.tidy(() => {
          const orig = variable.read();
          variable.write(tfc.sub(orig, tfc.mul(tfc.sub(orig, value), decay)));
        });
      }
      return y!;
    });
  }
}

/** Makes tfjs build BatchNormalization layers from model.json as this class (registerTorchBackend() calls it). */
export function registerBatchNormLayer(): void {
  tfc.serialization.registerClass(BatchNormalization as unknown as tfc.serialization.SerializableConstructor<never>);
}

/**
 * tfjs-layers as the engines hand it to the registry's Keras builders: the same API, except that
 * `layers.batchNormalization` makes this class.
 */
export const torchLayersApi: typeof tfl = {
  ...tfl,
  layers: {
    ...tfl.layers,
    batchNormalization: (args?: object) =>
      new BatchNormalization(args) as unknown as ReturnType<typeof tfl.layers.batchNormalization>,
  },
};
