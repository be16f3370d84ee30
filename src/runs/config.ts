// The training job's one typed config, as a zod schema: it gives the type, the defaults, the validation
// messages and `fmnist train`'s help text. Unknown keys are rejected; every run writes its final config to run.json.
// The defaults reach the seed's accuracy (CNN >= 0.915, dense >= 0.878) on both frameworks.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { FRAMEWORKS, PRECISIONS, type EngineOptions, type Framework, type Precision } from '../engines/index.js';
import { MODEL_IDS, getModel } from '../models/index.js';
import { cosineLr, oneCycleLr } from '../util/schedules.js';
import { RECIPES, RECIPE_NAMES, type Recipe, type RecipeName } from './recipes.js';

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
const oneOf = (xs: readonly string[]) => ({
  schema: z.enum(xs as [string, ...string[]]),
  must: `one of ${xs.join(', ')}`,
});
const str = { schema: z.string(), must: 'a string' };
/** A number in [lo, hi], or (lo, hi] when `loOpen`. */
const num = (lo: number, hi: number, loOpen = false) => ({
  schema: (loOpen ? z.number().gt(lo) : z.number().min(lo)).max(hi),
  must: `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`,
});

export const LR_SCHEDULES = ['constant', 'cosine', 'onecycle'] as const;
export const OPTIMIZERS = ['sgd', 'adam', 'adamw', 'radam'] as const;
const AUGMENT = ['crop', 'flip', 'erase'] as const;
const bool = { schema: z.boolean(), must: 'true or false' };
/** 'none' or a comma list; the CLI hands the string, a config file or test may hand the array. */
const augmentList = {
  schema: z.preprocess(
    (v) => (typeof v === 'string' ? (v === 'none' || v === '' ? [] : v.split(',').map((s) => s.trim())) : v),
    z.array(z.enum(AUGMENT)).refine((a) => new Set(a).size === a.length),
  ),
  must: `'none' or a comma list of ${AUGMENT.join(', ')}`,
};

/** Every key of the config, in run.json's order. Defaults that depend on the model are filled by makeConfig. */
export const CONFIG_FIELDS = {
  framework: { ...oneOf(FRAMEWORKS), help: 'which implementation', arg: '<name>' },
  model: { ...oneOf(MODEL_IDS), help: 'which network, from `fmnist models`', arg: '<id>' },
  recipe: {
    ...oneOf(RECIPE_NAMES),
    help: 'named defaults for the optimizer, schedule, regularizers and augmentation',
    defaultText: "the model's (seed for dense and cnn, modern for the rest)",
    arg: '<name>',
  },
  epochs: {
    ...int(1),
    help: 'most epochs to run; early stopping may end sooner',
    defaultText: "the model's",
    arg: '<n>',
  },
  batchSize: { ...int(1), help: 'mini-batch size', arg: '<n>' },
  optimizer: { ...oneOf(OPTIMIZERS), help: 'the update rule', arg: '<name>' },
  lr: { ...num(0, 10, true), help: 'peak learning rate', arg: '<x>' },
  momentum: { ...num(0, 0.999), help: "SGD's momentum", arg: '<x>' },
  nesterov: { ...bool, help: 'Nesterov momentum for SGD (--no-nesterov turns it off)' },
  weightDecay: {
    ...num(0, 1),
    help: 'weight decay: added to the gradient (sgd, adam, radam) or decoupled (adamw), as torch.optim',
    arg: '<x>',
  },
  lrSchedule: {
    ...oneOf(LR_SCHEDULES),
    help: "'cosine' decays to 0 epoch by epoch, 'onecycle' rises over the warm-up then anneals per step, 'constant' keeps it",
    arg: '<name>',
  },
  warmupEpochs: {
    ...num(0, 1000),
    help: 'epochs of linear warm-up from 0 to the peak, per step (onecycle: its rising phase)',
    arg: '<x>',
  },
  labelSmoothing: { ...num(0, 0.5), help: 'label smoothing of the training loss', arg: '<x>' },
  ema: {
    ...num(0, 0.99999),
    help: 'keep an exponential moving average of the weights with this decay, and evaluate and save it; 0 = off',
    arg: '<decay>',
  },
  augment: {
    ...augmentList,
    help: "training augmentation: 'none' or a comma list of crop, flip, erase",
    arg: '<list>',
  },
  cropPad: {
    ...int(0),
    schema: z.number().int().min(0).max(8),
    must: 'an integer in [0, 8]',
    help: "largest shift in pixels for 'crop' (zero padding, then a random 28x28 crop)",
    arg: '<n>',
  },
  eraseP: { ...num(0, 1), help: "probability of erasing a random rectangle per image, for 'erase'", arg: '<p>' },
  seed: { ...int(0), help: 'random seed for split, shuffling, init and dropout', arg: '<n>' },
  valSplit: {
    ...num(0, 0.9),
    help: 'fraction held out for validation (stratified); 0 = train on all 60,000',
    defaultText: perModel('defaultValSplit', 0.1),
    arg: '<f>',
  },
  patience: {
    ...int(0),
    help: 'epochs without a better validation loss before stopping, best weights restored; 0 = off (keep the last)',
    defaultText: perModel('defaultPatience', 5),
    arg: '<n>',
  },
  precision: {
    ...oneOf(PRECISIONS),
    help: "PyTorch's training forward: 'bfloat16' under torch.autocast (weights, evaluation and files stay float32); 'auto' uses it for the models that gain (resnet) on CPUs with native bf16",
    arg: '<name>',
  },
  threads: { ...int(1), help: 'libtorch threads', defaultText: 'the number of cores', arg: '<n>' },
  checkpointEvery: {
    ...int(0),
    help: 'write a checkpoint (DIR/checkpoint/) every N epochs, for --resume; the last epoch always; 0 = only then',
    arg: '<n>',
  },
  dataDir: {
    ...str,
    help: 'use the data in this folder only',
    defaultText: 'the usual search, see `fmnist data`',
    arg: '<dir>',
  },
  limit: { ...int(0), help: 'use only the first N training images, 0 = all (for quick tries)', arg: '<n>' },
  testLimit: { ...int(0), help: 'use only the first N test images, 0 = all', arg: '<n>' },
  out: { ...str, help: 'run folder', defaultText: 'runs/<framework>-<model>', arg: '<dir>' },
} satisfies Record<string, Field>;

/** "the model's: 5; 0 for cnn": a per-model default for --help, naming the models that set their own. */
function perModel(key: 'defaultPatience' | 'defaultValSplit', fallback: number): string {
  const byValue = new Map<number, string[]>(); // models that set their own, grouped by value
  for (const id of MODEL_IDS) {
    const v = getModel(id)[key] ?? fallback;
    if (v !== fallback) byValue.set(v, [...(byValue.get(v) ?? []), id]);
  }
  return (
    "the model's: " + [String(fallback), ...[...byValue].map(([v, ids]) => `${v} for ${ids.join(', ')}`)].join('; ')
  );
}

/** The default of a key as --help shows it; a recipe's key shows each recipe's value. */
export function defaultText(k: Key): string {
  const f: Field = CONFIG_FIELDS[k];
  if (f.defaultText) return f.defaultText;
  const show = (v: unknown) => (Array.isArray(v) ? v.join(',') || 'none' : String(v));
  if (k in RECIPES.seed) {
    const values = RECIPE_NAMES.map((r) => [r, show(RECIPES[r][k as keyof Recipe])]);
    return new Set(values.map(([, v]) => v)).size === 1 ? values[0][1] : values.map(([r, v]) => `${r} ${v}`).join(', ');
  }
  return String(defaultConfig('pytorch', 'cnn')[k]);
}

export type ConfigKey = keyof typeof CONFIG_FIELDS;
type Key = ConfigKey;

export interface TrainConfig extends Recipe {
  framework: Framework;
  model: Arch;
  /** The named defaults the optimizer, schedule, regularization and augmentation keys started from. */
  recipe: RecipeName;
  /** Upper bound; early stopping usually ends sooner. Default: the model's `defaultEpochs`. */
  epochs: number;
  /** Seeds the split, the shuffling, dropout and the initial weights. */
  seed: number;
  /** Fraction of the training set held out for validation (stratified). 0 trains on all 60,000. Default: the model's. */
  valSplit: number;
  /** Epochs without a better validation loss before stopping, best weights restored; 0 = off. Default: the model's. */
  patience: number;
  /** PyTorch's training precision; 'auto' = bfloat16 autocast for models that gain, on CPUs with native bf16. */
  precision: Precision;
  /** Intra-op threads for libtorch. Default: the number of cores. */
  threads: number;
  /** A checkpoint every N epochs (and after the last, and on SIGINT/SIGTERM), so `--resume` can continue. */
  checkpointEvery: number;
  /** Where the data is; empty means the usual search (see `fmnist data`). */
  dataDir: string;
  /** Use only the first N training / test images (0 = all). For quick tries and tests. */
  limit: number;
  testLimit: number;
  /** The run folder. */
  out: string;
}

/** The recipe a model trains with unless --recipe says otherwise. */
export const defaultRecipe = (model: Arch): RecipeName => getModel(model).recipe ?? 'seed';

/** The defaults for a framework and model: the model's epochs, the recipe's values, then the job's own. */
export function defaultConfig(
  framework: Framework,
  model: Arch,
  recipe: RecipeName = defaultRecipe(model),
): TrainConfig {
  const spec = getModel(model);
  return {
    framework,
    model,
    recipe,
    epochs: spec.defaultEpochs,
    ...RECIPES[recipe],
    augment: [...RECIPES[recipe].augment],
    seed: 42,
    valSplit: spec.defaultValSplit ?? 0.1,
    patience: spec.defaultPatience ?? 5,
    precision: 'auto',
    threads: availableParallelism(),
    checkpointEvery: 1,
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
        : [
            `${String(i.path[0])} must be ${CONFIG_FIELDS[i.path[0] as Key].must} (got ${JSON.stringify(given[i.path[0] as string])})`,
          ],
    );
    throw new Error(`invalid config: ${[...new Set(errors)].join('; ')}`);
  }
  const v = r.data as Partial<TrainConfig>;
  return { ...defaultConfig(v.framework ?? 'pytorch', v.model ?? 'cnn', v.recipe), ...v };
}

/** What the engine needs from the config to build a trainable model. */
export function engineOptions(cfg: TrainConfig): EngineOptions {
  return {
    optimizer: {
      name: cfg.optimizer,
      lr: cfg.lr,
      momentum: cfg.momentum,
      nesterov: cfg.nesterov,
      weightDecay: cfg.weightDecay,
    },
    labelSmoothing: cfg.labelSmoothing,
    ema: cfg.ema,
    threads: cfg.threads,
    precision: cfg.precision,
  };
}

/** The keys where `cfg` departs from its recipe: what the user overrode. run.json records them. */
export function recipeOverrides(cfg: TrainConfig): Partial<Recipe> {
  const base = RECIPES[cfg.recipe];
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(base) as (keyof Recipe)[])
    if (JSON.stringify(cfg[k]) !== JSON.stringify(base[k])) out[k] = cfg[k];
  return out as Partial<Recipe>;
}

/**
 * The learning rate for optimizer step `step` (0-based) of epoch `epoch` (1-based), with `stepsPerEpoch` steps
 * an epoch. 'cosine' steps once per epoch, as the seed did (so its runs are unchanged), after a per-step
 * linear warm-up; 'onecycle' is per step (its rise is the warm-up, or 30% of the steps when there is none).
 */
export function lrAt(cfg: TrainConfig, epoch: number, step: number, stepsPerEpoch: number): number {
  const t = (epoch - 1) * stepsPerEpoch + step;
  const warm = Math.round(cfg.warmupEpochs * stepsPerEpoch);
  if (cfg.lrSchedule === 'onecycle') {
    const total = cfg.epochs * stepsPerEpoch;
    const pctStart = warm > 0 ? Math.min(1, warm / total) : 0.3;
    return oneCycleLr(cfg.lr, t, total, { pctStart });
  }
  if (t < warm) return (cfg.lr * (t + 1)) / warm;
  if (cfg.lrSchedule === 'constant') return cfg.lr;
  const w = Math.ceil(cfg.warmupEpochs);
  return cosineLr(cfg.lr, Math.max(0, epoch - 1 - w), Math.max(1, cfg.epochs - w));
}
