// nn.Module: the seed models' sizes and state_dict layout against Python's (fixture from gen_reference.py),
// PyTorch's default initialization, state_dict save/load, and train/eval.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { getModel } from '../../src/models/index.js';
import { readReference, values } from './helpers.js';

const denseNet = () => getModel('dense').pytorch(torch);
const cnn = () => getModel('cnn').pytorch(torch);
const PYTORCH_MODELS = { dense: denseNet, cnn };
const PYTHON_DEFINITIONS = { dense: getModel('dense').definition!, cnn: getModel('cnn').definition! };

const { nn } = torch;

interface ModelRef {
  definition: string;
  params: number;
  stateDict: [string, number[], string][];
}
const models = readReference<{ models: Record<'dense' | 'cnn' | 'bn', ModelRef> }>().models;

/** The fixture's "bn" model: nn.Sequential(Conv2d(1,4,3), BatchNorm2d(4), ReLU, Flatten, Linear(2704,10)). */
const bnNet = () =>
  new nn.Sequential(
    new nn.Conv2d(1, 4, 3),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.Flatten(),
    new nn.Linear(4 * 26 * 26, 10),
  );

/** Runs `fn` with a fresh model that is disposed afterwards. */
function withModel<M extends torch.nn.Module, R>(make: () => M, fn: (m: M) => R): R {
  const m = make();
  try {
    return torch.withDisposeScope(() => fn(m));
  } finally {
    m.dispose();
  }
}

const bytesOf = (t: torch.Tensor) => {
  const a = t.dataSync();
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
};

describe('the seed models', () => {
  test('parameter counts: dense 109,386 and cnn 225,034, as in Python', () => {
    assert.equal(
      withModel(denseNet, (m) => m.numParameters()),
      109_386,
    );
    assert.equal(
      withModel(cnn, (m) => m.numParameters()),
      225_034,
    );
    assert.equal(models.dense.params, 109_386);
    assert.equal(models.cnn.params, 225_034);
  });

  test('the Python definitions are the ones the fixture was generated from', () => {
    assert.equal(PYTHON_DEFINITIONS.dense.replace(/\s/g, ''), models.dense.definition.replace(/\s/g, ''));
    assert.equal(PYTHON_DEFINITIONS.cnn.replace(/\s/g, ''), models.cnn.definition.replace(/\s/g, ''));
  });

  for (const [arch, make] of [
    ['dense', PYTORCH_MODELS.dense],
    ['cnn', PYTORCH_MODELS.cnn],
    ['bn', bnNet],
  ] as const) {
    test(`${arch}: state_dict keys, order, shapes and dtypes equal Python's`, () => {
      withModel(make, (m) => {
        const ours = [...m.stateDict()].map(([k, t]) => [k, t.shape, t.dtype]);
        assert.deepEqual(ours, models[arch].stateDict);
      });
    });
  }

  test('parameters require grad; buffers do not', () => {
    withModel(bnNet, (m) => {
      for (const [k, p] of m.namedParameters()) assert.equal(p.requiresGrad, true, k);
      const buffers = [...m.namedBuffers()];
      assert.deepEqual(
        buffers.map(([k]) => k),
        ['1.running_mean', '1.running_var', '1.num_batches_tracked'],
      );
      for (const [k, b] of buffers) assert.equal(b.requiresGrad, false, k);
    });
  });
});

describe('default initialization (PyTorch: U(±1/sqrt(fan_in)) for Linear and Conv2d weights and biases)', () => {
  const check = (name: string, t: torch.Tensor, fanIn: number) => {
    const bound = 1 / Math.sqrt(fanIn);
    const v = t.toFloat32();
    let lo = Infinity;
    let hi = -Infinity;
    let sq = 0;
    for (const x of v) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      sq += x * x;
    }
    assert.ok(lo >= -bound && hi <= bound, `${name}: values in [${lo}, ${hi}] exceed ±${bound}`);
    if (v.length >= 100) {
      // a uniform fill reaches near both ends and has std bound/sqrt(3)
      assert.ok(lo < -0.9 * bound && hi > 0.9 * bound, `${name}: [${lo}, ${hi}] does not span ±${bound}`);
      const std = Math.sqrt(sq / v.length);
      assert.ok(
        Math.abs(std / (bound / Math.sqrt(3)) - 1) < 0.1,
        `${name}: std ${std}, expected ${bound / Math.sqrt(3)}`,
      );
    }
  };

  test('cnn and dense layers', () => {
    torch.manualSeed(123);
    const fanIns: Record<string, number> = {
      'cnn 0': 9,
      'cnn 3': 32 * 9,
      'cnn 7': 1600,
      'cnn 10': 128,
      'dense 1': 784,
      'dense 4': 128,
      'dense 7': 64,
    };
    for (const [arch, make] of [
      ['cnn', cnn],
      ['dense', denseNet],
    ] as const)
      withModel(make, (m) => {
        for (const [k, p] of m.namedParameters()) {
          const layer = k.split('.')[0];
          const fanIn = fanIns[`${arch} ${layer}`];
          assert.ok(fanIn, `unexpected parameter ${arch} ${k}`);
          check(`${arch} ${k}`, p, fanIn);
        }
      });
  });

  test('two models from different seeds differ; the same seed gives the same weights', () => {
    const first = (seed: number) => {
      torch.manualSeed(seed);
      return withModel(denseNet, (m) => Array.from(m.parameters()[0].toFloat32().subarray(0, 50)));
    };
    assert.deepEqual(first(5), first(5));
    assert.notDeepEqual(first(5), first(6));
  });

  test('BatchNorm2d starts at weight 1, bias 0, running mean 0, running var 1, no batches', () => {
    withModel(
      () => new nn.BatchNorm2d(3),
      (m) => {
        const sd = m.stateDict();
        assert.deepEqual(values(sd.get('weight')!), [1, 1, 1]);
        assert.deepEqual(values(sd.get('bias')!), [0, 0, 0]);
        assert.deepEqual(values(sd.get('running_mean')!), [0, 0, 0]);
        assert.deepEqual(values(sd.get('running_var')!), [1, 1, 1]);
        assert.deepEqual(values(sd.get('num_batches_tracked')!), [0]);
      },
    );
  });
});

describe('state_dict save and load', () => {
  for (const [arch, make] of [
    ['cnn', PYTORCH_MODELS.cnn],
    ['bn', bnNet],
  ] as const) {
    test(`${arch}: saveStateDict -> loadStateDict is bit-exact, key order and dtypes included`, () => {
      torch.manualSeed(9);
      withModel(make, (a) => {
        const bytes = torch.saveStateDict(a.stateDict());
        assert.ok(Buffer.isBuffer(bytes));
        assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK', 'a zip archive, as torch.save writes');
        const loaded = torch.loadStateDict(bytes);
        assert.deepEqual([...loaded.keys()], [...a.stateDict().keys()]);
        for (const [k, t] of a.stateDict()) {
          const u = loaded.get(k)!;
          assert.equal(u.dtype, t.dtype, k);
          assert.deepEqual(u.shape, t.shape, k);
          assert.ok(bytesOf(u).equals(bytesOf(t)), `${k}: bytes differ after the round trip`);
        }
        // into a differently initialised model
        torch.manualSeed(10);
        withModel(make, (b) => {
          assert.ok(!bytesOf(b.parameters()[0]).equals(bytesOf(a.parameters()[0])));
          assert.deepEqual(b.loadStateDict(loaded), { missing: [], unexpected: [] });
          for (const [k, t] of a.stateDict()) assert.ok(bytesOf(b.stateDict().get(k)!).equals(bytesOf(t)), k);
          // the loaded model is a copy, not an alias of the loaded tensors
          loaded.forEach((t) => t.dispose());
          assert.equal(b.parameters()[0].isDisposed, false);
          assert.ok(bytesOf(b.parameters()[0]).equals(bytesOf(a.parameters()[0])));
        });
      });
    });
  }

  test('an int64 buffer keeps its value through save and load', () => {
    withModel(bnNet, (m) => {
      torch.noGrad(() => m.stateDict().get('1.num_batches_tracked')!.fill_(7));
      const sd = torch.loadStateDict(torch.saveStateDict(m.stateDict()));
      assert.equal(sd.get('1.num_batches_tracked')!.dtype, 'int64');
      assert.equal(sd.get('1.num_batches_tracked')!.item(), 7);
    });
  });

  test('missing keys are an error that names them; strict=false reports them instead', () => {
    withModel(denseNet, (m) => {
      const sd = new Map(m.stateDict());
      sd.delete('4.bias');
      sd.delete('7.weight');
      assert.throws(() => m.loadStateDict(sd), /missing keys \[4\.bias, 7\.weight\]/);
      assert.deepEqual(m.loadStateDict(sd, false), { missing: ['4.bias', '7.weight'], unexpected: [] });
    });
  });

  test('unexpected keys are an error that names them', () => {
    withModel(denseNet, (m) => {
      const sd = new Map(m.stateDict());
      sd.set('module.1.weight', torch.zeros([128, 784]));
      sd.set('9.bias', torch.zeros([10]));
      assert.throws(() => m.loadStateDict(sd), /unexpected keys \[module\.1\.weight, 9\.bias\]/);
      assert.deepEqual(m.loadStateDict(sd, false), { missing: [], unexpected: ['module.1.weight', '9.bias'] });
    });
  });

  test('a shape mismatch is an error naming the key and both shapes', () => {
    withModel(denseNet, (m) => {
      const sd = new Map(m.stateDict());
      sd.set('7.weight', torch.zeros([10, 65]));
      assert.throws(() => m.loadStateDict(sd), /7\.weight has shape 10x65 in the file but 10x64 in the model/);
    });
  });

  test('a state dict of another architecture is rejected', () => {
    withModel(cnn, (c) =>
      withModel(denseNet, (d) => {
        assert.throws(
          () => d.loadStateDict(c.stateDict()),
          (e: Error) => /missing keys/.test(e.message) && /unexpected keys \[0\.weight/.test(e.message),
        );
      }),
    );
  });

  test('loadStateDict rejects bytes that are not a state-dict file with an Error', () => {
    assert.throws(
      () => torch.loadStateDict(Buffer.from('not a zip file')),
      /^PtFormatError: state dict: not a PyTorch file/,
    );
    assert.throws(() => torch.loadStateDict(Buffer.alloc(0), 'm.pt'), /^PtFormatError: m\.pt: the file is empty/);
  });
});

describe('train() and eval()', () => {
  test('switch dropout on and off, recursively', () => {
    torch.manualSeed(11);
    withModel(
      () => new nn.Sequential(new nn.Dropout(0.5), new nn.Sequential(new nn.Dropout(0.5))),
      (m) => {
        assert.equal(m.training, true);
        const x = torch.ones([2000]);
        const y = values(m.call(x));
        const zeros = y.filter((v) => v === 0).length;
        // each element survives two p=0.5 dropouts with probability 1/4, scaled by 2*2
        assert.ok(zeros > 1300 && zeros < 1700, `${zeros} zeros`);
        assert.ok(y.every((v) => v === 0 || v === 4));
        m.eval();
        assert.equal(m.training, false);
        assert.equal((m.layers[1] as torch.nn.Sequential).layers[0].training, false);
        assert.deepEqual(values(m.call(x)), values(x));
        m.train();
        assert.equal((m.layers[1] as torch.nn.Sequential).layers[0].training, true);
        assert.notDeepEqual(values(m.call(x)), values(x));
      },
    );
  });

  test('the dense model is deterministic in eval mode and not in train mode', () => {
    torch.manualSeed(12);
    withModel(denseNet, (m) => {
      const x = torch.rand([4, 1, 28, 28]);
      const a = values(m.call(x));
      const b = values(m.call(x));
      assert.notDeepEqual(a, b, 'dropout makes two training passes differ');
      m.eval();
      assert.deepEqual(values(m.call(x)), values(m.call(x)));
    });
  });
});
