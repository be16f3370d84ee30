// The models a server answers with: each run folder loaded as a Predictor, with its own
// micro-batcher, and the files a browser may fetch from it (tfjs model.json and weights, report images;
// model.onnx is found, or made, when it is asked for).
import { basename, dirname, join, resolve } from 'node:path';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadPredictor, type Predictor } from '../runs/predictor.js';
import { isEnsemble, type MetricsJson, type RunInfo } from '../runs/files.js';
import { MicroBatcher, type BatcherOptions } from './batcher.js';

export type PredictorLoader = (dir: string) => Promise<Predictor>;

/** What computes a served model's probabilities: each run's own framework, or onnxruntime-node on its model.onnx. */
export const SERVE_ENGINES = ['framework', 'onnx'] as const;
export type ServeEngine = (typeof SERVE_ENGINES)[number];

/** The loader for `engine`; for 'onnx', a folder without model.onnx is exported first (src/runs/onnx-export.ts). */
export function predictorLoader(engine: string, opts: { threads?: number } = {}): PredictorLoader {
  if (engine === 'framework') return (dir) => loadPredictor(dir);
  if (engine === 'onnx')
    return async (dir) => (await import('../runs/onnx-predictor.js')).loadOnnxPredictor(dir, { threads: opts.threads });
  throw new Error(`--engine ${engine}: unknown engine (known: ${SERVE_ENGINES.join(', ')})`);
}

/** Gives the path of a run folder's ONNX model (`DIR/model.onnx`), making it first if it can; throws if there is none. */
export type OnnxFileProvider = (dir: string) => Promise<string>;

export interface ServedFile {
  path: string;
  type: string;
}

export interface ServedModel {
  id: string;
  dir: string;
  info: RunInfo;
  metrics: MetricsJson | null;
  predictor: Predictor;
  batcher: MicroBatcher;
  /** Files under /v1/models/<id>/<name>. */
  files: Map<string, ServedFile>;
  /** Where a browser loads the model with tf.loadLayersModel, or why it cannot. */
  browser: { modelJson: string } | { unavailable: string };
  /** Where a browser loads the model with onnxruntime-web (the file is made or found on request), or why it cannot. */
  onnx: { model: string } | { unavailable: string };
  confusionImage: string | null;
}

export class ModelLoadError extends Error {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function modelId(dir: string, info: RunInfo, taken: Set<string>): string {
  let base = basename(resolve(dir))
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  if (!NAME.test(base)) base = `${info.framework}-${info.model}`;
  let id = base;
  for (let i = 2; taken.has(id); i++) id = `${base}-${i}`;
  taken.add(id);
  return id;
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** The default OnnxFileProvider: `DIR/model.onnx` if the run folder has one. It exports nothing. */
export async function existingOnnxFile(dir: string): Promise<string> {
  const file = join(dir, 'model.onnx');
  if (!isFile(file)) throw new Error('the run folder has no model.onnx');
  return file;
}

/** A tfjs Layers model.json and the weight files it names, all next to each other in the run folder. */
function browserFiles(dir: string, info: RunInfo, files: Map<string, ServedFile>): ServedModel['browser'] {
  if (isEnsemble(info))
    return { unavailable: 'an ensemble runs on the server only (its members are separate run folders)' };
  if (info.framework !== 'keras') return { unavailable: 'only Keras (tfjs Layers) runs can run in the browser' };
  const modelJson = join(dir, info.modelFile);
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(modelJson, 'utf8'));
  } catch (e) {
    return { unavailable: `${modelJson} is not a tfjs model.json (${(e as Error).message})` };
  }
  const m = manifest as { modelTopology?: unknown; weightsManifest?: { paths?: unknown }[] };
  if (!m.modelTopology || !Array.isArray(m.weightsManifest))
    return { unavailable: `${modelJson} is not a tfjs Layers model.json (no modelTopology / weightsManifest)` };
  const weights: [string, ServedFile][] = [];
  for (const group of m.weightsManifest) {
    for (const p of Array.isArray(group.paths) ? group.paths : []) {
      // "./weights.bin" and "weights.bin" are the same file; the browser resolves both next to model.json.
      const name = typeof p === 'string' ? p.replace(/^(\.\/)+/, '') : '';
      if (!NAME.test(name) || name === 'model.json')
        return { unavailable: `${modelJson}: weight file '${String(p)}' is not a plain file name next to model.json` };
      // Weight paths are relative to model.json, as tf.loadLayersModel reads them.
      const file = join(dirname(modelJson), name);
      if (!isFile(file)) return { unavailable: `${file}: weight file not found` };
      weights.push([name, { path: file, type: 'application/octet-stream' }]);
    }
  }
  files.set('model.json', { path: modelJson, type: 'application/json; charset=utf-8' });
  for (const [name, f] of weights) files.set(name, f);
  return { modelJson: 'model.json' };
}

/** The confusion-matrix picture from the run's report, if there is one (run folder or its report/ folder). */
function findConfusionImage(dir: string): ServedFile | null {
  for (const sub of ['.', 'report']) {
    const d = join(dir, sub);
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      continue;
    }
    const hit = ['.png', '.svg']
      .map((ext) => names.find((n) => /confusion/i.test(n) && n.toLowerCase().endsWith(ext)))
      .find((n) => n && isFile(join(d, n)));
    if (hit)
      return {
        path: join(d, hit),
        type: hit.toLowerCase().endsWith('.svg') ? 'image/svg+xml' : 'image/png',
      };
  }
  return null;
}

/**
 * Loads every run folder. If one fails, the ones already loaded are disposed and a ModelLoadError
 * says which folder and why, so `fmnist serve` stops with a clear message instead of serving half.
 */
export async function loadModels(
  dirs: string[],
  opts: { loader?: PredictorLoader; batcher?: (id: string) => BatcherOptions } = {},
): Promise<ServedModel[]> {
  if (dirs.length === 0) throw new ModelLoadError('no models given: pass at least one --model <run folder>');
  const loader = opts.loader ?? loadPredictor;
  const models: ServedModel[] = [];
  const taken = new Set<string>();
  try {
    for (const dir of dirs) {
      if (!existsSync(dir)) throw new ModelLoadError(`cannot load model '${dir}': run folder not found`);
      let predictor: Predictor;
      try {
        predictor = await loader(dir);
      } catch (e) {
        throw new ModelLoadError(`cannot load model '${dir}': ${(e as Error).message}`);
      }
      // One prediction now, so a model that loads but cannot run stops startup rather than the first request.
      try {
        const y = await predictor.predict(new Float32Array(784), 1);
        if (y.length !== 10 || !Array.from(y).every(Number.isFinite))
          throw new Error(
            `it gave ${y.length} values (${Array.from(y).slice(0, 10).join(', ')}), expected 10 probabilities`,
          );
      } catch (e) {
        try {
          predictor.dispose();
        } catch {
          // Reporting the first problem matters more.
        }
        throw new ModelLoadError(`cannot load model '${dir}': a test prediction failed: ${(e as Error).message}`);
      }
      const { info, metrics } = predictor;
      const id = modelId(dir, info, taken);
      const files = new Map<string, ServedFile>();
      const browser = browserFiles(dir, info, files);
      const confusion = findConfusionImage(dir);
      let confusionImage: string | null = null;
      if (confusion) {
        confusionImage = `confusion${confusion.type === 'image/png' ? '.png' : '.svg'}`;
        files.set(confusionImage, confusion);
      }
      const onnx = isEnsemble(info)
        ? { unavailable: 'an ensemble runs on the server only (its members are separate run folders)' }
        : { model: 'model.onnx' };
      const batcher = new MicroBatcher((x, n) => predictor.predict(x, n), opts.batcher?.(id));
      models.push({ id, dir, info, metrics, predictor, batcher, files, browser, onnx, confusionImage });
    }
  } catch (e) {
    disposeModels(models);
    throw e;
  }
  return models;
}

export function disposeModels(models: ServedModel[]): void {
  for (const m of models) {
    m.batcher.close();
    try {
      m.predictor.dispose();
    } catch {
      // Already gone; nothing more to free.
    }
  }
}
