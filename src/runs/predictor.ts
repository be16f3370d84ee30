// Loads a run folder (either framework) as something that turns images into class probabilities, through the
// run's engine. Used by `fmnist evaluate`, `fmnist predict`, the report and the server. An ensemble folder loads
// its members and averages their probabilities (over the test-time views too when its run.json says tta).
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { readRun, isEnsemble, type RunInfo, type MetricsJson } from './files.js';
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

export interface LoadPredictorOptions {
  /**
   * Average each prediction over the test-time views (src/runs/tta.ts). Default: what run.json says (an
   * ensemble's `tta`; false for a trained run).
   */
  tta?: boolean;
  /**
   * Loads one trained run (a folder itself, or an ensemble's member): default, through its framework's engine;
   * src/runs/onnx-predictor.ts passes one that runs DIR/model.onnx in onnxruntime instead.
   */
  loadRun?: RunLoader;
}

/** One trained (not ensemble) run folder, already read, as a Predictor. */
export type RunLoader = (dir: string, info: RunInfo, metrics: MetricsJson | null) => Promise<Predictor>;

export async function loadPredictor(dir: string, opts: LoadPredictorOptions = {}): Promise<Predictor> {
  const { info, metrics } = readRun(dir);
  const tta = opts.tta ?? info.tta ?? false;
  const load = opts.loadRun ?? loadRun;
  // an ensemble applies TTA member by member, each over the views its own training calls for
  if (isEnsemble(info)) return loadEnsemble(dir, info, metrics, tta, load);
  const p = await load(dir, info, metrics);
  return tta ? withViews(p) : p;
}

/** A run's predictor with TTA over the views its training calls for (viewsFor). */
async function withViews(p: Predictor): Promise<Predictor> {
  const { withTta, viewsFor } = await import('./tta.js');
  const predict = withTta((x, n) => p.predict(x, n), viewsFor(p.info.config));
  return { ...p, predict };
}

async function loadRun(dir: string, info: RunInfo, metrics: MetricsJson | null): Promise<Predictor> {
  if (typeof info.modelFile !== 'string' || !info.modelFile)
    throw new Error(`${join(dir, 'run.json')}: no "modelFile" (the weights file's name)`);
  const file = join(dir, info.modelFile);
  if (!existsSync(file)) throw new Error(`${file}: model file not found (did training finish?)`);
  if (!(FRAMEWORKS as readonly string[]).includes(info.framework))
    throw new Error(`${join(dir, 'run.json')}: unknown framework '${String(info.framework)}'`);
  const spec = findModel(info.model);
  if (!spec && info.framework === 'pytorch') throw new Error(`${join(dir, 'run.json')}: unknown model '${info.model}'`);
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

/** An ensemble: its members loaded as runs (with TTA each when `tta`), their probabilities averaged. */
async function loadEnsemble(
  dir: string,
  info: RunInfo,
  metrics: MetricsJson | null,
  tta: boolean,
  load: RunLoader,
): Promise<Predictor> {
  const where = join(dir, 'run.json');
  const list = info.members;
  if (!Array.isArray(list) || list.length < 2)
    throw new Error(`${where}: an ensemble needs a 'members' list of at least 2 run folders`);
  const { averageProbs } = await import('./tta.js');
  const members: Predictor[] = [];
  try {
    for (const m of list) {
      const sub = readRun(m.dir);
      if (isEnsemble(sub.info)) throw new Error(`${where}: member ${m.dir} is itself an ensemble`);
      const run = await load(m.dir, sub.info, sub.metrics);
      members.push(tta ? await withViews(run) : run);
    }
  } catch (e) {
    for (const m of members) m.dispose();
    throw new Error(`${(e as Error).message} (a member of the ensemble ${dir})`, { cause: e });
  }
  return {
    dir,
    info,
    metrics,
    predict: async (images, n) => {
      const probs: Float32Array[] = [];
      for (const m of members) probs.push(await m.predict(images, n));
      return averageProbs(probs);
    },
    dispose: () => {
      for (const m of members) m.dispose();
    },
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
