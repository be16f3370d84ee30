// The Keras implementation's training loop: the stock tfjs Layers API (compile, fit with
// callbacks, predict) on our libtorch-backed tfjs backend.
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useTorchBackend } from '../tfjs-backend/index.js';
import { setNumThreads, getNumThreads, libtorchVersion } from '../torch/index.js';
import { KERAS_MODELS } from '../models/keras.js';
import { fileHandler, MODEL_JSON } from '../keras/io.js';
import { withSeededMathRandom } from '../keras/seed.js';
import {
  EarlyStoppingRestoreBest,
  HistoryCallback,
  LearningRateSchedule,
  ProgressCallback,
} from '../keras/callbacks.js';
import { CLASS_NAMES, type Split } from '../data/index.js';
import { lrForEpoch, type TrainConfig } from '../runs/config.js';
import type { PreparedData } from './prepare.js';
import { rssMB, writeHistory, writeRunInfo, writeTestResults, type EpochRecord, type RunInfo } from '../runs/files.js';
import { formatEpoch, type TrainResult } from './pytorch.js';

/** NHWC images and one-hot labels; a 1-channel NCHW buffer is the same bytes, so no copy of the pixels. */
function toTensors(s: Split): { x: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.tensor4d(s.images, [s.count, 28, 28, 1]),
    y: tf.cast(tf.oneHot(tf.tensor1d(s.labels, 'int32'), 10), 'float32') as tf.Tensor2D,
  }));
}

/** Class probabilities (n × 10) for images scaled to [0,1]. */
export function predictKeras(model: tfl.LayersModel, images: Float32Array, n: number, batchSize = 1000): Float32Array {
  const out = new Float32Array(n * 10);
  for (let i = 0; i < n; i += batchSize) {
    const len = Math.min(batchSize, n - i);
    const probs = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(i * 784, (i + len) * 784), [len, 28, 28, 1]);
      return (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
    });
    out.set(probs, i * 10);
  }
  return out;
}

export function kerasDefinition(model: tfl.LayersModel): string {
  return model.layers
    .map((l) => {
      const c = l.getConfig();
      const args = ['filters', 'units', 'kernelSize', 'poolSize', 'rate', 'activation']
        .filter((k) => c[k] !== undefined)
        .map((k) => `${k}=${JSON.stringify(c[k])}`);
      return `${l.getClassName()}(${args.join(', ')})`;
    })
    .join(' → ');
}

export function trainKeras(cfg: TrainConfig, data: PreparedData, log: (s: string) => void): Promise<TrainResult> {
  return withSeededMathRandom(cfg.seed, () => train(cfg, data, log));
}

async function train(cfg: TrainConfig, data: PreparedData, log: (s: string) => void): Promise<TrainResult> {
  await useTorchBackend();
  setNumThreads(cfg.threads);
  const model = KERAS_MODELS[cfg.model]();
  const optimizer = tf.train.adam(cfg.lr);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const params = model.countParams();
  const info: RunInfo = {
    framework: 'keras',
    model: cfg.model,
    params,
    config: cfg,
    engine: {
      tfjs: tf.version_core,
      backend: tf.getBackend(),
      libtorch: libtorchVersion,
      threads: String(getNumThreads()),
    },
    definition: kerasDefinition(model),
    modelFile: MODEL_JSON,
    data: data.summary,
    createdAt: new Date().toISOString(),
    host: { cpus: availableParallelism(), node: process.version },
  };
  writeRunInfo(cfg.out, info);
  log(
    `keras ${cfg.model}: ${params.toLocaleString('en-US')} parameters, ${data.train.count} train / ${data.val?.count ?? 0} val images, tfjs ${tf.version_core} on backend '${tf.getBackend()}', ${getNumThreads()} threads`,
  );

  const train = toTensors(data.train);
  const val = data.val ? toTensors(data.val) : null;
  const numBatches = Math.ceil(data.train.count / cfg.batchSize);
  const progress = new ProgressCallback(cfg.epochs, numBatches, cfg.batchSize, data.train.count);
  const history: EpochRecord[] = [];
  const historyCb = new HistoryCallback((epoch, logs) => {
    const t = progress.timings[epoch - 1];
    const rec: EpochRecord = {
      epoch,
      loss: logs.loss,
      accuracy: logs.acc,
      valLoss: logs.val_loss ?? null,
      valAccuracy: logs.val_acc ?? null,
      seconds: t.trainSeconds,
      rssMB: rssMB(),
    };
    history.push(rec);
    writeHistory(cfg.out, history);
    log(`${formatEpoch(rec, cfg.epochs, t.images / t.trainSeconds)}  tensors ${tf.memory().numTensors}`);
  });
  // tfjs's Adam reads its learningRate field on every step, so a schedule can set it per epoch.
  const schedule = new LearningRateSchedule((epoch) => {
    (optimizer as unknown as { learningRate: number }).learningRate = lrForEpoch(cfg, epoch);
  });
  const callbacks: tfl.Callback[] = [schedule, progress, historyCb];
  const early = val && cfg.patience > 0 ? new EarlyStoppingRestoreBest(cfg.patience) : null;
  if (early) callbacks.push(early);

  try {
    await model.fit(train.x, train.y, {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      shuffle: true,
      validationData: val ? [val.x, val.y] : undefined,
      callbacks,
      verbose: 0,
    });
  } finally {
    tf.dispose(val ? [train.x, train.y, val.x, val.y] : [train.x, train.y]);
  }
  const bestEpoch = early?.bestEpoch || history.length;
  if (early?.stoppedEarly)
    log(`early stopping: no better validation loss for ${cfg.patience} epochs; restored epoch ${bestEpoch}`);

  await model.save(fileHandler(cfg.out));
  const probs = predictKeras(model, data.test.images, data.test.count);
  const metrics = writeTestResults(cfg.out, info, history, bestEpoch, probs, data.test.labels, CLASS_NAMES);
  log(
    `test accuracy ${metrics.testAccuracy.toFixed(4)}, test loss ${metrics.testLoss.toFixed(4)} (best epoch ${bestEpoch}); wrote ${cfg.out}`,
  );
  model.dispose();
  optimizer.dispose(); // tfjs optimizers own their moments apart from the model
  return { info, history, metrics };
}
