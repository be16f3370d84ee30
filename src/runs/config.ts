// The training job's one typed config, as a zod schema: it gives the type, the defaults, the validation
// messages and `fmnist train`'s help text. Unknown keys are rejected; every run writes its final config to run.json.
// The defaults reach the seed's accuracy (CNN >= 0.915, dense >= 0.878) on both frameworks.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { FRAMEWORKS, type Framework } from '../engines/index.js';
import { MODEL_IDS, getModel } from '../models/index.js';
import { cosineLr } from '../util/schedules.js';

export type { Framework } from '../engines/index.js';
/** A model id from the registry (src/models). */
export type Arch = string;

interface Field {
  schema: z.ZodType;
  /** What a good value is, for error messages: "epochs must be an integer >= 1". */
  must: string;
  /** One line for --help; the default is appended from defaultConfig(). */
  help: string;
  /** Shown as the default where defaultConfig()'s value depends on the model or the machine. */
  defaultText?: string;
  /** The CLI flag's value name, e.g. `<n>`; absent for keys that are not flags. */
  arg?: string;
}

const int = (min: number) => ({ schema: z.number().int().min(min), must: `an integer >= ${min}` });
const oneOf = (xs: readonly string[]) => ({ schema: z.enum(xs as [string, ...string[]]), must: `one of ${xs.join(', ')}` });
const str = { schema: z.string(), must: 'a string' };
/** A number in [lo, hi], or (lo, hi] when `loOpen`. */
const num = (lo: number, hi: number, loOpen = false) => ({
  schema: (loOpen ? z.number().gt(lo) : z.number().min(lo)).max(hi),
  must: `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`,
});

export const LR_SCHEDULES = ['cosine', 'constant'] as const;

/** Every key of the config, in run.json's order. Defaults that depend on the model are filled by makeConfig. */
export const CONFIG_FIELDS = {
  framework: { ...oneOf(FRAMEWORKS), help: 'which implementation', arg: '<name>' },
  model: { ...oneOf(MODEL_IDS), help: 'which network, from `fmnist models`', arg: '<id>' },
  epochs: { ...int(1), help: 'most epochs to run; early stopping may end sooner',
    defaultText: "the model's", arg: '<n>' },
  batchSize: { ...int(1), help: 'mini-batch size', arg: '<n>' },
  lr: { ...num(0, 10, true), help: 'Adam learning rate', arg: '<x>' },
  lrSchedule: {
    ...oneOf(LR_SCHEDULES),
    help: "learning-rate schedule over the epochs: 'cosine' decays to 0, 'constant' keeps it",
    arg: '<name>',
  },
  seed: { ...int(0), help: 'random seed for split, shuffling, init and dropout', arg: '<n>' },
  valSplit: {
    ...num(0, 0.9),
    help: 'fraction held out for validation (stratified); 0 = train on all 60,000',
    arg: '<f>',
  },
  patience: {
    ...int(0),
    help: 'epochs without a better validation loss before stopping, best weights restored; 0 = off',
    arg: '<n>',
  },
  threads: { ...int(1), help: 'libtorch threads',
    defaultText: 'the number of cores', arg: '<n>' },
  dataDir: { ...str, help: 'use the data in this folder only',
    defaultText: 'the usual search, see `fmnist data`', arg: '<dir>' },
  limit: { ...int(0), help: 'use only the first N training images, 0 = all (for quick tries)', arg: '<n>' },
  testLimit: { ...int(0), help: 'use only the first N test images, 0 = all', arg: '<n>' },
  out: { ...str, help: 'run folder',
    defaultText: 'runs/<framework>-<model>', arg: '<dir>' },
} satisfies Record<string, Field>;

/** The default of a key as --help shows it. */
export function defaultText(k: Key): string {
  const f: Field = CONFIG_FIELDS[k];
  return f.defaultText ?? String(defaultConfig('pytorch', 'cnn')[k]);
}

export type ConfigKey = keyof typeof CONFIG_FIELDS;
type Key = ConfigKey;

export interface TrainConfig {
  framework: Framework;
  model: Arch;
  /** Upper bound; early stopping usually ends sooner. Default: the model's `defaultEpochs`. */
  epochs: number;
  /** Mini-batch size. */
  batchSize: number;
  /** Adam's (initial) learning rate. */
  lr: number;
  /** 'cosine' decays the learning rate to 0 over `epochs` (per epoch); 'constant' keeps it. */
  lrSchedule: (typeof LR_SCHEDULES)[number];
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

/** The defaults for a framework and model. */
export function defaultConfig(framework: Framework, model: Arch): TrainConfig {
  return {
    framework,
    model,
    epochs: getModel(model).defaultEpochs,
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

const KEYS = Object.keys(CONFIG_FIELDS) as Key[];
const schema = z.strictObject(
  Object.fromEntries(KEYS.map((k) => [k, CONFIG_FIELDS[k].schema.optional()])) as unknown as Record<Key, z.ZodOptional>,
);

/** Builds a config from overrides (undefined means the default), rejecting unknown keys and bad values with one message. */
export function makeConfig(overrides: Record<string, unknown>): TrainConfig {
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const r = schema.safeParse(given);
  if (!r.success) {
    const errors = r.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys'
        ? i.keys.map((k) => `unknown key '${k}' (known: ${KEYS.join(', ')})`)
        : [`${String(i.path[0])} must be ${CONFIG_FIELDS[i.path[0] as Key].must} (got ${JSON.stringify(given[i.path[0] as string])})`],
    );
    throw new Error(`invalid config: ${[...new Set(errors)].join('; ')}`);
  }
  const v = r.data as Partial<TrainConfig>;
  return { ...defaultConfig(v.framework ?? 'pytorch', v.model ?? 'cnn'), ...v };
}

/** The learning rate for a 1-based epoch under the config's schedule. */
export function lrForEpoch(cfg: TrainConfig, epoch: number): number {
  return cfg.lrSchedule === 'constant' ? cfg.lr : cosineLr(cfg.lr, epoch - 1, cfg.epochs);
}
