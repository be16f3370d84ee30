// The run folder, shared by both frameworks:
//   run.json      what was trained and how (full config, versions, how to rebuild the model)
//   history.json  {"epochs": [{epoch, loss, accuracy, valLoss, valAccuracy, seconds, rssMB}]}, rewritten each epoch
//   metrics.json  test metrics: accuracy, loss, per-class, confusion matrix, calibration
//   test-probs.bin  float32 [testCount × 10] class probabilities on the test set (for the report)
//   metrics-tta.json  (from `fmnist evaluate --tta`) metrics.json's shape, for the test-time-augmented predictions
// An ensemble folder (`fmnist ensemble`) has run.json (framework "ensemble", its members), metrics.json and
// test-probs.bin, and no model file: it predicts through its members' folders.
//   model.py      beside every model.pt: the architecture in plain torch.nn, `build(**kwargs) -> nn.Module`
//   SHA256SUMS    the SHA-256 of every other file, for `sha256sum -c`; written last, checked by readRun
//                 (src/runs/checksums.ts)
import { join } from 'node:path';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic, writeJsonAtomic, readJson } from '../util/fsutil.js';
import { SHA256SUMS, verifyChecksums } from './checksums.js';
import { CONFIG_FIELDS, type TrainConfig, type Framework, type Arch, type ConfigKey } from './config.js';
import type { Recipe } from './recipes.js';
import type { TtaView } from './tta.js';
import { pythonSource, type ModelSpec } from '../models/index.js';
import { evaluateProbs, type ClassMetrics, type Averages, type ReliabilityBin, type Evaluation } from './metrics.js';

/** What run.json's framework may say: a training framework, or 'ensemble' for an `fmnist ensemble` folder. */
export type RunFramework = Framework | 'ensemble';
export const ENSEMBLE = 'ensemble';

/** One run averaged into an ensemble, as the ensemble's run.json lists it. */
export interface EnsembleMember {
  /** Absolute path of the member's run folder. */
  dir: string;
  framework: Framework;
  model: Arch;
  params: number;
}

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
  /** 'ensemble' for an `fmnist ensemble` folder (its model is 'ensemble' too, and params the members' sum). */
  framework: RunFramework;
  model: Arch;
  params: number;
  /** An ensemble's: its first member's config, for readers that expect one; `members` says what it is. */
  config: TrainConfig;
  /** The recipe the config started from, its values, and the keys the user overrode (absent in older runs). */
  recipe?: { name: string; values: Recipe; overrides: Partial<Recipe> };
  engine: Record<string, string>;
  /**
   * @deprecated A one-line description of the model (a Python expression for the seed's PyTorch models, the
   * layer list for Keras). It cannot express a residual net: PyTorch runs carry model.py instead.
   */
  definition: string;
  /** The weights, relative to the run folder; an ensemble has none and names its run.json. */
  modelFile: string;
  data: { dir: string; origin: string; verified: boolean; trainCount: number; valCount: number; testCount: number };
  createdAt: string;
  host: { cpus: number; node: string };
  /** Ensembles only: the runs whose class probabilities it averages, with equal weight. */
  members?: EnsembleMember[];
  /** Ensembles only: whether each prediction is also averaged over the test-time views (src/runs/tta.ts). */
  tta?: boolean;
  /** Each time `fmnist train --resume` continued the run: when, and from how many epochs and batches done. */
  resumed?: { at: string; epoch: number; batch: number }[];
  /** Set when the weights were not trained by this folder's run: `fmnist import` or `fmnist convert` made it. */
  provenance?: Provenance;
}

/** Where a run folder's weights came from, when fmnist did not train them here. */
export interface Provenance {
  /** 'import': a state_dict file saved by Python; 'convert': another run folder, in the other framework. */
  kind: 'import' | 'convert';
  /** Absolute path of the source: the .pt file, or the run folder converted. */
  source: string;
  /** SHA-256 (hex) of the source file; for a converted run, of the source's weights file. */
  sha256: string;
  /** The source run's framework (convert only). */
  framework?: Framework;
  /** When the folder was made (ISO 8601). */
  createdAt: string;
}

export const isEnsemble = (info: Pick<RunInfo, 'framework'>) => info.framework === ENSEMBLE;

export interface MetricsJson {
  framework: RunFramework;
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
  /** Set when the probabilities were averaged over test-time views (metrics-tta.json, a --tta ensemble). */
  tta?: { views: TtaView[] };
}

export const METRICS_JSON = 'metrics.json';
export const METRICS_TTA_JSON = 'metrics-tta.json';
export const TEST_PROBS = 'test-probs.bin';

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

export { writeChecksums, refreshChecksums } from './checksums.js';

/**
 * run.json is the first file a (re)training writes: the folder's old SHA256SUMS no longer holds, so it goes first
 * (the folder reads as unchecked until the writer's writeChecksums, instead of as damaged).
 */
export function writeRunInfo(dir: string, info: RunInfo): void {
  rmSync(join(dir, SHA256SUMS), { force: true });
  writeJsonAtomic(join(dir, 'run.json'), info);
}

/** metrics.json's test-set fields, from an evaluation. */
export function testFields(
  ev: Evaluation,
): Pick<
  MetricsJson,
  'testAccuracy' | 'testLoss' | 'perClass' | 'macro' | 'weighted' | 'confusionMatrix' | 'ece' | 'reliability'
> {
  return {
    testAccuracy: ev.accuracy,
    testLoss: ev.loss,
    perClass: ev.perClass,
    macro: ev.macro,
    weighted: ev.weighted,
    confusionMatrix: ev.confusionMatrix,
    ece: ev.ece,
    reliability: ev.reliability,
  };
}

/** metrics.json's content from test-set probabilities and the training history. */
export function testMetrics(
  info: RunInfo,
  history: EpochRecord[],
  bestEpoch: number,
  probs: Float32Array,
  labels: Uint8Array,
  names: readonly string[],
): MetricsJson {
  const { testAccuracy, testLoss, ...rest } = testFields(evaluateProbs(probs, labels, names));
  const best = history.find((h) => h.epoch === bestEpoch) ?? history[history.length - 1];
  const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
  return {
    framework: info.framework,
    model: info.model,
    params: info.params,
    testAccuracy,
    testLoss,
    trainSeconds,
    epochs: history.length,
    bestEpoch,
    valAccuracy: best?.valAccuracy ?? null,
    valLoss: best?.valLoss ?? null,
    imagesPerSecond: trainSeconds > 0 ? (info.data.trainCount * history.length) / trainSeconds : 0,
    peakRssMB: peakRssMB(),
    ...rest,
  };
}

/** metrics.json (or metrics-tta.json: `name`), atomically. */
export function writeMetrics(dir: string, metrics: MetricsJson, name = METRICS_JSON): void {
  writeJsonAtomic(join(dir, name), metrics);
}

/** test-probs.bin: the float32 n x 10 probabilities, atomically. */
export function writeTestProbs(dir: string, probs: Float32Array): void {
  writeFileAtomic(join(dir, TEST_PROBS), new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
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
  const metrics = testMetrics(info, history, bestEpoch, probs, labels, names);
  writeTestProbs(dir, probs);
  writeMetrics(dir, metrics);
  return metrics;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const shown = (v: unknown) => {
  if (v === undefined) return 'it is missing';
  const s = JSON.stringify(v);
  return `got ${s.length > 60 ? `${s.slice(0, 57)}...` : s}`;
};

/** Checks the fields of an object that readers use without looking: one clear error naming the file and field. */
class Fields {
  constructor(
    readonly file: string,
    readonly prefix = '',
  ) {}
  fail(field: string, must: string, v: unknown): never {
    throw new Error(`${this.file}: ${this.prefix}${field} must be ${must} (${shown(v)})`);
  }
  private check(o: Json, k: string, ok: (v: unknown) => boolean, must: string, required: boolean): void {
    const v = o[k];
    if (v === undefined ? required : !ok(v)) this.fail(k, must, v);
  }
  /** A required string must not be empty either. */
  str(o: Json, k: string, required = false) {
    const ok = (v: unknown) => typeof v === 'string' && (!required || v.length > 0);
    this.check(o, k, ok, required ? 'a non-empty string' : 'a string', required);
  }
  num(o: Json, k: string, required = false) {
    this.check(o, k, (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0, 'a number >= 0', required);
  }
  bool(o: Json, k: string) {
    this.check(o, k, (v) => typeof v === 'boolean', 'true or false', false);
  }
  obj(o: Json, k: string, required = false): Json | undefined {
    this.check(o, k, isObject, 'an object', required);
    return o[k] as Json | undefined;
  }
  nested(k: string): Fields {
    return new Fields(this.file, `${this.prefix}${k}.`);
  }
}

/**
 * run.json's content as a RunInfo, after checking the fields its readers (the predictor, the report, the server)
 * use: a hand-edited or damaged file gets one message naming the field, not a TypeError deep in a reader. Older
 * runs lack some fields (recipe, provenance; keys added to the config since); those stay optional. The config's
 * keys are checked as `fmnist train` checks them, and normalized the same way ('crop,flip' -> ['crop', 'flip']).
 */
export function parseRunInfo(v: unknown, file: string): RunInfo {
  const f: Fields = new Fields(file);
  if (!isObject(v)) throw new Error(`${file}: must be a JSON object with framework, model and modelFile (${shown(v)})`);
  f.str(v, 'framework', true);
  f.str(v, 'model', true);
  const single = v.framework !== ENSEMBLE;
  // an ensemble's run.json may say no more than its members (the report's own fixtures do not)
  f.str(v, 'modelFile', single);
  f.num(v, 'params', single);
  f.str(v, 'definition');
  f.str(v, 'createdAt');
  f.bool(v, 'tta');
  f.obj(v, 'engine');
  const data = f.obj(v, 'data', single);
  if (data) {
    const d = f.nested('data');
    for (const k of ['trainCount', 'valCount', 'testCount']) d.num(data, k, true);
    d.str(data, 'dir');
    d.str(data, 'origin');
    d.bool(data, 'verified');
  }
  const host = f.obj(v, 'host', single);
  if (host) {
    f.nested('host').num(host, 'cpus');
    f.nested('host').str(host, 'node');
  }
  const recipe = f.obj(v, 'recipe');
  if (recipe) {
    f.nested('recipe').str(recipe, 'name', true);
    f.nested('recipe').obj(recipe, 'values');
    f.nested('recipe').obj(recipe, 'overrides');
  }
  const prov = f.obj(v, 'provenance');
  if (prov) {
    const p = f.nested('provenance');
    if (prov.kind !== 'import' && prov.kind !== 'convert') p.fail('kind', "'import' or 'convert'", prov.kind);
    p.str(prov, 'source', true);
    p.str(prov, 'sha256', true);
    p.str(prov, 'framework');
    p.str(prov, 'createdAt');
  }
  if (v.members !== undefined) {
    if (!Array.isArray(v.members)) f.fail('members', 'a list of run folders', v.members);
    v.members.forEach((m: unknown, i: number) => {
      if (!isObject(m)) f.fail(`members[${i}]`, 'an object with the member folder in dir', m);
      const mf = f.nested(`members[${i}]`);
      mf.str(m, 'dir', true);
      mf.str(m, 'framework');
      mf.str(m, 'model');
      mf.num(m, 'params');
    });
  }
  const config = f.obj(v, 'config', single);
  if (!config) return v as unknown as RunInfo;
  // the keys this version knows, checked and normalized as makeConfig does; others (from later versions) kept
  const checked: Json = { ...config };
  for (const k of Object.keys(CONFIG_FIELDS) as ConfigKey[]) {
    if (config[k] === undefined) continue;
    const r = CONFIG_FIELDS[k].schema.safeParse(config[k]);
    if (!r.success) f.nested('config').fail(k, CONFIG_FIELDS[k].must, config[k]);
    checked[k] = r.data;
  }
  return { ...v, config: checked } as unknown as RunInfo;
}

/**
 * A run folder's JSON files, after checking its SHA256SUMS (every loader comes through here: evaluate, predict,
 * serve, report, ensemble, convert, export). Throws one line naming the file for a damaged or malformed one.
 */
export function readRun(dir: string): { info: RunInfo; history: EpochRecord[]; metrics: MetricsJson | null } {
  if (!existsSync(dir)) throw new Error(`${dir}: run folder not found`);
  const file = join(dir, 'run.json');
  // a folder that is no run folder at all says so below, rather than that it has no SHA256SUMS
  if (existsSync(file) || existsSync(join(dir, SHA256SUMS))) verifyChecksums(dir);
  const info = parseRunInfo(readJson(file, 'run.json (is this a run folder from `fmnist train`?)'), file);
  const historyFile = join(dir, 'history.json');
  let history: EpochRecord[] = [];
  if (existsSync(historyFile)) {
    const h = readJson<{ epochs?: unknown }>(historyFile);
    if (!isObject(h) || !Array.isArray(h.epochs) || !h.epochs.every(isObject))
      throw new Error(`${historyFile}: must be {"epochs": [...]} (${shown(h)})`);
    history = h.epochs as unknown as EpochRecord[];
  }
  const metricsJson = join(dir, METRICS_JSON);
  const metrics = existsSync(metricsJson) ? readJson<MetricsJson>(metricsJson) : null;
  if (metrics !== null && (!isObject(metrics) || typeof metrics.testAccuracy !== 'number'))
    throw new Error(`${metricsJson}: not an fmnist metrics.json (no "testAccuracy" number)`);
  return { info, history, metrics };
}

export function readTestProbs(dir: string): Float32Array | null {
  const p = join(dir, TEST_PROBS);
  if (!existsSync(p)) return null;
  const b = readFileSync(p);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
