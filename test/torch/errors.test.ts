// Bad calls become JS Errors that say what went wrong (libtorch's c10::Error is caught in the addon's guard),
// and the process keeps running after them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { REPO_ROOT } from './helpers.js';

const F = torch.nn.functional;

/** Asserts that fn throws an Error (of `type`) whose message matches `re`; tensors made inside are freed. */
function throwsError(fn: () => unknown, re: RegExp, type: ErrorConstructor = Error): void {
  torch.withDisposeScope(() =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof type, `expected a ${type.name}, got ${String(e)}`);
      assert.match((e as Error).message, re);
      return true;
    }),
  );
}

describe('shape mismatches', () => {
  test('matmul names both shapes', () => {
    throwsError(
      () => torch.zeros([2, 3]).matmul(torch.zeros([4, 5])),
      /^matmul: .*cannot be multiplied \(2x3 and 4x5\)/,
    );
    throwsError(() => torch.matmul(torch.zeros([3]), torch.zeros([4])), /^matmul: /);
  });

  test('linear: weight and bias', () => {
    throwsError(
      () => F.linear(torch.zeros([2, 3]), torch.zeros([4, 5])),
      /^linear: .*cannot be multiplied \(2x3 and 5x4\)/,
    );
    throwsError(() => F.linear(torch.zeros([2, 3]), torch.zeros([4, 3]), torch.zeros([5])), /^linear: .*size/);
    const layer = new torch.nn.Linear(784, 10);
    try {
      throwsError(
        () => layer.call(torch.zeros([2, 1, 28, 28])),
        /^linear: .*cannot be multiplied \(56x28 and 784x10\)/,
      );
    } finally {
      layer.dispose();
    }
  });

  test('conv2d: channels, kernel larger than input, input rank', () => {
    throwsError(
      () => F.conv2d(torch.zeros([1, 2, 5, 5]), torch.zeros([3, 1, 3, 3])),
      /^conv2d: .*to have 1 channels, but got 2 channels/,
    );
    throwsError(
      () => F.conv2d(torch.zeros([1, 1, 2, 2]), torch.zeros([3, 1, 3, 3])),
      /^conv2d: .*Kernel size can't be greater than actual input size/,
    );
    throwsError(
      () => F.conv2d(torch.zeros([5, 5]), torch.zeros([3, 1, 3, 3])),
      /^conv2d: Expected 3D \(unbatched\) or 4D \(batched\) input/,
    );
  });

  test('the cnn on dense-shaped input', () => {
    const m = new torch.nn.Conv2d(1, 32, 3);
    try {
      throwsError(() => m.call(torch.zeros([4, 784])), /^conv2d: /);
    } finally {
      m.dispose();
    }
  });

  test('pooling, broadcasting, reshape, view, cat', () => {
    throwsError(() => F.maxPool2d(torch.zeros([1, 1, 2, 2]), 3), /^maxPool2d: .*Output size is too small/);
    throwsError(
      () => torch.zeros([2, 3]).add(torch.zeros([4])),
      /^add: The size of tensor a \(3\) must match the size of tensor b \(4\)/,
    );
    throwsError(() => torch.zeros([3, 2]).reshape(4), /^reshape: shape '\[4\]' is invalid for input of size 6/);
    throwsError(() => torch.zeros([3, 2]).transpose(0, 1).view(6), /^view: .*Use \.reshape/);
    throwsError(() => torch.cat([torch.zeros([2, 3]), torch.zeros([2, 4])]), /^cat: Sizes of tensors must match/);
    throwsError(
      () => torch.fromTypedArray(new Float32Array(5), [2, 3]),
      /^fromTypedArray: shape holds 6 elements but the array has 5/,
    );
    throwsError(
      () => torch.tensor([[1, 2], [3]] as unknown as number[][]),
      /^fromTypedArray: shape holds 4 elements but the array has 3/,
    );
    throwsError(() => torch.zeros([-1]), /^zeros: .*negative dimension -1/);
  });
});

describe('wrong dtypes', () => {
  test('cross-entropy with float targets of class indices', () => {
    throwsError(
      () => F.crossEntropy(torch.zeros([2, 3]), torch.tensor([0, 1])),
      /^crossEntropy: expected scalar type Long but found Float/,
    );
  });
  test('index_select with a float index', () => {
    throwsError(
      () => torch.zeros([3]).indexSelect(0, torch.tensor([1])),
      /^indexSelect: .*Expected dtype int32 or int64 for index/,
    );
  });
  test('an unknown dtype name', () => {
    throwsError(
      () => torch.zeros([2], { dtype: 'float16' as torch.Dtype }),
      /unsupported dtype 'float16' \(expected float32, /,
      TypeError,
    );
  });
  test('gradients on an integer tensor', () => {
    throwsError(
      () => torch.zeros([2], { dtype: 'int64', requiresGrad: true }),
      /^requiresGrad_: Only Tensors of floating point/,
    );
  });
});

describe('indices out of range', () => {
  test('class index out of range in cross-entropy (too large and negative)', () => {
    throwsError(
      () => F.crossEntropy(torch.zeros([2, 3]), torch.tensor([0, 3], { dtype: 'int64' })),
      /^crossEntropy: Target 3 is out of bounds/,
    );
    throwsError(
      () => F.crossEntropy(torch.zeros([2, 3]), torch.tensor([0, -1], { dtype: 'int64' })),
      /^crossEntropy: Target -1 is out of bounds/,
    );
  });
  test('index_select, narrow', () => {
    throwsError(
      () => torch.zeros([3]).indexSelect(0, torch.tensor([3], { dtype: 'int64' })),
      /^indexSelect: index out of range/,
    );
    throwsError(
      () => torch.zeros([3]).narrow(0, 2, 5),
      /^narrow: start \(2\) \+ length \(5\) exceeds dimension size \(3\)/,
    );
  });
  test('dimensions out of range', () => {
    const dimErr = (op: string, d: number) =>
      new RegExp(`^${op}: Dimension out of range \\(expected to be in range of \\[-2, 1\\], but got ${d}\\)`);
    throwsError(() => torch.zeros([3, 2]).transpose(0, 2), dimErr('transpose', 2));
    throwsError(() => torch.zeros([3, 2]).argmax(5), dimErr('argmax', 5));
    throwsError(() => torch.zeros([3, 2]).softmax(2), dimErr('softmax', 2));
    throwsError(() => torch.zeros([3, 2]).sum(4), dimErr('sumDim', 4));
  });
  test('item() of more than one element', () => {
    throwsError(() => torch.zeros([2]).item(), /^item: a Tensor with 2 elements cannot be converted to Scalar/);
  });
});

describe('autograd misuse', () => {
  test('backward of a non-scalar, of a tensor without grad, and twice through a freed graph', () => {
    throwsError(
      () => torch.zeros([2], { requiresGrad: true }).mul(2).backward(),
      /^backward: grad can be implicitly created only for scalar outputs/,
    );
    throwsError(() => torch.zeros([]).backward(), /^backward: element 0 of tensors does not require grad/);
    throwsError(() => {
      const y = torch.ones([2], { requiresGrad: true }).exp().sum();
      y.backward();
      y.backward();
    }, /^backward: Trying to backward through the graph a second time/);
  });
  test('retainGraph allows a second backward that accumulates', () => {
    torch.withDisposeScope(() => {
      const x = torch.ones([2], { requiresGrad: true });
      const y = x.exp().sum();
      y.backward(undefined, true);
      y.backward();
      assert.ok(Math.abs(x.grad!.tolist()[0] - 2 * Math.E) < 1e-5);
    });
  });
});

describe('use after dispose', () => {
  test('every reader and op says the tensor is disposed; dispose twice is harmless', () => {
    const t = torch.zeros([2]);
    t.dispose();
    assert.equal(t.isDisposed, true);
    assert.doesNotThrow(() => t.dispose());
    throwsError(() => t.add(1), /^addScalar: argument 0 is a disposed tensor/);
    throwsError(() => t.shape, /^shape: argument 0 is a disposed tensor/);
    throwsError(() => t.dtype, /^dtype: argument 0 is a disposed tensor/);
    throwsError(() => t.item(), /^item: argument 0 is a disposed tensor/);
    throwsError(() => t.dataSync(), /^toTypedArray: argument 0 is a disposed tensor/);
    throwsError(() => t.grad, /^grad: argument 0 is a disposed tensor/);
    throwsError(() => torch.zeros([2]).add(t), /^add: argument 1 is a disposed tensor/);
    throwsError(() => F.linear(torch.zeros([1, 2]), t), /^linear: argument 1 is a disposed tensor/);
    throwsError(
      () => torch.stack([t]),
      /^stack: argument 0 must be an array of live \(not disposed\) Tensors/,
      TypeError,
    );
  });

  test('a disposed model parameter', () => {
    const m = new torch.nn.Linear(2, 2);
    m.dispose();
    throwsError(() => m.call(torch.zeros([1, 2])), /^linear: argument \d is a disposed tensor/);
  });

  test('a tensor freed by its scope', () => {
    const t = torch.tidy(() => {
      torch.zeros([2]);
      return null;
    });
    assert.equal(t, null);
    const kept = torch.withDisposeScope(() => torch.zeros([2]));
    throwsError(() => kept.sum(), /^sum: argument 0 is a disposed tensor/);
  });
});

describe('arguments that are not tensors', () => {
  test('a string, an object or a number where a tensor belongs is a TypeError naming the op and position', () => {
    throwsError(
      () => torch.zeros([2]).add('a' as unknown as torch.Tensor),
      /^add: argument 1 must be a Tensor/,
      TypeError,
    );
    throwsError(
      () => torch.zeros([2]).mul({} as unknown as torch.Tensor),
      /^mul: argument 1 must be a Tensor/,
      TypeError,
    );
    throwsError(
      () => F.linear(torch.zeros([2, 3]), 3 as unknown as torch.Tensor),
      /^linear: argument 1 must be a Tensor/,
      TypeError,
    );
    throwsError(
      () => torch.cat([torch.zeros([1]), [1] as unknown as torch.Tensor]),
      /^cat: argument 0 must be an array of Tensors/,
      TypeError,
    );
    throwsError(() => F.linear(null as unknown as torch.Tensor, torch.zeros([2, 3])), /null/, TypeError);
  });

  test('other bad arguments', () => {
    throwsError(
      () => torch.zeros([2]).reshape('a' as unknown as number),
      /^reshape: argument 1 must be an array of integers/,
      TypeError,
    );
    throwsError(
      () => torch.fromTypedArray([1, 2] as unknown as Float32Array, [2]),
      /^fromTypedArray: argument 0 must be a typed array/,
      TypeError,
    );
    throwsError(
      () => torch.loadStateDict('model.pt' as unknown as Buffer),
      /^loadStateDict: argument 0 must be a Buffer or Uint8Array/,
      TypeError,
    );
    throwsError(() => torch.setNumThreads(0), /^setNumThreads: need at least 1 thread/, RangeError);
    throwsError(
      () => F.crossEntropy(torch.zeros([2, 3]), torch.zeros([2], { dtype: 'int64' }), { reduction: 'avg' as 'mean' }),
      /^crossEntropy: argument 3 must be 'mean', 'sum' or 'none'/,
      TypeError,
    );
  });

  test('fractional or NaN sizes are rejected, as in PyTorch', () => {
    throwsError(() => torch.zeros([2.5]), /integer/, TypeError);
    throwsError(() => torch.zeros([NaN]), /integer/, TypeError);
    throwsError(() => torch.zeros([4]).narrow(0, 0.5, 2), /integer/, TypeError);
  });
});

describe('the process survives native errors', () => {
  test('a child process that hits and catches libtorch errors exits 0 and keeps computing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-errors-'));
    try {
      const script = join(dir, 'child.mts');
      const torchIndex = JSON.stringify(join(REPO_ROOT, 'src/torch/index.ts'));
      writeFileSync(
        script,
        `import * as torch from ${torchIndex};
const F = torch.nn.functional;
const bad = [
  () => torch.zeros([2, 3]).matmul(torch.zeros([4, 5])),
  () => F.crossEntropy(torch.zeros([2, 3]), torch.tensor([0, 9], { dtype: 'int64' })),
  () => torch.zeros([3]).indexSelect(0, torch.tensor([7], { dtype: 'int64' })),
  () => { const y = torch.ones([2], { requiresGrad: true }).exp().sum(); y.backward(); y.backward(); },
  () => { const t = torch.zeros([1]); t.dispose(); t.add(1); },
  () => torch.loadStateDict(Buffer.from('PK garbage')),
];
let caught = 0;
for (const f of bad) {
  try { f(); } catch (e) { if (e instanceof Error) caught++; }
}
const x = torch.tensor([1, 2, 3], { requiresGrad: true });
x.mul(x).sum().backward();
console.log(JSON.stringify({ caught, grad: x.grad!.tolist() }));
`,
      );
      const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { caught: 6, grad: [2, 4, 6] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
