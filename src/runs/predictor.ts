// Loads a run folder (either framework) as something that turns images into class probabilities, through the
// run's engine. Used by `fmnist evaluate`, `fmnist predict`, the report and the server.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readRun, type RunInfo, type MetricsJson } from './files.js';
import { CLASS_NAMES } from '../data/index.js';
import { FRAMEWORKS, loadEngine } from '../engines/index.js';
import { findModel } from '../models/index.js';

export interface Predictor {
  readonly dir: string;
  readonly info: RunInfo;
  readonly metrics: MetricsJson | null;
  /** images: n × 784 floats in [0,1] (row-major 28×28). Returns n × 10 probabilities. */
  predict(images: Float32Array, n: number): Float32Array | Promise<Float32Array>;
  dispose(): void;
}

export async function loadPredictor(dir: string): Promise<Predictor> {
  const { info, metrics } = readRun(dir);
  const file = join(dir, info.modelFile);
  if (!existsSync(file)) throw new Error(`${file}: model file not found (did training finish?)`);
  if (!(FRAMEWORKS as readonly string[]).includes(info.framework))
    throw new Error(`${join(dir, 'run.json')}: unknown framework '${String(info.framework)}'`);
  const spec = findModel(info.model);
  if (!spec && info.framework === 'pytorch')
    throw new Error(`${join(dir, 'run.json')}: unknown model '${info.model}'`);
  const engine = await loadEngine(info.framework);
  const model = await engine.load(dir, info.modelFile, spec);
  return {
    dir,
    info,
    metrics,
    predict: (images, n) => model.predictProbs(images, n),
    dispose: () => model.dispose(),
  };
}

/** The k most probable classes of row `row` of an n × 10 probability matrix. */
export function topK(probs: Float32Array, row: number, k = 3) {
  const p = Array.from(probs.subarray(row * 10, row * 10 + 10));
  return p
    .map((probability, label) => ({ label, class: CLASS_NAMES[label], probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}
