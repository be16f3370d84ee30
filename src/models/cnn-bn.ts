// The seed's CNN with BatchNorm after each convolution and after the hidden dense layer: the seed's first
// "future improvement", measured against the plain CNN. Layers followed by BatchNorm have no bias.
import { torchInit, type ModelSpec } from './spec.js';
import { kerasBatchNorm, torchConvBnLayers } from './blocks.js';

export const cnnBn: ModelSpec = {
  id: 'cnn-bn',
  label: 'CNN + BN',
  description: "the seed's CNN with BatchNorm after each convolution and the dense layer (BN replaces the biases)",
  defaultEpochs: 20,
  recipe: 'modern',
  python: new URL('./cnn-bn.py', import.meta.url),

  pytorch: (torch) => {
    const { nn } = torch;
    return new nn.Sequential(
      ...torchConvBnLayers(torch, 1, 32, { pad: false }),
      new nn.MaxPool2d(2),
      ...torchConvBnLayers(torch, 32, 64, { pad: false }),
      new nn.MaxPool2d(2),
      new nn.Flatten(),
      new nn.Linear(1600, 128, false),
      new nn.BatchNorm1d(128),
      new nn.ReLU(),
      new nn.Dropout(0.5),
      new nn.Linear(128, 10),
    );
  },

  keras: (tfl) => {
    const conv = (filters: number, fanIn: number, first = false) => [
      tfl.layers.conv2d({
        filters,
        kernelSize: 3,
        useBias: false,
        ...(first ? { inputShape: [28, 28, 1] } : {}),
        kernelInitializer: torchInit(tfl, fanIn).kernelInitializer,
      }),
      kerasBatchNorm(tfl),
      tfl.layers.reLU(),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
    ];
    return tfl.sequential({
      name: 'cnn_bn',
      layers: [
        ...conv(32, 9, true),
        ...conv(64, 288),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 128, useBias: false, kernelInitializer: torchInit(tfl, 1600).kernelInitializer }),
        kerasBatchNorm(tfl),
        tfl.layers.reLU(),
        tfl.layers.dropout({ rate: 0.5 }),
        tfl.layers.dense({ units: 10, activation: 'softmax', ...torchInit(tfl, 128) }),
      ],
    });
  },
};
