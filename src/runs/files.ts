// The run folder, shared by both frameworks:
//   run.json      what was trained and how (full config, versions, how to rebuild the model)
//   history.json  {"epochs": [{epoch, loss, accuracy, valLoss, valAccuracy, seconds, rssMB}]}, rewritten each epoch
//   metrics.json  test metrics: accuracy, loss, per-class, confusion matrix, calibration
//   test-probs.bin  float32 [testCount × 10] class probabilities on the test set (for the report)
//   model.py      beside every model.pt: the architecture in plain torch.nn, `build(**kwargs) -> nn.Module`
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic, writeJsonAtomic, readJson } from '../util/fsutil.js';
import type { TrainConfig, Framework, Arch } from './config.js';
import type { Recipe } from './recipes.js';
import { pythonSource, type ModelSpec } from '../models/index.js';
import { evaluateProbs, type ClassMetrics, type Averages, type ReliabilityBin } from './metrics.js';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** Wall time of the epoch's training pass only. */
  seconds: number;
  rssMB: number;
}

export interface RunInfo {
  framework: Framework;
  model: Arch;
  params: number;
  config: TrainConfig;
  /** The recipe the config started from, its values, and the keys the user overrode (absent in older runs). */
  recipe?: { name: string; values: Recipe; overrides: Partial<Recipe> };
  engine: Record<string, string>;
  /**
   * @deprecated A one-line description of the model (a Python expression for the seed's PyTorch models, the
   * layer list for Keras). It cannot express a residual net: PyTorch runs carry model.py instead.
   */
  definition: string;
  modelFile: string;
  data: { dir: string; origin: string; verified: boolean; trainCount: number; valCount: number; testCount: number };
  createdAt: string;
  host: { cpus: number; node: string };
}

export interface MetricsJson {
  framework: Framework;
  model: Arch;
  params: number;
  testAccuracy: number;
  testLoss: number;
  trainSeconds: number;
  epochs: number;
  bestEpoch: number;
  valAccuracy: number | null;
  valLoss: number | null;
  imagesPerSecond: number;
  peakRssMB: number;
  perClass: ClassMetrics[];
  macro: Averages;
  weighted: Averages;
  confusionMatrix: number[][];
  ece: number;
  reliability: ReliabilityBin[];
}

export const rssMB = () => process.memoryUsage.rss() / 2 ** 20;
export const peakRssMB = () => process.resourceUsage().maxRSS / 1024;

export function writeHistory(dir: string, epochs: EpochRecord[]): void {
  writeJsonAtomic(join(dir, 'history.json'), { epochs });
}

export const MODEL_PY = 'model.py';

/** model.py: `exec(open("model.py").read()); m = build(); m.load_state_dict(torch.load("model.pt"), strict=True)`. */
export function writeModelPy(dir: string, spec: ModelSpec): void {
  writeFileAtomic(join(dir, MODEL_PY), pythonSource(spec));
}

export function writeRunInfo(dir: string, info: RunInfo): void {
  writeJsonAtomic(join(dir, 'run.json'), info);
}

/** Computes and writes metrics.json and test-probs.bin from test-set probabilities. */
export function writeTestResults(
  dir: string,
  info: RunInfo,
  history: EpochRecord[],
  bestEpoch: number,
  probs: Float32Array,
  labels: Uint8Array,
  names: readonly string[],
): MetricsJson {
  const ev = evaluateProbs(probs, labels, names);
  const best = history.find((h) => h.epoch === bestEpoch) ?? history[history.length - 1];
  const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
  const metrics: MetricsJson = {
    framework: info.framework,
    model: info.model,
    params: info.params,
    testAccuracy: ev.accuracy,
    testLoss: ev.loss,
    trainSeconds,
    epochs: history.length,
    bestEpoch,
    valAccuracy: best?.valAccuracy ?? null,
    valLoss: best?.valLoss ?? null,
    imagesPerSecond: trainSeconds > 0 ? (info.data.trainCount * history.length) / trainSeconds : 0,
    peakRssMB: peakRssMB(),
    perClass: ev.perClass,
    macro: ev.macro,
    weighted: ev.weighted,
    confusionMatrix: ev.confusionMatrix,
    ece: ev.ece,
    reliability: ev.reliability,
  };
  writeFileAtomic(join(dir, 'test-probs.bin'), new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
  writeJsonAtomic(join(dir, 'metrics.json'), metrics);
  return metrics;
}

export function readRun(dir: string): { info: RunInfo; history: EpochRecord[]; metrics: MetricsJson | null } {
  if (!existsSync(dir)) throw new Error(`${dir}: run folder not found`);
  const info = readJson<RunInfo>(join(dir, 'run.json'), 'run.json (is this a run folder from `fmnist train`?)');
  const history = existsSync(join(dir, 'history.json'))
    ? readJson<{ epochs: EpochRecord[] }>(join(dir, 'history.json')).epochs
    : [];
  const metrics = existsSync(join(dir, 'metrics.json')) ? readJson<MetricsJson>(join(dir, 'metrics.json')) : null;
  return { info, history, metrics };
}

export function readTestProbs(dir: string): Float32Array | null {
  const p = join(dir, 'test-probs.bin');
  if (!existsSync(p)) return null;
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
