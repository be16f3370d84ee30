// The seam between the one training loop (src/train/loop.ts) or the run loader (src/runs/predictor.ts) and a
// framework. The loop owns epochs, batches (and so augmentation), the schedule, early stopping, progress, history
// and the run folder; an engine only builds, steps, evaluates, predicts, snapshots and saves its framework's model.
import type { ModelSpec } from '../models/index.js';

/** Which update rule, with PyTorch's meaning for every field (torch.optim), in both frameworks. */
export interface OptimizerSpec {
  name: 'sgd' | 'adam' | 'adamw' | 'radam';
  /** The initial learning rate (the loop sets each step's with setLearningRate). */
  lr: number;
  /** SGD only. */
  momentum: number;
  /** SGD only: Nesterov momentum. */
  nesterov: boolean;
  /** sgd, adam, radam: L2 added to the gradient (coupled); adamw: decoupled, p -= lr * wd * p. */
  weightDecay: number;
}

export interface EngineOptions {
  optimizer: OptimizerSpec;
  /** Label smoothing of the training cross-entropy (PyTorch's label_smoothing): targets (1-e)*onehot + e/10. */
  labelSmoothing: number;
  /**
   * Decay of an exponential moving average of the weights (and BatchNorm statistics), updated after every step;
   * 0 = off. The average starts with a warm-up, min(decay, (1 + t) / (10 + t)) at step t, so early weights do
   * not linger.
   */
  ema: number;
  /** libtorch intra-op threads. */
  threads: number;
  /**
   * The training forward's precision (PyTorch): 'bfloat16' under torch.autocast, 'auto' the model's `autocast` where
   * the CPU has native bf16. Weights, evaluation and saved files are float32 either way. Keras: float32 only.
   */
  precision: Precision;
}

export const PRECISIONS = ['auto', 'float32', 'bfloat16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** The warmed-up decay of the weight average at step t (0-based). */
export const emaDecayAt = (decay: number, t: number) => Math.min(decay, (1 + t) / (10 + t));

export interface StepResult {
  /** Mean loss over the batch. */
  loss: number;
  /** How many of the batch's images were classified right. */
  correct: number;
}

/** Images are n x 784 floats in [0,1] (row-major 28x28); labels are class indices. */
export interface EngineModel {
  /** Trainable parameters, counted the same way in both frameworks. */
  readonly params: number;
  /** What run.json records: engine versions, the file the model is saved to and a readable definition. */
  readonly engine: Record<string, string>;
  readonly modelFile: string;
  readonly definition: string;
  /** Called before every optimizer step with that step's learning rate. */
  setLearningRate(lr: number): void;
  /** One optimizer step on one batch, in training mode. */
  trainStep(images: Float32Array, labels: Uint8Array, n: number): Promise<StepResult>;
  /** Mean cross-entropy and accuracy, in inference mode. */
  evaluate(images: Float32Array, labels: Uint8Array, n: number): Promise<{ loss: number; accuracy: number }>;
  /** n x 10 class probabilities, in inference mode. */
  predictProbs(images: Float32Array, n: number): Promise<Float32Array>;
  /**
   * Exchanges the live weights with their moving average, when EngineOptions.ema is on; false when it is off.
   * The loop swaps before evaluating and back after, and swaps for good before saving.
   */
  swapEma(): boolean;
  /** Keeps a copy of the weights as they are now (for early stopping's best-weight restore). */
  snapshot(): void;
  /** Puts the last snapshot's weights back; false when there is none. */
  restoreSnapshot(): boolean;
  /** Writes the model file(s) into `dir`, each atomically. */
  save(dir: string): Promise<void>;
  /**
   * Writes what training needs to continue exactly into `dir` (a checkpoint's folder): the weights, the optimizer
   * state, the best-weights snapshot, the weight average and the framework's random state (dropout).
   */
  saveTrainingState(dir: string): Promise<void>;
  /** Puts back what saveTrainingState wrote, into a model built with the same spec and options. */
  loadTrainingState(dir: string): Promise<void>;
  dispose(): void;
}

export interface Engine {
  readonly id: 'pytorch' | 'keras';
  /** Runs `fn` with every random source of the framework seeded (init, dropout). */
  seeded<T>(seed: number, fn: () => Promise<T>): Promise<T>;
  build(spec: ModelSpec, opts: EngineOptions): Promise<EngineModel>;
  /** Loads a run folder's saved model for inference (Keras needs no spec: model.json describes the model). */
  load(dir: string, modelFile: string, spec: ModelSpec | undefined): Promise<EngineModel>;
}
