// The training job's one typed config. Defaults are the values that reach the seed's accuracy
// (CNN >= 0.915, dense >= 0.878) on both frameworks; every run writes its final config to run.json.
import { availableParallelism } from 'node:os';

export type Framework = 'pytorch' | 'keras';
export type Arch = 'dense' | 'cnn';

export interface TrainConfig {
  framework: Framework;
  model: Arch;
  /** Upper bound; early stopping usually ends sooner. Default: 20 (dense), 15 (cnn). */
  epochs: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Adam's (initial) learning rate. */
  lr: number;
  /** 'cosine' decays the learning rate to 0 over `epochs` (per epoch); 'constant' keeps it. */
  lrSchedule: 'cosine' | 'constant';
  /** Seeds the split, the shuffling, dropout and the initial weights. */
  seed: number;
  /** Fraction of the training set held out for validation (stratified). 0 trains on all 60,000. */
  valSplit: number;
  /** Epochs without a better validation loss before stopping; the best weights are restored. 0 turns it off. */
  patience: number;
  /** Intra-op threads for libtorch. Default: the number of cores. */
  threads: number;
  /** Where the data is; empty means the usual search (see `fmnist data`). */
  dataDir: string;
  /** Use only the first N training / test images (0 = all). For quick tries and tests. */
  limit: number;
  testLimit: number;
  /** The run folder. */
  out: string;
}

/** The learning rate for a 1-based epoch under the config's schedule. */
export function lrForEpoch(cfg: TrainConfig, epoch: number): number {
  if (cfg.lrSchedule === 'constant') return cfg.lr;
  return (cfg.lr * (1 + Math.cos((Math.PI * (epoch - 1)) / cfg.epochs))) / 2;
}

export const DEFAULT_EPOCHS: Record<Arch, number> = { dense: 20, cnn: 20 };

export function defaultConfig(framework: Framework, model: Arch): TrainConfig {
  return {
    framework,
    model,
    epochs: DEFAULT_EPOCHS[model],
    batchSize: 64,
    lr: 1e-3,
    lrSchedule: 'cosine',
    seed: 42,
    valSplit: 0.1,
    patience: 5,
    threads: availableParallelism(),
    dataDir: '',
    limit: 0,
    testLimit: 0,
    out: `runs/${framework}-${model}`,
  };
}

type Check = (v: unknown) => string | null;
const int =
  (min: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min ? null : `an integer >= ${min}`;
const num =
  (lo: number, hi: number, loOpen = false): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && v <= hi
      ? null
      : `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`;
const oneOf =
  (...xs: string[]): Check =>
  (v) =>
    xs.includes(v as string) ? null : `one of ${xs.join(', ')}`;
const str: Check = (v) => (typeof v === 'string' ? null : 'a string');

const CHECKS: Record<keyof TrainConfig, Check> = {
  framework: oneOf('pytorch', 'keras'),
  model: oneOf('dense', 'cnn'),
  epochs: int(1),
  batchSize: int(1),
  lr: num(0, 10, true),
  lrSchedule: oneOf('cosine', 'constant'),
  seed: int(0),
  valSplit: num(0, 0.9),
  patience: int(0),
  threads: int(1),
  dataDir: str,
  limit: int(0),
  testLimit: int(0),
  out: str,
};

/** Builds a config from overrides, rejecting unknown keys and bad values with one clear message. */
export function makeConfig(overrides: Record<string, unknown>): TrainConfig {
  const framework = (overrides.framework ?? 'pytorch') as Framework;
  const model = (overrides.model ?? 'cnn') as Arch;
  const errors: string[] = [];
  for (const k of ['framework', 'model'] as const) {
    const e = CHECKS[k](overrides[k] ?? (k === 'framework' ? framework : model));
    if (e) errors.push(`${k} must be ${e} (got ${JSON.stringify(overrides[k])})`);
  }
  if (errors.length) throw new Error(`invalid config: ${errors.join('; ')}`);
  const cfg = defaultConfig(framework, model) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(k in CHECKS)) {
      errors.push(`unknown key '${k}' (known: ${Object.keys(CHECKS).join(', ')})`);
      continue;
    }
    const e = CHECKS[k as keyof TrainConfig](v);
    if (e) errors.push(`${k} must be ${e} (got ${JSON.stringify(v)})`);
    else cfg[k] = v;
  }
  if (errors.length) throw new Error(`invalid config: ${errors.join('; ')}`);
  return cfg as unknown as TrainConfig;
}
