// Target: the training config (makeConfig in src/runs/config.ts) given random JSON objects: known and unknown
// keys, values of every type. A config it accepts must survive run.json's round trip, and give usable numbers.
import { isDeepStrictEqual } from 'node:util';
import { CONFIG_FIELDS, LR_SCHEDULES, OPTIMIZERS, engineOptions, lrAt, makeConfig } from '../../../src/runs/config.js';
import { FRAMEWORKS } from '../../../src/engines/index.js';
import { MODEL_IDS } from '../../../src/models/index.js';
import { RECIPE_NAMES } from '../../../src/runs/recipes.js';
import { invariant, unclear, type FuzzTarget } from '../harness.js';
import { jsonBytes, mutateJsonBytes, randomJson, text, type Json } from '../mutate.js';

const KEYS = Object.keys(CONFIG_FIELDS);
const STRINGS = [...FRAMEWORKS, ...MODEL_IDS, ...RECIPE_NAMES, ...OPTIMIZERS, ...LR_SCHEDULES, 'crop', 'flip', 'erase'];

export const target: FuzzTarget = {
  name: 'config',
  seeds: () => [
    jsonBytes({}),
    jsonBytes({ framework: 'pytorch', model: 'cnn', epochs: 1, limit: 2000, testLimit: 500, out: 'runs/x' }),
    jsonBytes({ framework: 'keras', model: 'dense', recipe: 'modern', augment: 'crop,flip', cropPad: 2, eraseP: 0.5 }),
    jsonBytes({
      optimizer: 'sgd',
      lr: 0.1,
      momentum: 0.9,
      nesterov: true,
      weightDecay: 5e-4,
      lrSchedule: 'onecycle',
      warmupEpochs: 2,
    }),
    jsonBytes({
      model: 'resnet',
      augment: ['crop', 'erase'],
      labelSmoothing: 0.1,
      ema: 0.999,
      valSplit: 0,
      patience: 0,
      threads: 1,
    }),
  ],
  generate(rng) {
    const o: Record<string, Json> = {};
    for (let k = rng.small(10, 0.8); k > 0; k--)
      o[rng.chance(0.9) ? rng.pick(KEYS) : rng.pick(['x', '__proto__', 'Epochs', ''])] = randomJson(rng, 2, STRINGS);
    return jsonBytes(o);
  },
  mutate: (input, rng, other) => mutateJsonBytes(input, rng, other, KEYS, STRINGS),
  run(input) {
    let v: unknown;
    try {
      v = JSON.parse(text(input));
    } catch {
      return; // not JSON: the config file's reader says so before makeConfig sees anything
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return; // makeConfig takes an object of overrides
    const cfg = makeConfig(v as Record<string, unknown>);
    // run.json keeps the config as JSON; reading it back must give the same config
    const back = makeConfig(JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>);
    invariant(
      isDeepStrictEqual(back, cfg),
      `the config changes through JSON: ${JSON.stringify(cfg)} -> ${JSON.stringify(back)}`,
    );
    engineOptions(cfg);
    for (const [epoch, step] of [
      [1, 0],
      [1, 9],
      [cfg.epochs, 9],
    ]) {
      const lr = lrAt(cfg, epoch, step, 10);
      invariant(
        Number.isFinite(lr) && lr >= 0 && lr <= cfg.lr * (1 + 1e-9),
        `lr ${lr} at epoch ${epoch} step ${step} of ${JSON.stringify(cfg)}`,
      );
    }
  },
  expected: (e) =>
    e instanceof Error && e.constructor === Error && e.message.startsWith('invalid config: ') && !unclear(e),
  timeoutMs: 1000,
};
