// Recipes, the config's new keys and the learning-rate schedules at their boundaries. Pure functions: no
// libtorch, no data.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig, lrAt, recipeOverrides, defaultConfig, defaultText } from '../../src/runs/config.js';
import { getModel } from '../../src/models/index.js';
import { RECIPES, defineRecipe } from '../../src/runs/recipes.js';

const lrs = (cfg: ReturnType<typeof makeConfig>, spe: number) =>
  Array.from({ length: cfg.epochs * spe }, (_, t) => lrAt(cfg, Math.floor(t / spe) + 1, t % spe, spe));

describe('recipes', () => {
  test('the model sets its epochs, patience and validation split; a flag overrides them; --help names them', () => {
    const cnn = makeConfig({ model: 'cnn' });
    assert.deepEqual([cnn.epochs, cnn.patience, cnn.valSplit], [getModel('cnn').defaultEpochs, 0, 0]);
    const resnet = makeConfig({ model: 'resnet' });
    assert.deepEqual([resnet.epochs, resnet.patience, resnet.valSplit], [getModel('resnet').defaultEpochs, 5, 0]);
    const mine = makeConfig({ model: 'resnet', valSplit: 0.2, patience: 3 });
    assert.deepEqual([mine.patience, mine.valSplit], [3, 0.2]);
    assert.equal(defaultText('patience'), "the model's: 5; 0 for cnn");
    assert.equal(defaultText('valSplit'), "the model's: 0.1; 0 for cnn, resnet");
  });

  test('dense and cnn default to seed, the BatchNorm nets to modern; a flag overrides its recipe', () => {
    assert.equal(makeConfig({ model: 'cnn' }).recipe, 'seed');
    assert.equal(makeConfig({ model: 'dense' }).optimizer, 'adam');
    for (const model of ['resnet', 'cnn-bn', 'mobilenet']) assert.equal(makeConfig({ model }).recipe, 'modern');
    const m = makeConfig({ model: 'resnet' });
    assert.equal(m.optimizer, RECIPES.modern.optimizer);
    assert.deepEqual(m.augment, RECIPES.modern.augment);
    const o = makeConfig({ model: 'resnet', lr: 0.01, augment: 'none', nesterov: true });
    assert.equal(o.lr, 0.01);
    assert.deepEqual(o.augment, []);
    assert.equal(o.nesterov, true);
    assert.equal(o.optimizer, RECIPES.modern.optimizer);
    assert.deepEqual(recipeOverrides(o), { lr: 0.01, augment: [], nesterov: true });
    assert.deepEqual(recipeOverrides(m), {});
    // --recipe seed on a modern-default model takes the seed's values
    const s = makeConfig({ model: 'resnet', recipe: 'seed' });
    assert.equal(s.optimizer, 'adam');
    assert.deepEqual(s.augment, []);
  });

  test('the recipe does not leak: mutating one config leaves the next untouched', () => {
    const a = defaultConfig('pytorch', 'resnet');
    a.augment.push('erase');
    assert.deepEqual(defaultConfig('pytorch', 'resnet').augment, RECIPES.modern.augment);
  });

  test('presets reject unknown keys and bad values, naming the recipe', () => {
    assert.throws(
      () => defineRecipe('mine', { ...RECIPES.seed, dropout: 0.3 }),
      /recipe 'mine': unknown key 'dropout'/,
    );
    assert.throws(() => defineRecipe('mine', { ...RECIPES.seed, optimizer: 'lion' }), /recipe 'mine': optimizer/);
    assert.throws(() => makeConfig({ recipe: 'fast' }), /recipe must be one of seed, modern/);
  });

  test('augment takes none or a comma list; anything else is refused', () => {
    assert.deepEqual(makeConfig({ augment: 'crop,flip,erase' }).augment, ['crop', 'flip', 'erase']);
    assert.deepEqual(makeConfig({ augment: 'none' }).augment, []);
    assert.throws(
      () => makeConfig({ augment: 'crop,rotate' }),
      /augment must be 'none' or a comma list of crop, flip, erase/,
    );
    assert.throws(() => makeConfig({ augment: 'flip,flip' }), /augment must be/);
    assert.throws(() => makeConfig({ cropPad: 9 }), /cropPad must be an integer in \[0, 8\]/);
    assert.throws(() => makeConfig({ optimizer: 'lion' }), /optimizer must be one of sgd, adam, adamw, radam/);
    assert.throws(() => makeConfig({ lrSchedule: 'linear' }), /lrSchedule must be one of constant, cosine, onecycle/);
  });
});

describe('learning-rate schedules', () => {
  test('cosine without warm-up steps per epoch: lr for all of epoch 1, then decays, never 0', () => {
    const cfg = makeConfig({ model: 'cnn', epochs: 10, lr: 0.01, lrSchedule: 'cosine', warmupEpochs: 0 });
    const l = lrs(cfg, 4);
    assert.deepEqual(l.slice(0, 4), [0.01, 0.01, 0.01, 0.01]);
    for (let e = 1; e < 10; e++) {
      assert.ok(l[e * 4] < l[e * 4 - 1], `epoch ${e + 1} is lower`);
      assert.equal(l[e * 4], l[e * 4 + 3], `constant within epoch ${e + 1}`);
    }
    assert.ok(l.at(-1)! > 0 && l.at(-1)! < 0.0003);
  });

  test('warm-up rises linearly per step to the peak, then cosine starts at the peak', () => {
    const cfg = makeConfig({ model: 'cnn', epochs: 5, lr: 0.1, lrSchedule: 'cosine', warmupEpochs: 1 });
    const l = lrs(cfg, 10);
    for (let t = 0; t < 10; t++) assert.ok(Math.abs(l[t] - (0.1 * (t + 1)) / 10) < 1e-12, `step ${t}`);
    assert.equal(l[10], 0.1);
    assert.ok(l[20] < 0.1);
    const flat = makeConfig({ model: 'cnn', epochs: 3, lr: 0.1, lrSchedule: 'constant', warmupEpochs: 0.5 });
    const f = lrs(flat, 10);
    assert.ok(Math.abs(f[4] - 0.1) < 1e-12 && f[3] < 0.1);
    assert.ok(f.slice(5).every((x) => x === 0.1));
  });

  test('onecycle: starts at peak/25, peaks at the end of the warm-up, ends near 0', () => {
    const cfg = makeConfig({ model: 'cnn', epochs: 4, lr: 0.2, lrSchedule: 'onecycle', warmupEpochs: 1 });
    const l = lrs(cfg, 100);
    assert.ok(Math.abs(l[0] - 0.2 / 25) < 1e-12);
    assert.ok(Math.abs(l[100] - 0.2) < 1e-12, 'peak after one epoch');
    assert.ok(Math.max(...l) <= 0.2 + 1e-12);
    for (let t = 101; t < 400; t++) assert.ok(l[t] <= l[t - 1], `falls at ${t}`);
    assert.ok(l[399] < 1e-4);
    // without warm-up, the rise is PyTorch's default 30%
    const d = lrs(makeConfig({ model: 'cnn', epochs: 10, lr: 1, lrSchedule: 'onecycle', warmupEpochs: 0 }), 10);
    assert.ok(Math.abs(d[30] - 1) < 1e-12);
  });
});
