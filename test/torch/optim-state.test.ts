// Optimizer state dicts cross over to Python's torch.optim and back: our torch.save(opt.stateDict()) loads into
// Python's optimizer with load_state_dict and continues Python's way, Python's torch.save(opt.state_dict()) loads
// here and continues as Python continued, and a save/load round trip here continues bit-identically. Then bad
// state dicts (each a clear Error), and the pickle writer's values as Python reads them (and its bytes, as
// Python's own pickle writes them).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { assertClose, pythonTorchMissing, runPython } from './helpers.js';

const skip = pythonTorchMissing();

/** Steps before the state is saved, and after it is loaded (RAdam's rectified step starts at step 6). */
const K = 3;
const M = 4;
/** Parameter 1 has a gradient from step 1 on (so its step count lags), parameter 2 never (it has no state). */
const SHAPES = [[3, 4], [4], [2, 2], [5]];
const hasGrad = (k: number, i: number) => (i === 1 ? k >= 1 : i !== 2);

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const INIT = SHAPES.map((s, i) =>
  Array.from(Float32Array.from({ length: numel(s) }, (_, j) => Math.sin(1 + 3 * i + j))),
);
const GRADS = Array.from({ length: K + M }, (_, k) =>
  SHAPES.map((s, i) =>
    hasGrad(k, i)
      ? Array.from(Float32Array.from({ length: numel(s) }, (_, j) => 0.5 * Math.cos(0.7 * k + 1.3 * i + 0.4 * j)))
      : null,
  ),
);

interface Config {
  make: (p: torch.Tensor[]) => torch.optim.Optimizer;
  /** The same optimizer with other hyperparameters: loading must set them. */
  other: (p: torch.Tensor[]) => torch.optim.Optimizer;
  kind: torch.optim.OptimizerKind;
  py: Record<string, unknown>;
}
const CONFIGS: Record<string, Config> = {
  sgd: {
    kind: 'SGD',
    make: (p) => new torch.optim.SGD(p, { lr: 0.1 }),
    other: (p) => new torch.optim.SGD(p, { lr: 123, momentum: 0.5 }),
    py: { lr: 0.1 },
  },
  'sgd-nesterov': {
    kind: 'SGD',
    make: (p) => new torch.optim.SGD(p, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    other: (p) => new torch.optim.SGD(p, { lr: 123 }),
    py: { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.01 },
  },
  'sgd-dampening': {
    kind: 'SGD',
    make: (p) => new torch.optim.SGD(p, { lr: 0.05, momentum: 0.8, dampening: 0.25 }),
    other: (p) => new torch.optim.SGD(p, { lr: 123 }),
    py: { lr: 0.05, momentum: 0.8, dampening: 0.25 },
  },
  adam: {
    kind: 'Adam',
    make: (p) => new torch.optim.Adam(p, { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.02 }),
    other: (p) => new torch.optim.Adam(p, { lr: 123 }),
    py: { lr: 0.01, betas: [0.8, 0.99], eps: 1e-6, weight_decay: 0.02 },
  },
  adamw: {
    kind: 'AdamW',
    make: (p) => new torch.optim.AdamW(p, { lr: 0.01, weightDecay: 0.05 }),
    other: (p) => new torch.optim.AdamW(p, { lr: 123 }),
    py: { lr: 0.01, weight_decay: 0.05 },
  },
  radam: {
    kind: 'RAdam',
    make: (p) => new torch.optim.RAdam(p, { lr: 0.01, betas: [0.9, 0.9], weightDecay: 0.01 }),
    other: (p) => new torch.optim.RAdam(p, { lr: 123 }),
    py: { lr: 0.01, betas: [0.9, 0.9], weight_decay: 0.01 },
  },
};

/** Fresh parameters (leaf tensors that require grad), from `values` (default: INIT). */
function params(values: ArrayLike<number>[] = INIT): torch.Tensor[] {
  return SHAPES.map((s, i) => torch.fromTypedArray(Float32Array.from(values[i]), s).requiresGrad_());
}

/** Steps from..to-1 with GRADS: each parameter's gradient is set to exactly its GRADS entry, or left None. */
function steps(opt: torch.optim.Optimizer, from: number, to: number): void {
  for (let k = from; k < to; k++) {
    opt.zeroGrad();
    torch.tidy(() => {
      const terms = opt.params.flatMap((p, i) => {
        const g = GRADS[k][i];
        return g ? [p.mul(torch.fromTypedArray(Float32Array.from(g), SHAPES[i])).sum()] : [];
      });
      terms.reduce((a, b) => a.add(b)).backward();
    });
    opt.step();
  }
}

const valuesOf = (ps: torch.Tensor[]) => ps.map((p) => p.toFloat32());
const disposeAll = (ps: torch.Tensor[]) => ps.forEach((p) => p.dispose());
const saveParams = (ps: torch.Tensor[]) => torch.saveStateDict(new Map(ps.map((p, i) => [String(i), p])));

const PY = String.raw`
import collections, io, json, pickle, pickletools, struct, sys, zipfile
import torch
torch.set_num_threads(1)
d = sys.argv[1]
spec = json.load(open(d + '/spec.json'))
shapes, K, M = spec['shapes'], spec['K'], spec['M']
OPT = {'SGD': torch.optim.SGD, 'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW, 'RAdam': torch.optim.RAdam}

def step(opt, ps, k):
    for p, g, s in zip(ps, spec['grads'][k], shapes):
        p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(s)
    opt.step()

def sig(v):
    """The layout of a state dict: keys, and each value's type (tensors: dtype and shape)."""
    if isinstance(v, dict):
        return {'t': type(v).__name__, 'items': [[repr(k), sig(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return {'t': type(v).__name__, 'items': [sig(x) for x in v]}
    if isinstance(v, torch.Tensor):
        return {'t': 'tensor', 'dtype': str(v.dtype), 'shape': list(v.shape)}
    return {'t': type(v).__name__}

flat = lambda ps: [p.detach().flatten().tolist() for p in ps]
report = {'configs': {}}
for name, c in spec['configs'].items():
    r = report['configs'][name] = {}
    cls = OPT[c['kind']]
    # ours -> Python: our parameters after K steps, an optimizer made with another lr, our state loaded
    ours = torch.load(d + '/' + name + '-opt.pt')
    ps = [torch.nn.Parameter(t.clone()) for t in torch.load(d + '/' + name + '-params.pt').values()]
    opt = cls(ps, lr=123.0)
    opt.load_state_dict(ours)
    r['loadedLr'] = opt.param_groups[0]['lr']
    for k in range(K, K + M):
        step(opt, ps, k)
    r['a'] = flat(ps)
    r['oursLayout'] = sig(ours)
    # Python -> ours: K steps from the initial values, saved; then M more
    ps = [torch.nn.Parameter(torch.tensor(v, dtype=torch.float32).reshape(s)) for v, s in zip(spec['init'], shapes)]
    kw = {k: tuple(v) if k == 'betas' else v for k, v in c['py'].items()}  # JSON has no tuples
    opt = cls(ps, **kw)
    for k in range(K):
        step(opt, ps, k)
    torch.save(opt.state_dict(), d + '/' + name + '-py-opt.pt')
    torch.save({str(i): p.detach().clone() for i, p in enumerate(ps)}, d + '/' + name + '-py-params.pt')
    r['pyLayout'] = sig(opt.state_dict())
    for k in range(K, K + M):
        step(opt, ps, k)
    r['b'] = flat(ps)

def tag(v):
    """A value as JSON, with its Python type: floats by their bits, ints as decimal strings."""
    if v is None:
        return {'t': 'None'}
    if isinstance(v, bool):
        return {'t': 'bool', 'v': v}
    if isinstance(v, int):
        return {'t': 'int', 'v': str(v)}
    if isinstance(v, float):
        return {'t': 'float', 'v': struct.pack('>d', v).hex()}
    if isinstance(v, str):
        return {'t': 'str', 'v': v}
    if isinstance(v, (list, tuple)):
        return {'t': type(v).__name__, 'v': [tag(x) for x in v]}
    if isinstance(v, dict):
        return {'t': type(v).__name__, 'v': [[tag(k), tag(x)] for k, x in v.items()]}
    if isinstance(v, torch.Tensor):
        return {'t': 'tensor', 'dtype': str(v.dtype)[6:], 'shape': list(v.shape), 'v': v.flatten().double().tolist()}
    raise TypeError(type(v))

# the writer: what Python reads from our file, and Python's own pickle of the same value, byte for byte
value = torch.load(d + '/values.pt')
report['values'] = tag(value)
plain = zipfile.ZipFile(d + '/plain.pt').read('archive/data.pkl')
report['plainSame'] = pickletools.optimize(pickle.dumps(pickle.loads(plain), protocol=2)) == plain
report['plainTag'] = tag(pickle.loads(plain))
torch.save(value, d + '/values-py.pt')
torch.save({'a': [1, torch.float32]}, d + '/dtype.pt')
print(json.dumps(report))
`;

/** The same tagging as PY's tag(), for our values. */
function tag(v: unknown): unknown {
  const floatBits = (x: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return b.toString('hex');
  };
  if (v === null) return { t: 'None' };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'bigint') return { t: 'int', v: String(v) };
  if (typeof v === 'number')
    return Number.isSafeInteger(v) ? { t: 'int', v: String(v) } : { t: 'float', v: floatBits(v) };
  if (v instanceof torch.PyFloat) return { t: 'float', v: floatBits(v.value) };
  if (typeof v === 'string') return { t: 'str', v };
  if (Array.isArray(v)) return { t: 'list', v: v.map(tag) };
  if (v instanceof torch.PyTuple) return { t: 'tuple', v: v.items.map(tag) };
  if (v instanceof torch.PyDict)
    return { t: v.ordered ? 'OrderedDict' : 'dict', v: [...v.entries()].map(([k, x]) => [tag(k), tag(x)]) };
  if (v instanceof torch.Tensor)
    return { t: 'tensor', dtype: v.dtype, shape: v.shape, v: Array.from(v.dataSync(), Number) };
  if (typeof v === 'object') return { t: 'dict', v: Object.entries(v as object).map(([k, x]) => [tag(k), tag(x)]) };
  throw new TypeError(String(v));
}

/** Every kind of value the writer knows, nested; no tensors (Python's plain pickle reads it). */
const PLAIN = torch.PyDict.of(
  [
    ['ints', [0, 1, 255, 256, 65535, 65536, -1, -256, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1]],
    ['bigints', [2n ** 53n + 1n, -(2n ** 63n), 2n ** 64n, -(2n ** 70n) + 3n, 10n ** 40n]],
    ['floats', [1.5, new torch.PyFloat(1), new torch.PyFloat(-0), 1e-300, -2.5e300, 0.1, Infinity, -Infinity, 2 ** 60]],
    ['text', ['', 'plain', 'héllo wörld', '☃ 雪 😀', 'e\u0301', 'tab\tnew\nline']],
    [7, new torch.PyTuple([null, true, false, new torch.PyTuple([]), new torch.PyTuple([3]), [], {}])],
    [false, new torch.PyTuple([1, 2, new torch.PyTuple([4, 5, 6, 8]), [9, [10, [11]]]])],
    [
      null,
      torch.PyDict.of([
        [-5, 'neg'],
        [2n ** 40n, 'big'],
      ]),
    ],
    ['many', Array.from({ length: 2500 }, (_, i) => i * 7)], // APPENDS in batches of 1000
  ],
  true,
);

describe('optimizer state dicts with Python torch.optim', { skip }, () => {
  let dir = '';
  let report: {
    configs: Record<string, { a: number[][]; b: number[][]; loadedLr: number; oursLayout: unknown; pyLayout: unknown }>;
    values: unknown;
    plainTag: unknown;
    plainSame: boolean;
  };
  const ours: Record<string, Float32Array[]> = {};
  let values: torch.PyDict;

  before(() => {
    torch.manualSeed(5);
    dir = mkdtempSync(join(tmpdir(), 'fmnist-optim-state-'));
    for (const [name, c] of Object.entries(CONFIGS)) {
      const ps = params();
      const opt = c.make(ps);
      steps(opt, 0, K);
      writeFileSync(
        join(dir, `${name}-opt.pt`),
        torch.tidy(() => torch.save(opt.stateDict())),
      );
      writeFileSync(join(dir, `${name}-params.pt`), saveParams(ps));
      steps(opt, K, K + M);
      ours[name] = valuesOf(ps);
      disposeAll(ps);
    }
    values = torch.PyDict.of([
      ['plain', PLAIN],
      [
        'tensors',
        [
          torch.tensor([
            [1.5, -2],
            [0, 3],
          ]),
          torch.tensor(7),
          torch.tensor([1, 0, 1], { dtype: 'bool' }),
        ],
      ],
      ['more', new torch.PyTuple([torch.tensor([-3, 2 ** 40], { dtype: 'int64' }), torch.zeros([0, 3])])],
    ]);
    writeFileSync(join(dir, 'values.pt'), torch.save(values));
    writeFileSync(join(dir, 'plain.pt'), torch.save(PLAIN));
    const configs = Object.fromEntries(Object.entries(CONFIGS).map(([k, c]) => [k, { kind: c.kind, py: c.py }]));
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ shapes: SHAPES, K, M, init: INIT, grads: GRADS, configs }));
    report = JSON.parse(runPython(PY, [dir]));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const name of Object.keys(CONFIGS)) {
    test(`${name}: Python loads our state dict and continues as we do (1e-6); its layout is Python's own`, () => {
      const r = report.configs[name];
      assert.deepEqual(r.oursLayout, r.pyLayout);
      assert.equal(r.loadedLr, (CONFIGS[name].py as { lr: number }).lr);
      r.a.forEach((p, i) => assertClose(ours[name][i], p, `${name} param ${i}`, { rtol: 1e-6, atol: 1e-6 }));
      assert.deepEqual(r.a[2], INIT[2], 'the parameter without gradients did not move');
    });

    test(`${name}: Python's state dict loads here and continues as Python does (1e-6)`, () => {
      torch.withDisposeScope(() => {
        const loaded = torch.loadStateDict(readFileSync(join(dir, `${name}-py-params.pt`)));
        const ps = params([...loaded.values()].map((t) => t.toFloat32()));
        const opt = CONFIGS[name].other(ps);
        opt.loadStateDict(torch.loadObject(readFileSync(join(dir, `${name}-py-opt.pt`))));
        assert.equal(opt.lr, (CONFIGS[name].py as { lr: number }).lr);
        steps(opt, K, K + M);
        valuesOf(ps).forEach((p, i) =>
          assertClose(p, report.configs[name].b[i], `${name} param ${i}`, { rtol: 1e-6, atol: 1e-6 }),
        );
        disposeAll(ps);
      });
    });
  }

  test('torch.save: Python reads every value as written (types, float bits, big ints, unicode, tensors)', () => {
    assert.deepEqual(report.values, tag(values));
    assert.deepEqual(report.plainTag, tag(PLAIN));
  });

  test("torch.save's pickle is byte for byte Python's own protocol-2 pickle of the value", () => {
    assert.equal(report.plainSame, true);
  });

  test("torch.loadObject reads Python's torch.save of the same values back identically", () => {
    torch.withDisposeScope(() => {
      assert.deepEqual(tag(torch.loadObject(readFileSync(join(dir, 'values-py.pt')))), tag(values));
    });
  });

  test('torch.loadObject refuses a value outside its allowlist, naming where it is', () => {
    assert.throws(
      () => torch.loadObject(readFileSync(join(dir, 'dtype.pt')), 'dtype.pt'),
      /^PtFormatError: dtype\.pt: the object\["a"\]\[1\] is a global 'torch\.float32'; only dicts, lists, tuples, str, int, float, bool, None and tensors load$/,
    );
  });
});

describe('optimizer state dicts in fmnist', () => {
  for (const [name, c] of Object.entries(CONFIGS)) {
    test(`${name}: stateDict -> save -> loadObject -> loadStateDict continues bit-identically`, () => {
      torch.manualSeed(6);
      const a = params();
      const optA = c.make(a);
      steps(optA, 0, K);
      const bytes = torch.tidy(() => torch.save(optA.stateDict()));
      const b = params(valuesOf(a));
      const optB = c.other(b);
      torch.withDisposeScope(() => optB.loadStateDict(torch.loadObject(bytes))); // the loaded tensors are freed
      assert.ok(torch.tidy(() => torch.save(optB.stateDict())).equals(bytes), 'the same state dict, byte for byte');
      steps(optA, K, K + M);
      steps(optB, K, K + M);
      const [va, vb] = [valuesOf(a), valuesOf(b)];
      va.forEach((x, i) => assert.deepEqual(vb[i], x, `param ${i}`));
      const after = (o: torch.optim.Optimizer) => torch.tidy(() => torch.save(o.stateDict()));
      assert.ok(after(optA).equals(after(optB)), 'the same state after the steps, byte for byte');
      disposeAll(a);
      disposeAll(b);
    });
  }

  test('a parameter that never had a gradient has no state entry; SGD without momentum keeps None; the order', () => {
    torch.withDisposeScope(() => {
      const ps = params();
      const sgd = new torch.optim.SGD(ps, { lr: 0.1 });
      const adam = new torch.optim.Adam(params());
      const stateOf = (o: torch.optim.Optimizer) => o.stateDict().get('state') as torch.PyDict;
      assert.equal(stateOf(sgd).size, 0);
      steps(sgd, 0, 1);
      steps(adam, 0, 2);
      assert.deepEqual([...stateOf(sgd).keys()], [0, 3]);
      assert.equal((stateOf(sgd).get(0) as torch.PyDict).get('momentum_buffer'), null);
      assert.deepEqual([...stateOf(adam).keys()], [0, 3, 1], 'in the order they had a gradient first, as in torch');
      const step = (stateOf(adam).get(1) as torch.PyDict).get('step') as torch.Tensor;
      assert.deepEqual([step.dtype, step.shape, step.item()], ['float32', [], 1]);
    });
  });
});

describe('loadStateDict refuses a state dict that does not fit, naming the field', () => {
  /** An Adam state dict over SHAPES after two steps, freshly loaded (mutable). */
  const adamState = () => {
    const opt = new torch.optim.Adam(params());
    steps(opt, 0, 2);
    return torch.loadObject(torch.save(opt.stateDict())) as torch.PyDict;
  };
  const groupOf = (sd: torch.PyDict) => (sd.get('param_groups') as torch.PyDict[])[0];
  const entry = (sd: torch.PyDict, i: number) => (sd.get('state') as torch.PyDict).get(i) as torch.PyDict;

  test('another number of parameters', () => {
    torch.withDisposeScope(() => {
      const opt = new torch.optim.Adam(params().slice(0, 3));
      assert.throws(
        () => opt.loadStateDict(adamState()),
        /^Error: Adam\.loadStateDict: \['param_groups'\]\[0\]\['params'\] lists 4 parameters, but this optimizer has 3$/,
      );
    });
  });

  test('a tensor of another shape, and nothing changes', () => {
    torch.withDisposeScope(() => {
      const ps = params();
      const opt = new torch.optim.Adam(ps);
      steps(opt, 0, 1);
      const before = torch.save(opt.stateDict());
      const sd = adamState();
      entry(sd, 3).set('exp_avg_sq', torch.zeros([6]));
      assert.throws(
        () => opt.loadStateDict(sd),
        /^Error: Adam\.loadStateDict: \['state'\]\[3\]\['exp_avg_sq'\] has shape \[6\], but parameter 3 has shape \[5\]$/,
      );
      assert.ok(torch.save(opt.stateDict()).equals(before), 'the optimizer is unchanged');
    });
  });

  test('another kind of optimizer', () => {
    torch.withDisposeScope(() => {
      assert.throws(
        () => new torch.optim.AdamW(params()).loadStateDict(adamState()),
        /^Error: AdamW\.loadStateDict: \['param_groups'\]\[0\] has unexpected 'differentiable', 'fused' \(it is a torch\.optim\.Adam state dict\)$/,
      );
      assert.throws(
        () => new torch.optim.SGD(params(), { lr: 1 }).loadStateDict(adamState()),
        /^Error: SGD\.loadStateDict: \['param_groups'\]\[0\] has no 'momentum', 'dampening', 'nesterov' and has unexpected .* \(it is a torch\.optim\.Adam state dict\)$/,
      );
      const sgd = new torch.optim.SGD(params(), { lr: 0.1, momentum: 0.9 });
      steps(sgd, 0, 1);
      const sd = torch.loadObject(torch.save(sgd.stateDict())) as torch.PyDict;
      assert.throws(() => new torch.optim.RAdam(params()).loadStateDict(sd), /it is a torch\.optim\.SGD state dict/);
    });
  });

  test('bad fields: amsgrad, step, betas, a state entry for no parameter, not a dict', () => {
    torch.withDisposeScope(() => {
      const opt = new torch.optim.Adam(params());
      const bad = (edit: (sd: torch.PyDict) => void, re: RegExp) => {
        const sd = adamState();
        edit(sd);
        assert.throws(() => opt.loadStateDict(sd), re);
      };
      bad(
        (sd) => groupOf(sd).set('amsgrad', true),
        /\['param_groups'\]\[0\]\['amsgrad'\] is True, which fmnist's Adam does not do$/,
      );
      bad(
        (sd) => entry(sd, 0).set('step', torch.tensor(2.5)),
        /\['state'\]\[0\]\['step'\] is 2\.5, not a whole number of steps$/,
      );
      bad(
        (sd) => entry(sd, 0).set('step', torch.tensor([1, 2])),
        /\['state'\]\[0\]\['step'\] is a tensor of shape \[2\], not a scalar$/,
      );
      bad((sd) => entry(sd, 0).set('exp_avg', 'x'), /\['state'\]\[0\]\['exp_avg'\] is a str, not a tensor$/);
      bad((sd) => groupOf(sd).set('betas', new torch.PyTuple([0.9])), /\['betas'\] is a tuple, not a pair of numbers$/);
      bad(
        (sd) => groupOf(sd).set('betas', new torch.PyTuple([0.9, 1.5])),
        /\['betas'\]\[1\] is 1\.5, not a number in \[0, 1\)$/,
      );
      bad(
        (sd) => (sd.get('state') as torch.PyDict).set(9, torch.PyDict.of([])),
        /\['state'\] has an entry \[9\] for no parameter/,
      );
      bad((sd) => entry(sd, 1).set('max_exp_avg_sq', null), /\['state'\]\[1\] has unexpected 'max_exp_avg_sq'$/);
      assert.throws(() => opt.loadStateDict('x'), /^Error: Adam\.loadStateDict: the state dict is a str, not a dict$/);
    });
  });
});

describe('torch.save refuses what it cannot write, naming where it is', () => {
  test('undefined, a Map, a function, a lone surrogate, a cycle', () => {
    assert.throws(
      () => torch.save({ a: [1, undefined] }),
      /^TypeError: save: value\['a'\]\[1\] is undefined, which cannot be saved/,
    );
    assert.throws(() => torch.save([new Map()]), /^TypeError: save: value\[0\] is a Map, which cannot be saved/);
    assert.throws(() => torch.save(torch.PyDict.of([[3, () => 1]])), /^TypeError: save: value\[3\] is a function/);
    assert.throws(() => torch.save({ s: 'a\ud800' }), /^TypeError: save: value\['s'\] is a str with a lone surrogate$/);
    const cycle: unknown[] = [];
    cycle.push(cycle);
    assert.throws(
      () => torch.save(cycle),
      /^TypeError: save: value\[0\]\[0\]\[0\]\[0\]\[0\]\.\.\. is nested 1000 deep \(a cycle\?\)$/,
    );
  });
});
