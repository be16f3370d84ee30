// Any stock TensorFlow.js Layers model, trained on fmnist's libtorch-backed tfjs backend 'torch'. Nothing here
// is fmnist's but the backend and the data. Run: npx tsx examples/tfjs-layers-on-torch.ts [trainImages] [epochs]
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useTorchBackend } from 'fmnist/tfjs-backend';
import { loadFashionMnist } from 'fmnist';

await useTorchBackend();
console.log(`tfjs backend: ${tf.getBackend()}`);

const n = Number(process.argv[2] ?? 6000);
const epochs = Number(process.argv[3] ?? 2);
const data = await loadFashionMnist({ quiet: true });
const seed = (s: number) => tfl.initializers.glorotUniform({ seed: s });

const model = tfl.sequential({
  layers: [
    tfl.layers.conv2d({
      inputShape: [28, 28, 1],
      filters: 16,
      kernelSize: 3,
      activation: 'relu',
      kernelInitializer: seed(1),
    }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: seed(2) }),
  ],
});
model.compile({ optimizer: tf.train.adam(2e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

const xs = tf.tensor4d(data.train.images.subarray(0, n * 784), [n, 28, 28, 1]);
const ys = tf.tensor1d(Float32Array.from(data.train.labels.subarray(0, n)));
await model.fit(xs, ys, {
  epochs,
  batchSize: 64,
  shuffle: false, // Math.random is not seeded here, so keep the order fixed for a repeatable run
  callbacks: { onEpochEnd: async (e, logs) => console.log(`epoch ${e + 1}: loss ${logs!.loss.toFixed(4)}`) },
});

const m = 2000;
const acc = tf.tidy(() => {
  const x = tf.tensor4d(data.test.images.subarray(0, m * 784), [m, 28, 28, 1]);
  const pred = tf.argMax(model.predict(x) as tf.Tensor, 1);
  const truth = tf.tensor1d(Int32Array.from(data.test.labels.subarray(0, m)), 'int32');
  return tf.mean(tf.cast(tf.equal(pred, truth), 'float32')).dataSync()[0];
});
console.log(`test accuracy on ${m} images: ${acc.toFixed(4)}`);
tf.dispose([xs, ys]);
model.dispose();
