// The seed's two models in the Keras (tfjs Layers) API. Compiled by the caller (optimizer, loss and metrics are the
// trainer's choice). With the backend 'torch' (src/tfjs-backend) their kernels run on libtorch.
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * PyTorch's default initialization for a layer with `fanIn` inputs: weights and biases both
 * U(±1/√fanIn) (kaiming_uniform with a=√5). Both frameworks then start from the same
 * distribution, so the comparison differs only in the engine.
 */
function torchInit(fanIn: number) {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    kernelInitializer: tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform' }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -bound, maxval: bound }),
  };
}

/**
 * Flatten(28x28x1) -> Dense(128, relu) -> Dropout(0.2) -> Dense(64, relu) -> Dropout(0.2) -> Dense(10, softmax):
 * 109,386 params.
 */
export function kerasDense(): tfl.Sequential {
  const model = tfl.sequential({ name: 'dense' });
  model.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
  model.add(tfl.layers.dense({ units: 128, activation: 'relu', ...torchInit(784) }));
  model.add(tfl.layers.dropout({ rate: 0.2 }));
  model.add(tfl.layers.dense({ units: 64, activation: 'relu', ...torchInit(128) }));
  model.add(tfl.layers.dropout({ rate: 0.2 }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax', ...torchInit(64) }));
  return model;
}

/**
 * Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Flatten -> Dense(128, relu) -> Dropout(0.5)
 * -> Dense(10, softmax), on 28x28x1 (NHWC) input: 225,034 params.
 */
export function kerasCnn(): tfl.Sequential {
  const model = tfl.sequential({ name: 'cnn' });
  model.add(
    tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1], ...torchInit(9) }),
  );
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', ...torchInit(288) }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 128, activation: 'relu', ...torchInit(1600) }));
  model.add(tfl.layers.dropout({ rate: 0.5 }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax', ...torchInit(128) }));
  return model;
}

export const KERAS_MODELS: Record<'dense' | 'cnn', () => tfl.Sequential> = { dense: kerasDense, cnn: kerasCnn };
