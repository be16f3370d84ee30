import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useTorchBackend } from './src/tfjs-backend/index.js';
import { setNumThreads } from './src/torch/index.js';
import { getModel } from './src/models/index.js';
await useTorchBackend(); setNumThreads(2);
const n = 64 * 200;
const xs = new Float32Array(n * 784).map((_, i) => (i * 2654435761 % 1000) / 1000);
const ys = new Uint8Array(n).map((_, i) => i % 10);
const mk = () => { const m = getModel('cnn').keras(tfl); m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] }); return m; };
for (const mode of ['fit', 'tob', 'fit', 'tob']) {
  const m = mk();
  const t0 = performance.now();
  if (mode === 'fit') {
    const x = tf.tensor4d(xs, [n, 28, 28, 1]); const y = tf.oneHot(tf.tensor1d(Int32Array.from(ys), 'int32'), 10).toFloat?.() ?? tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(ys), 'int32'), 10), 'float32');
    const t1 = performance.now();
    await m.fit(x, y, { epochs: 1, batchSize: 64, shuffle: true, verbose: 0 });
    console.log(mode, ((performance.now() - t1) / 200).toFixed(2), 'ms/step');
    tf.dispose([x, y]);
  } else {
    for (let b = 0; b < 200; b++) {
      const [x, y] = tf.tidy(() => [tf.tensor4d(xs.subarray(b * 64 * 784, (b + 1) * 64 * 784), [64, 28, 28, 1]), tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(ys.subarray(b * 64, b * 64 + 64)), 'int32'), 10), 'float32')]);
      await m.trainOnBatch(x, y);
      tf.dispose([x, y]);
    }
    console.log(mode, ((performance.now() - t0) / 200).toFixed(2), 'ms/step');
  }
  m.dispose();
}
