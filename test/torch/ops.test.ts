// Ops, autograd and optimizers against Python PyTorch 1.13 (fixtures from test/fixtures/torch/gen_reference.py),
// and float64 finite-difference checks of the gradients.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { assertClose, fromRec, readReference, values, type TensorRec } from './helpers.js';

const F = torch.nn.functional;
type T = torch.Tensor;

interface InputRec extends TensorRec {
  grad: boolean;
}
interface Case {
  inputs: Record<string, InputRec>;
  params: Record<string, any>;
  out: TensorRec;
  gout: TensorRec;
  grads: Record<string, TensorRec>;
  extra?: Record<string, TensorRec>;
}
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
  /** One parameter per step (the run lasts traj.length steps, reusing the gradients in turn). */
  traj: TensorRec[];
  /** The learning rate set before each step, where it changes every step. */
  lrs?: number[];
  /** This run's own gradients (optim.grads scaled down), where it has them. */
  grads?: TensorRec[];
}
interface Reference {
  torch: string;
  cases: Record<string, Case>;
  optim: { steps: number; p0: TensorRec; grads: TensorRec[]; configs: OptimConfig[] };
}

const ref = readReference<Reference>();

const conv = (t: Record<string, T>, p: any) => F.conv2d(t.x, t.weight, t.bias, p.stride, p.padding);
const maxPool = (t: Record<string, T>, p: any) => F.maxPool2d(t.x, p.kernel, p.stride, p.padding);
const avgPool = (t: Record<string, T>, p: any) => F.avgPool2d(t.x, p.kernel, p.stride, p.padding);
const softmax = (t: Record<string, T>, p: any) => F.softmax(t.x, p.dim);
const logSoftmax = (t: Record<string, T>, p: any) => F.logSoftmax(t.x, p.dim);
const ce = (t: Record<string, T>, p: any) =>
  F.crossEntropy(t.x, t.target, { reduction: p.reduction, labelSmoothing: p.label_smoothing });
const bn = (training: boolean) => (t: Record<string, T>, p: any) =>
  F.batchNorm(t.x, t.running_mean, t.running_var, t.weight, t.bias, training, p.momentum, p.eps);
const sumDims = (t: Record<string, T>, p: any) => t.x.sum(p.dim, p.keepdim);
const meanDims = (t: Record<string, T>, p: any) => t.x.mean(p.dim, p.keepdim);

/** Our version of each Python case. Every case in the fixture must be here. */
const OPS: Record<string, (t: Record<string, T>, p: any) => T> = {
  linear: (t) => F.linear(t.x, t.weight, t.bias),
  linear_nobias: (t) => F.linear(t.x, t.weight),
  conv2d_p0_s1: conv,
  conv2d_p0_s2: conv,
  conv2d_p1_s1: conv,
  conv2d_p1_s2: conv,
  max_pool2d_k2: maxPool,
  max_pool2d_k3_s2_p1: maxPool,
  avg_pool2d_k2: avgPool,
  avg_pool2d_k3_s2_p1: avgPool,
  relu: (t) => F.relu(t.x),
  softmax_dim1: softmax,
  softmax_dim0: softmax,
  log_softmax_dim1: logSoftmax,
  log_softmax_dim0: logSoftmax,
  cross_entropy_mean: ce,
  cross_entropy_sum: ce,
  cross_entropy_none: ce,
  cross_entropy_smooth: ce,
  cross_entropy_smooth_sum: ce,
  dropout_p0_train: (t, p) => F.dropout(t.x, p.p, p.training),
  dropout_eval: (t, p) => F.dropout(t.x, p.p, p.training),
  batch_norm2d_train: bn(true),
  batch_norm2d_eval: bn(false),
  batch_norm1d_train: bn(true),
  batch_norm1d_eval: bn(false),
  flatten: (t, p) => t.x.flatten(p.start, p.end),
  reshape: (t, p) => t.x.reshape(...p.shape),
  permute: (t, p) => t.x.permute(...p.order),
  matmul_batched_broadcast: (t) => torch.matmul(t.a, t.b),
  matmul_vec_mat: (t) => t.a.matmul(t.b),
  matmul_mat_vec: (t) => t.a.matmul(t.b),
  sum_all: (t) => t.x.sum(),
  sum_dim1: sumDims,
  sum_dims02_keep: sumDims,
  mean_all: (t) => t.x.mean(),
  mean_dim2: meanDims,
  mean_dims01_keep: meanDims,
  mean_dim_neg: meanDims,
  flip_dim3: (t, p) => t.x.flip(...p.dims),
  flip_dims23: (t, p) => t.x.flip(...p.dims),
  roll_two_dims: (t, p) => t.x.roll(p.shifts, p.dims),
  roll_wraps: (t, p) => t.x.roll(p.shifts[0], p.dims[0]),
  pad_2d: (t, p) => F.pad(t.x, p.pads, p.value),
  pad_value: (t, p) => F.pad(t.x, p.pads, p.value),
  clamp_both: (t, p) => t.x.clamp(p.min, p.max),
  clamp_min_only: (t, p) => t.x.clamp(p.min, p.max),
  adaptive_avg_pool2d_1x1: (t, p) => F.adaptiveAvgPool2d(t.x, p.output_size),
  adaptive_avg_pool2d_3x2: (t, p) => F.adaptiveAvgPool2d(t.x, p.output_size),
  cat_dim1: (t, p) => torch.cat([t.a, t.b], p.dim),
  stack_dim0: (t, p) => torch.stack([t.a, t.b], p.dim),
  stack_dim_neg: (t, p) => torch.stack([t.a, t.b], p.dim),
  var_dim1: (t, p) => t.x.var(p.dim, p.unbiased, p.keepdim),
  var_dims02_biased_keep: (t, p) => t.x.var(p.dim, p.unbiased, p.keepdim),
};

describe(`ops and gradients match Python PyTorch ${ref.torch}`, () => {
  test('every fixture case has an implementation here', () => {
    assert.deepEqual(Object.keys(ref.cases).sort(), Object.keys(OPS).sort());
  });

  for (const [name, c] of Object.entries(ref.cases)) {
    test(name, () => {
      torch.withDisposeScope(() => {
        const inputs: Record<string, T> = {};
        for (const [k, rec] of Object.entries(c.inputs)) {
          inputs[k] = fromRec(rec);
          if (rec.grad) inputs[k].requiresGrad_(true);
        }
        const out = OPS[name](inputs, c.params);
        assert.deepEqual(out.shape, c.out.shape, `${name}: output shape`);
        assert.equal(out.dtype, c.out.dtype, `${name}: output dtype`);
        assertClose(out.toFloat32(), c.out.data, `${name}: output`);
        out.mul(fromRec(c.gout)).sum().backward();
        for (const [k, g] of Object.entries(c.grads)) {
          const grad = inputs[k].grad;
          assert.ok(grad, `${name}: no gradient for ${k}`);
          assert.deepEqual(grad.shape, g.shape, `${name}: shape of d/d${k}`);
          assertClose(grad.toFloat32(), g.data, `${name}: d/d${k}`);
        }
        for (const [k, rec] of Object.entries(c.inputs))
          if (!rec.grad) assert.equal(inputs[k].grad, null, `${name}: ${k} should get no gradient`);
        for (const [k, e] of Object.entries(c.extra ?? {}))
          assertClose(inputs[k].toFloat32(), e.data, `${name}: ${k} after`);
      });
    });
  }

  /** A BatchNorm2d(3) holding a reference case's weight, bias and running statistics. */
  function bnModule(c: Case): torch.nn.BatchNorm2d {
    const m = new torch.nn.BatchNorm2d(3);
    torch.withDisposeScope(() => {
      const names = ['weight', 'bias', 'running_mean', 'running_var'] as const;
      const sd = new Map<string, T>(names.map((k) => [k, fromRec(c.inputs[k])]));
      sd.set('num_batches_tracked', torch.zeros([], { dtype: 'int64' }));
      m.loadStateDict(sd);
    });
    return m;
  }

  test('nn.BatchNorm2d (module) in eval mode matches the functional reference and leaves its buffers alone', () => {
    const c = ref.cases.batch_norm2d_eval;
    const m = bnModule(c).eval();
    try {
      torch.withDisposeScope(() => {
        assertClose(m.call(fromRec(c.inputs.x)).toFloat32(), c.out.data, 'eval output');
        const exact = { rtol: 0, atol: 0 };
        assertClose(m.runningMean.toFloat32(), Float32Array.from(c.inputs.running_mean.data), 'running_mean', exact);
        assertClose(m.runningVar.toFloat32(), Float32Array.from(c.inputs.running_var.data), 'running_var', exact);
        assert.equal(m.numBatchesTracked.item(), 0, 'eval does not count batches');
      });
    } finally {
      m.dispose();
    }
  });

  // BatchNorm2d.forward (src/torch/nn/layers.ts) does numBatchesTracked.add_(1) on an int64 buffer; the addon's
  // addScalar_ passes the number as a double Scalar and libtorch refuses to write a float result into a Long tensor.
  test('nn.BatchNorm2d (module) in train mode matches the functional reference and counts the batch', () => {
    const c = ref.cases.batch_norm2d_train;
    const m = bnModule(c);
    try {
      torch.withDisposeScope(() => {
        assertClose(m.call(fromRec(c.inputs.x)).toFloat32(), c.out.data, 'train output');
        assertClose(m.runningMean.toFloat32(), c.extra!.running_mean.data, 'running_mean');
        assertClose(m.runningVar.toFloat32(), c.extra!.running_var.data, 'running_var');
        assert.equal(m.numBatchesTracked.item(), 1);
        assert.equal(m.numBatchesTracked.dtype, 'int64');
      });
    } finally {
      m.dispose();
    }
  });

  test('scalar arithmetic on integer tensors keeps the integer dtype, as in PyTorch', () => {
    torch.withDisposeScope(() => {
      const i = torch.tensor([1, 2], { dtype: 'int64' });
      assert.equal(i.add(1).dtype, 'int64');
      assert.equal(i.mul(3).dtype, 'int64');
      i.add_(1).mul_(2);
      assert.deepEqual(values(i), [4, 6]);
      // tensor + tensor on integers, with the default alpha (libtorch refuses a floating alpha there)
      const j = torch.tensor([10, 20], { dtype: 'int64' });
      assert.deepEqual(values(i.add(j)), [14, 26]);
      assert.deepEqual(values(j.sub(i)), [6, 14]);
      assert.equal(i.add(j).dtype, 'int64');
      j.add_(i);
      assert.deepEqual(values(j), [14, 26]);
    });
  });
});

describe('optimizer trajectories match torch.optim (foreach=False)', () => {
  const { optim } = ref;
  const make = (kind: OptimConfig['kind'], p: T, o: OptimConfig['opts']): torch.optim.Optimizer => {
    const adamOpts = { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay };
    switch (kind) {
      case 'SGD':
        return new torch.optim.SGD([p], {
          lr: o.lr,
          momentum: o.momentum,
          dampening: o.dampening,
          weightDecay: o.weight_decay,
          nesterov: o.nesterov,
        });
      case 'Adam':
        return new torch.optim.Adam([p], adamOpts);
      case 'AdamW':
        return new torch.optim.AdamW([p], adamOpts);
      case 'RAdam':
        return new torch.optim.RAdam([p], adamOpts);
    }
  };

  test('the fixture has the RAdam and per-step learning-rate runs', () => {
    const names = optim.configs.map((c) => c.name);
    for (const n of ['radam', 'radam_betas_wd', 'sgd_nesterov_lrs', 'adamw_lrs', 'radam_wd_lrs'])
      assert.ok(names.includes(n), n);
  });

  for (const cfg of optim.configs) {
    const steps = cfg.traj.length;
    const sched = cfg.lrs ? ', lr set every step' : '';
    test(`${cfg.name}: ${cfg.kind} ${JSON.stringify(cfg.opts)}, ${steps} steps${sched}`, () => {
      const p = fromRec(optim.p0).requiresGrad_(true);
      const opt = make(cfg.kind, p, cfg.opts);
      try {
        for (let step = 0; step < steps; step++) {
          const grads = cfg.grads ?? optim.grads;
          const g = grads[step % grads.length];
          if (cfg.lrs) opt.lr = cfg.lrs[step];
          opt.zeroGrad();
          // d/dp sum(p * g) = g exactly: the synthetic gradient, set through autograd.
          torch.tidy(() => p.mul(fromRec(g)).sum().backward());
          torch.tidy(() =>
            assertClose(p.grad!.toFloat32(), Float32Array.from(g.data), `gradient before step ${step + 1}`, {
              rtol: 0,
              atol: 0,
            }),
          );
          opt.step();
          assertClose(p.toFloat32(), cfg.traj[step].data, `${cfg.name}: parameter after step ${step + 1}`, {
            rtol: 1e-6,
            atol: 1e-6,
          });
        }
      } finally {
        p.dispose();
      }
    });
  }

  test('zeroGrad clears the gradient (grad is null) and step without gradients changes nothing', () => {
    torch.withDisposeScope(() => {
      const p = torch.tensor([1, 2, 3], { requiresGrad: true });
      const opt = new torch.optim.Adam([p], { lr: 0.1 });
      p.mul(2).sum().backward();
      assert.deepEqual(values(p.grad!), [2, 2, 2]);
      opt.zeroGrad();
      assert.equal(p.grad, null);
      opt.step();
      assert.deepEqual(values(p), [1, 2, 3]);
    });
  });

  test('a negative learning rate is rejected', () => {
    const p = torch.zeros([2]);
    try {
      assert.throws(() => new torch.optim.SGD([p], { lr: -1 }), /invalid learning rate/);
    } finally {
      p.dispose();
    }
  });
});

// ---- float64 finite differences ------------------------------------------------------------

/**
 * Compares autograd's gradient of L = sum(f(inputs) * w) with central differences, in float64.
 * `inputs` are float64 leaves; only those named in `wrt` are checked.
 */
function gradCheck(
  f: (xs: Record<string, T>) => T,
  inputs: Record<string, T>,
  wrt: string[],
  { h = 1e-6, rtol = 1e-5, atol = 1e-7 } = {},
): void {
  torch.withDisposeScope(() => {
    for (const k of wrt) inputs[k].requiresGrad_(true);
    const out0 = f(inputs);
    assert.equal(out0.dtype, 'float64');
    torch.manualSeed(7);
    const w = torch.randn(out0.shape, { dtype: 'float64' });
    out0.mul(w).sum().backward();
    const loss = (xs: Record<string, T>) => torch.tidy(() => torch.noGrad(() => f(xs).mul(w).sum().item()));
    for (const k of wrt) {
      const analytic = inputs[k].grad!.dataSync() as Float64Array;
      const base = inputs[k].dataSync() as Float64Array;
      const numeric = new Float64Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const at = (delta: number) => {
          const v = Float64Array.from(base);
          v[i] += delta;
          return torch.tidy(() => loss({ ...inputs, [k]: torch.fromTypedArray(v, inputs[k].shape) }));
        };
        numeric[i] = (at(h) - at(-h)) / (2 * h);
      }
      assertClose(analytic, numeric, `d/d${k}`, { rtol, atol });
    }
  });
}

const rand64 = (shape: number[], scale = 1) => torch.randn(shape, { dtype: 'float64' }).mul(scale);

describe('float64 gradients agree with central finite differences', () => {
  test('linear: x, weight, bias', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(1);
      gradCheck((t) => F.linear(t.x, t.w, t.b), { x: rand64([3, 4]), w: rand64([5, 4]), b: rand64([5]) }, [
        'x',
        'w',
        'b',
      ]);
    });
  });

  test('conv2d (stride 2, padding 1): x, weight, bias', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(2);
      gradCheck(
        (t) => F.conv2d(t.x, t.w, t.b, 2, 1),
        { x: rand64([1, 2, 5, 5]), w: rand64([2, 2, 3, 3]), b: rand64([2]) },
        ['x', 'w', 'b'],
      );
    });
  });

  test('max_pool2d (kernel 2, and kernel 3 stride 2 padding 1)', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(3);
      // distinct values far apart compared with h, so no perturbation changes which element is the max
      const x = torch.randperm(72).to('float64').mul(0.1).reshape(1, 2, 6, 6);
      gradCheck((t) => F.maxPool2d(t.x, 2), { x }, ['x']);
      gradCheck((t) => F.maxPool2d(t.x, 3, 2, 1), { x: x.detach().clone() }, ['x']);
    });
  });

  test('cross_entropy (mean, sum with label smoothing)', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(4);
      const target = torch.tensor([2, 0, 3, 3], { dtype: 'int64' });
      gradCheck((t) => F.crossEntropy(t.x, target), { x: rand64([4, 5], 2) }, ['x']);
      gradCheck(
        (t) => F.crossEntropy(t.x, target, { reduction: 'sum', labelSmoothing: 0.2 }),
        { x: rand64([4, 5], 2) },
        ['x'],
      );
    });
  });

  test('softmax and log_softmax', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(5);
      gradCheck((t) => F.softmax(t.x, 1), { x: rand64([3, 4], 2) }, ['x']);
      gradCheck((t) => F.logSoftmax(t.x, 0), { x: rand64([3, 4], 2) }, ['x']);
    });
  });

  test('batch_norm in training mode', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(6);
      gradCheck(
        (t) => F.batchNorm(t.x, null, null, t.w, t.b, true),
        { x: rand64([4, 2, 2, 2]), w: rand64([2]), b: rand64([2]) },
        ['x', 'w', 'b'],
      );
    });
  });

  test('the check itself catches a wrong gradient', () => {
    torch.withDisposeScope(() => {
      torch.manualSeed(8);
      // relu's subgradient at 0 is 0, but the central difference there is 0.5: the check must fail
      const x = torch.tensor(new Float64Array([0, 1, -1]));
      assert.throws(() => gradCheck((t) => t.x.relu(), { x }, ['x']), /d\/dx: element 0/);
    });
  });
});
