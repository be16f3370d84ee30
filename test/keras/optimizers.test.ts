// The Keras side's optimizers (src/engines/keras-optimizers.ts) against torch.optim: the same trajectories as
// test/torch/ops.test.ts (test/fixtures/torch/reference.json: p0, fixed gradients, per-step learning rates),
// on our 'torch' backend and on tfjs's plain 'cpu' one; then every OptimizerSpec name trains a tiny model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useTorchBackend } from '../../src/tfjs-backend/index.js';
import { withSeededMathRandom } from '../../src/engines/keras-seed.js';
import {
  AdamW,
  makeKerasOptimizer,
  RAdam,
  TorchAdam,
  TorchMomentum,
  TorchSGD,
} from '../../src/engines/keras-optimizers.js';
import type { OptimizerSpec } from '../../src/engines/types.js';
import { assertClose, readReference, type TensorRec } from '../torch/helpers.js';

interface OptimConfig {
  name: string;
  kind: 'SGD' | 'Adam' | 'AdamW' | 'RAdam';
  opts: {
    lr: number;
    momentum?: number;
    dampening?: number;
    weight_decay?: number;
    nesterov?: boolean;
    betas?: [number, number];
    eps?: number;
  };
  traj: TensorRec[];
  lrs?: number[];
  grads?: TensorRec[];
}
const { optim } = readReference<{ optim: { p0: TensorRec; grads: TensorRec[]; configs: OptimConfig[] } }>();

const TOL = { rtol: 1e-5, atol: 1e-5 };

/** As the Keras engine's setLearningRate does it, before every step. */
const setLr = (o: tf.Optimizer, lr: number) => void ((o as unknown as { learningRate: number }).learningRate = lr);

/**
 * The optimizer for a fixture config: through makeKerasOptimizer where OptimizerSpec can say it (no betas, eps
 * or dampening: the engine uses torch's defaults), else the class itself with the fixture's settings.
 */
function build(cfg: OptimConfig): tf.Optimizer {
  const o = cfg.opts;
  const wd = o.weight_decay ?? 0;
  const [beta1, beta2] = o.betas ?? [0.9, 0.999];
  const epsilon = o.eps ?? 1e-8;
  if (o.betas === undefined && o.eps === undefined) {
    const name = ({ SGD: 'sgd', Adam: 'adam', AdamW: 'adamw', RAdam: 'radam' } as const)[cfg.kind];
    const weightDecay = o.weight_decay ?? (cfg.kind === 'AdamW' ? 1e-2 : 0); // torch's defaults
    return makeKerasOptimizer({ name, lr: o.lr, momentum: o.momentum ?? 0, nesterov: !!o.nesterov, weightDecay });
  }
  switch (cfg.kind) {
    case 'SGD':
      return o.momentum ? new TorchMomentum(o.lr, o.momentum, o.nesterov, wd) : new TorchSGD(o.lr, wd);
    case 'Adam':
      return new TorchAdam(o.lr, beta1, beta2, epsilon, wd);
    case 'AdamW':
      return new AdamW(o.lr, { beta1, beta2, epsilon, weightDecay: o.weight_decay });
    case 'RAdam':
      return new RAdam(o.lr, { beta1, beta2, epsilon, weightDecay: wd });
  }
}

/** Runs steps [from, to) of cfg on p with opt, checking p after each against torch's trajectory. */
function run(cfg: OptimConfig, opt: tf.Optimizer, p: tf.Variable, from: number, to: number, asArray: boolean) {
  for (let step = from; step < to; step++) {
    if (cfg.lrs) setLr(opt, cfg.lrs[step]);
    const grads = cfg.grads ?? optim.grads;
    const rec = grads[step % grads.length];
    const g = tf.tensor(rec.data, rec.shape);
    opt.applyGradients(asArray ? [{ name: p.name, tensor: g }] : { [p.name]: g });
    g.dispose();
    assertClose(p.dataSync(), cfg.traj[step].data, `${cfg.name}: parameter after step ${step + 1}`, TOL);
  }
}

let unique = 0;
function param(values: number[] = optim.p0.data, shape = optim.p0.shape): tf.Variable {
  const t = tf.tensor(values, shape);
  const v = tf.variable(t, true, `opt_test_p${unique++}`);
  t.dispose();
  return v;
}

for (const backend of ['torch', 'cpu']) {
  describe(`Keras optimizers follow torch.optim's trajectories (backend '${backend}')`, () => {
    before(async () => {
      if (backend === 'torch') await useTorchBackend();
      else assert.ok(await tf.setBackend('cpu'));
    });

    for (const cfg of optim.configs) {
      // tfjs's momentum has no dampening, and neither has OptimizerSpec
      const skip = cfg.opts.dampening ? 'dampening: not in OptimizerSpec' : false;
      const sched = cfg.lrs ? ', lr set every step' : '';
      test(`${cfg.name}: ${cfg.kind} ${JSON.stringify(cfg.opts)}, ${cfg.traj.length} steps${sched}`, { skip }, () => {
        const before = tf.memory().numTensors;
        const p = param();
        const opt = build(cfg);
        try {
          run(cfg, opt, p, 0, cfg.traj.length, cfg.name.length % 2 === 0); // both forms applyGradients takes
        } finally {
          opt.dispose();
          p.dispose();
        }
        assert.equal(tf.memory().numTensors, before, 'tensors left behind');
      });
    }

    test('the state carries over getWeights/setWeights: half the steps, a fresh optimizer, the rest', async () => {
      for (const name of ['sgd_nesterov_wd_lrs', 'adam_betas_wd', 'adamw_wd_lrs', 'radam_betas_wd']) {
        const cfg = optim.configs.find((c) => c.name === name)!;
        const half = cfg.traj.length / 2;
        const p = param();
        const a = build(cfg);
        const b = build(cfg);
        try {
          run(cfg, a, p, 0, half, true);
          const weights = await a.getWeights();
          await b.setWeights(weights.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
          tf.dispose(weights.filter((w) => w.name === 'iter').map((w) => w.tensor));
          assert.equal(b.iterations, half, name);
          a.dispose();
          run(cfg, b, p, half, cfg.traj.length, true);
        } finally {
          b.dispose();
          p.dispose();
        }
      }
    });
  });
}

describe('Keras optimizers: names, serialization, training', () => {
  before(useTorchBackend);
  const spec = (name: OptimizerSpec['name'], o: Partial<OptimizerSpec> = {}): OptimizerSpec => ({
    name,
    lr: 0.01,
    momentum: 0,
    nesterov: false,
    weightDecay: 0,
    ...o,
  });

  test('every OptimizerSpec builds, as the class with the settings asked for', () => {
    const cases: [OptimizerSpec, string, Record<string, unknown>][] = [
      [spec('sgd'), 'TorchSGD', { learningRate: 0.01, weightDecay: 0 }],
      [spec('sgd', { weightDecay: 5e-4 }), 'TorchSGD', { weightDecay: 5e-4 }],
      [spec('sgd', { momentum: 0.9 }), 'TorchMomentum', { momentum: 0.9, useNesterov: false }],
      [spec('sgd', { momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), 'TorchMomentum', { useNesterov: true }],
      [spec('adam'), 'TorchAdam', { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }],
      [spec('adam', { weightDecay: 1e-4 }), 'TorchAdam', { weightDecay: 1e-4 }],
      [spec('adamw', { weightDecay: 0.05 }), 'AdamW', { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }],
      [spec('adamw'), 'AdamW', { weightDecay: 0 }], // the config's value, 0 included
      [spec('radam', { weightDecay: 1e-4 }), 'RAdam', { epsilon: 1e-8, weightDecay: 1e-4 }],
    ];
    for (const [s, className, config] of cases) {
      const o = makeKerasOptimizer(s);
      try {
        assert.ok(o instanceof tf.Optimizer);
        assert.equal(o.getClassName(), className, JSON.stringify(s));
        const c = o.getConfig();
        assert.equal(c.learningRate, s.lr);
        for (const [k, v] of Object.entries(config)) assert.equal(c[k], v, `${JSON.stringify(s)}: ${k}`);
        // registered, and fromConfig makes the same optimizer back
        const cls = tf.serialization.SerializationMap.getMap().classNameMap[className];
        assert.ok(cls, `${className} is registered`);
        const back = cls[1](cls[0], c) as tf.Optimizer;
        assert.deepEqual(back.getConfig(), c);
        back.dispose();
      } finally {
        o.dispose();
      }
    }
  });

  test('setting learningRate takes effect on the next step (tfjs SGD alone would keep the first)', () => {
    const p = param([1, 2], [2]);
    const o = makeKerasOptimizer(spec('sgd', { lr: 0.1 }));
    const g = tf.tensor([1, 1]);
    o.applyGradients({ [p.name]: g });
    setLr(o, 0.5);
    o.applyGradients({ [p.name]: g });
    assertClose(p.dataSync(), [1 - 0.6, 2 - 0.6], 'after 0.1 then 0.5', { atol: 1e-6 });
    tf.dispose([p, g]);
    o.dispose();
  });

  /** A learnable toy problem: 4 features, 3 classes given by a fixed linear map. */
  function toyData(n: number) {
    const x = new Float32Array(n * 4);
    const y = new Float32Array(n * 3);
    let s = 12345;
    const next = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    for (let i = 0; i < n; i++) {
      const f = [next(), next(), next(), next()];
      x.set(f, i * 4);
      const scores = [f[0] + f[1], f[2] - f[0], f[3] - f[1]];
      y[i * 3 + scores.indexOf(Math.max(...scores))] = 1;
    }
    return { xs: tf.tensor2d(x, [n, 4]), ys: tf.tensor2d(y, [n, 3]) };
  }

  const trainable: [string, OptimizerSpec][] = [
    ['sgd', spec('sgd', { lr: 0.5 })],
    ['sgd + weight decay', spec('sgd', { lr: 0.5, weightDecay: 1e-3 })],
    ['sgd momentum', spec('sgd', { lr: 0.1, momentum: 0.9 })],
    ['sgd nesterov + weight decay', spec('sgd', { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
    ['adam', spec('adam', { lr: 0.05 })],
    ['adam + weight decay', spec('adam', { lr: 0.05, weightDecay: 1e-3 })],
    ['adamw', spec('adamw', { lr: 0.05, weightDecay: 0.01 })],
    ['radam', spec('radam', { lr: 0.05, weightDecay: 1e-3 })],
  ];
  for (const [what, s] of trainable) {
    test(`a tiny Keras model compiled with ${what} trains (loss falls), with the lr set every step`, () =>
      withSeededMathRandom(3, async () => {
        const before = tf.memory().numTensors;
        const model = tfl.sequential();
        model.add(tfl.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }));
        model.add(tfl.layers.dense({ units: 3, activation: 'softmax' }));
        const opt = makeKerasOptimizer(s);
        model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
        const { xs, ys } = toyData(64);
        const losses: number[] = [];
        for (let i = 0; i < 40; i++) {
          setLr(opt, s.lr * Math.min(1, (i + 1) / 5)); // a warm-up, as the loop's schedules set it
          losses.push((await model.trainOnBatch(xs, ys)) as number);
        }
        assert.ok(losses.every(Number.isFinite), `${what}: ${losses}`);
        const last = Math.max(...losses.slice(-3));
        assert.ok(last < losses[0] * 0.8, `${what}: loss went ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
        tf.dispose([xs, ys]);
        model.dispose();
        opt.dispose();
        assert.equal(tf.memory().numTensors, before, `${what}: tensors left behind`);
      }));
  }
});

after(() => tf.disposeVariables());
