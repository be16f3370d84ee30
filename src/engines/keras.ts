// The Keras engine: the stock tfjs Layers API (compile, trainOnBatch, predict) on our libtorch-backed backend
// 'torch'. The loop hands it its batches (so augmentation reaches Keras too); models are saved in the stock
// tfjs Layers format (model.json + weights.bin), which unmodified @tensorflow/tfjs loads.
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { readJson, writeJsonAtomic } from '../util/fsutil.js';
import * as tfl from '@tensorflow/tfjs-layers';
import { torchLayersApi, useTorchBackend } from '../tfjs-backend/index.js';
import { getNumThreads, libtorchVersion, setNumThreads } from '../torch/index.js';
import type { ModelSpec } from '../models/index.js';
import { fileHandler, loadLayersFromDir, MODEL_JSON } from './keras-io.js';
import { makeKerasOptimizer } from './keras-optimizers.js';
import { seededRandomState, setSeededRandomState, withSeededMathRandom } from './keras-seed.js';
import { readTensors, writeTensors } from './keras-state.js';
import { emaDecayAt, type Engine, type EngineModel, type EngineOptions, type StepResult } from './types.js';

/** Keras's categorical cross-entropy clips probabilities to [eps, 1 - eps] before the log. */
const EPSILON = 1e-7;

/** "Conv2D(filters=32, kernelSize=[3,3], activation="relu") → MaxPooling2D(...) → ...", for run.json. */
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

/** Trainable parameters only: Keras counts BatchNorm's moving statistics among its weights, PyTorch does not. */
export const trainableParams = (model: tfl.LayersModel) =>
  model.trainableWeights.reduce((s, w) => s + w.read().size, 0);

/** Class probabilities (n x 10) for images scaled to [0,1]. */
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

/** A moving average of every weight, BatchNormalization's moving statistics included. */
class WeightAverage {
  avg: tf.Tensor[];
  t = 0;
  constructor(
    private readonly model: tfl.LayersModel,
    readonly decay: number,
  ) {
    this.avg = model.getWeights().map((w) => tf.keep(w.clone()));
  }
  update(): void {
    const d = emaDecayAt(this.decay, this.t++);
    const next = tf.tidy(() =>
      this.model.getWeights().map((w, i) => tf.keep(tf.add(tf.mul(this.avg[i], d), tf.mul(w, 1 - d)))),
    );
    tf.dispose(this.avg);
    this.avg = next;
  }
  swap(): void {
    const live = this.model.getWeights().map((w) => tf.keep(w.clone()));
    this.model.setWeights(this.avg);
    tf.dispose(this.avg);
    this.avg = live;
  }
  dispose(): void {
    tf.dispose(this.avg);
  }
}

class KerasModel implements EngineModel {
  readonly params: number;
  readonly engine: Record<string, string>;
  readonly modelFile = MODEL_JSON;
  readonly definition: string;
  private best: tf.Tensor[] | null = null;

  constructor(
    readonly model: tfl.LayersModel,
    private readonly optimizer: tf.Optimizer | null,
    private readonly labelSmoothing = 0,
    private average: WeightAverage | null = null,
  ) {
    this.params = trainableParams(model);
    this.definition = kerasDefinition(model);
    this.engine = {
      tfjs: tf.version_core,
      backend: tf.getBackend(),
      libtorch: libtorchVersion,
      threads: String(getNumThreads()),
    };
  }

  setLearningRate(lr: number): void {
    // tfjs's Adam reads its learningRate field on every step; SGD and momentum keep -lr in a scalar that only their
    // setLearningRate() replaces (assigning the field alone left them at the initial rate).
    const o = this.optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
    if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
    else o.learningRate = lr;
  }

  async trainStep(images: Float32Array, labels: Uint8Array, n: number): Promise<StepResult> {
    if (!this.optimizer) throw new Error('keras: this model was loaded for inference and is not compiled');
    const e = this.labelSmoothing;
    const [x, y] = tf.tidy(() => {
      const onehot = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(labels.subarray(0, n)), 'int32'), 10), 'float32');
      // smoothed targets make categorical cross-entropy equal PyTorch's label_smoothing loss
      return [
        tf.tensor4d(images.subarray(0, n * 784), [n, 28, 28, 1]),
        e ? tf.add(tf.mul(onehot, 1 - e), e / 10) : onehot,
      ];
    });
    try {
      const [loss, acc] = (await this.model.trainOnBatch(x, y)) as number[];
      this.average?.update();
      return { loss, correct: Math.round(acc * n) };
    } finally {
      tf.dispose([x, y]);
    }
  }

  async evaluate(images: Float32Array, labels: Uint8Array, n: number) {
    const p = predictKeras(this.model, images, n);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const row = p.subarray(i * 10, i * 10 + 10);
      const sum = row.reduce((a, b) => a + b, 0);
      loss -= Math.log(Math.min(1 - EPSILON, Math.max(EPSILON, row[labels[i]] / sum)));
      let arg = 0;
      for (let c = 1; c < 10; c++) if (row[c] > row[arg]) arg = c;
      if (arg === labels[i]) correct++;
    }
    return { loss: loss / n, accuracy: correct / n };
  }

  async predictProbs(images: Float32Array, n: number): Promise<Float32Array> {
    return predictKeras(this.model, images, n);
  }

  swapEma(): boolean {
    this.average?.swap();
    return this.average !== null;
  }

  snapshot(): void {
    tf.dispose(this.best ?? []);
    this.best = this.model.getWeights().map((w) => tf.keep(w.clone()));
  }

  restoreSnapshot(): boolean {
    if (!this.best) return false;
    this.model.setWeights(this.best);
    return true;
  }

  async save(dir: string): Promise<void> {
    await this.model.save(fileHandler(dir));
  }

  async saveTrainingState(dir: string): Promise<void> {
    if (!this.optimizer) throw new Error('keras: this model was loaded for inference and has no training state');
    const mathRandom = seededRandomState(); // before anything else could draw from it
    await this.save(dir); // a checkpoint's model loads like a run's
    const names = this.model.trainableWeights.map((w) => w.name);
    const slots = await this.optimizer.getWeights();
    try {
      await writeTensors(dir, 'optimizer', slots, { variables: names });
    } finally {
      // getWeights makes a new scalar for the step count on every call; the rest are the optimizer's own variables
      slots.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
    }
    if (this.best)
      await writeTensors(
        dir,
        'best',
        this.best.map((tensor, i) => ({ name: `w${i}`, tensor })),
      );
    if (this.average)
      await writeTensors(
        dir,
        'average',
        this.average.avg.map((tensor, i) => ({ name: `w${i}`, tensor })),
        { t: this.average.t },
      );
    writeJsonAtomic(join(dir, 'random.json'), { mathRandom });
  }

  async loadTrainingState(dir: string): Promise<void> {
    if (!this.optimizer) throw new Error('keras: this model was loaded for inference and has no training state');
    const saved = await fileHandler(dir).load!();
    const values = tf.io.decodeWeights(saved.weightData!, saved.weightSpecs!);
    const w = saved.weightSpecs!.map((s) => values[s.name]);
    try {
      const mine = this.model.weights;
      if (w.length !== mine.length || w.some((t, i) => t.shape.join() !== mine[i].shape.join()))
        throw new Error(`${dir}/model.json: its weights do not fit this model (another architecture?)`);
      this.model.setWeights(w);
    } finally {
      tf.dispose(w);
    }
    // the optimizer names its slots after the variables (`<variable>/m`), whose names tfjs makes unique per
    // process: map the saved names onto this model's
    const opt = await readTensors(dir, 'optimizer');
    const names = opt.meta.variables as string[];
    const now = this.model.trainableWeights.map((w) => w.name);
    if (!Array.isArray(names) || names.length !== now.length)
      throw new Error(
        `${dir}/optimizer.json: its state is for ${names?.length} variables, this model has ${now.length}`,
      );
    const rename = new Map(names.map((n, i) => [n, now[i]]));
    await this.optimizer.setWeights(
      opt.tensors.map(({ name, tensor }) => {
        const cut = name.lastIndexOf('/');
        const v = cut < 0 ? undefined : rename.get(name.slice(0, cut));
        return { name: v ? v + name.slice(cut) : name, tensor };
      }),
    );
    tf.dispose(this.best ?? []);
    this.best = null;
    const best = await readTensors(dir, 'best', true);
    if (best.tensors.length) this.best = best.tensors.map((t) => tf.keep(t.tensor));
    if (this.average) {
      const a = await readTensors(dir, 'average');
      tf.dispose(this.average.avg);
      this.average.avg = a.tensors.map((t) => tf.keep(t.tensor));
      this.average.t = a.meta.t as number;
    }
    const r = readJson<{ mathRandom: number | null }>(join(dir, 'random.json'), 'checkpoint random state');
    if (typeof r.mathRandom === 'number') setSeededRandomState(r.mathRandom);
  }

  dispose(): void {
    tf.dispose(this.best ?? []);
    this.best = null;
    this.average?.dispose();
    this.average = null;
    this.model.dispose();
    this.optimizer?.dispose(); // tfjs optimizers own their moments apart from the model
  }
}

export const kerasEngine: Engine = {
  id: 'keras',

  // tfjs draws initializers and dropout masks from Math.random: seeded for the run, so it repeats.
  seeded: (seed, fn) => withSeededMathRandom(seed, fn),

  async build(spec: ModelSpec, opts: EngineOptions) {
    if (opts.precision === 'bfloat16')
      throw new Error('keras: --precision bfloat16 is PyTorch-only (use auto or float32)');
    await useTorchBackend();
    setNumThreads(opts.threads);
    const model = spec.keras(torchLayersApi);
    const optimizer = makeKerasOptimizer(opts.optimizer);
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    return new KerasModel(model, optimizer, opts.labelSmoothing, opts.ema ? new WeightAverage(model, opts.ema) : null);
  },

  async load(dir: string) {
    await useTorchBackend();
    return new KerasModel(await loadLayersFromDir(tfl, dir), null);
  },
};
