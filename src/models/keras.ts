// The seed's two models in the Keras (tfjs Layers) API. Compiled by the caller (optimizer, loss and metrics are the
// trainer's choice). With the backend 'torch' (src/tfjs-backend) their kernels run on libtorch.
import * as tfl from '@tensorflow/tfjs-layers';

/**
 * Flatten(28x28x1) -> Dense(128, relu) -> Dropout(0.2) -> Dense(64, relu) -> Dropout(0.2) -> Dense(10, softmax):
 * 109,386 params.
 */
export function kerasDense(): tfl.Sequential {
  const model = tfl.sequential({ name: 'dense' });
  model.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
  model.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tfl.layers.dropout({ rate: 0.2 }));
  model.add(tfl.layers.dense({ units: 64, activation: 'relu' }));
  model.add(tfl.layers.dropout({ rate: 0.2 }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

/**
 * Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Flatten -> Dense(128, relu) -> Dropout(0.5)
 * -> Dense(10, softmax), on 28x28x1 (NHWC) input: 225,034 params.
 */
export function kerasCnn(): tfl.Sequential {
  const model = tfl.sequential({ name: 'cnn' });
  model.add(tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dense({ units: 128, activation: 'relu' }));
  model.add(tfl.layers.dropout({ rate: 0.5 }));
  model.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  return model;
}

export const KERAS_MODELS: Record<'dense' | 'cnn', () => tfl.Sequential> = { dense: kerasDense, cnn: kerasCnn };
