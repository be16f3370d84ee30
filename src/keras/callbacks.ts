// Keras callbacks the trainer needs that tfjs-layers lacks or leaves out:
// EarlyStopping that restores the best weights (tfjs throws NotImplementedError for
// restoreBestWeights), a progress bar, and a history written to disk after each epoch.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ProgressBar } from '../util/progress.js';

type Logs = Record<string, number | tf.Scalar>;
const num = (v: number | tf.Scalar | undefined): number | undefined =>
  v === undefined ? undefined : typeof v === 'number' ? v : v.dataSync()[0];

export class EarlyStoppingRestoreBest extends tfl.Callback {
  private best = Infinity;
  private wait = 0;
  private weights: tf.Tensor[] | null = null;
  bestEpoch = 0;
  stoppedEarly = false;

  constructor(
    private readonly patience: number,
    private readonly monitor = 'val_loss',
  ) {
    super();
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const current = num(logs?.[this.monitor]);
    if (current === undefined) return;
    if (current < this.best) {
      this.best = current;
      this.wait = 0;
      this.bestEpoch = epoch + 1;
      tf.dispose(this.weights ?? []);
      this.weights = this.model.getWeights().map((w) => tf.keep(w.clone()));
    } else if (++this.wait >= this.patience) {
      this.stoppedEarly = true;
      this.model.stopTraining = true;
    }
  }

  override async onTrainEnd(): Promise<void> {
    if (!this.weights) return;
    this.model.setWeights(this.weights);
    tf.dispose(this.weights);
    this.weights = null;
  }
}

export interface EpochTiming {
  /** Seconds from the first batch to the end of the last one: the training pass only, no validation. */
  trainSeconds: number;
  images: number;
}

/** The per-batch progress bar; also times each epoch's training pass. */
export class ProgressCallback extends tfl.Callback {
  private bar: ProgressBar | null = null;
  private t0 = 0;
  private lastBatchEnd = 0;
  private seen = 0;
  timings: EpochTiming[] = [];

  constructor(
    private readonly epochs: number,
    private readonly numBatches: number,
    private readonly batchSize: number,
    private readonly trainCount: number,
  ) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    this.bar = new ProgressBar(this.numBatches, `epoch ${epoch + 1}/${this.epochs}`);
    this.seen = 0;
    this.t0 = performance.now();
  }

  override async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    this.seen = Math.min(this.trainCount, (batch + 1) * this.batchSize);
    this.lastBatchEnd = performance.now();
    const loss = num(logs?.loss);
    const acc = num(logs?.acc);
    this.bar?.update(batch + 1, { loss: loss?.toFixed(4) ?? '-', acc: acc?.toFixed(4) ?? '-' }, this.seen);
  }

  override async onEpochEnd(): Promise<void> {
    this.bar?.done();
    this.timings.push({ trainSeconds: (this.lastBatchEnd - this.t0) / 1000, images: this.seen });
  }
}

/** Calls `write` with every epoch's logs as soon as the epoch ends. */
export class HistoryCallback extends tfl.Callback {
  constructor(private readonly write: (epoch: number, logs: Record<string, number>) => void) {
    super();
  }
  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const plain: Record<string, number> = {};
    for (const [k, v] of Object.entries(logs ?? {})) plain[k] = num(v)!;
    this.write(epoch + 1, plain);
  }
}

/** Calls `set` with the 1-based epoch before each epoch starts (for learning-rate schedules). */
export class LearningRateSchedule extends tfl.Callback {
  constructor(private readonly set: (epoch: number) => void) {
    super();
  }
  override async onEpochBegin(epoch: number): Promise<void> {
    this.set(epoch + 1);
  }
}
