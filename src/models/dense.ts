// The seed's dense net: 784 -> 128 -> 64 -> 10 with dropout 0.2, 109,386 parameters.
import { torchInit, type ModelSpec } from './spec.js';

export const dense: ModelSpec = {
  id: 'dense',
  label: 'dense',
  description: "the seed's fully connected net: Flatten, Dense 128, Dense 64 (ReLU, dropout 0.2), softmax 10",
  defaultEpochs: 20,
  python: new URL('./dense.py', import.meta.url),
  definition:
    'nn.Sequential(nn.Flatten(), nn.Linear(784,128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128,64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64,10))',

  pytorch: ({ nn }) =>
    new nn.Sequential(
      new nn.Flatten(),
      new nn.Linear(784, 128),
      new nn.ReLU(),
      new nn.Dropout(0.2),
      new nn.Linear(128, 64),
      new nn.ReLU(),
      new nn.Dropout(0.2),
      new nn.Linear(64, 10),
    ),

  keras: (tfl) => {
    const model = tfl.sequential({ name: 'dense' });
    model.add(tfl.layers.flatten({ inputShape: [28, 28, 1] }));
    model.add(tfl.layers.dense({ units: 128, activation: 'relu', ...torchInit(tfl, 784) }));
    model.add(tfl.layers.dropout({ rate: 0.2 }));
    model.add(tfl.layers.dense({ units: 64, activation: 'relu', ...torchInit(tfl, 128) }));
    model.add(tfl.layers.dropout({ rate: 0.2 }));
    model.add(tfl.layers.dense({ units: 10, activation: 'softmax', ...torchInit(tfl, 64) }));
    return model;
  },
};
