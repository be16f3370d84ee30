// Dispose scopes: what tidy / withDisposeScope free and keep, moveToOuter and detach, nesting, and a flat RSS
// over many training steps (measured in a child process with --expose-gc).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { REPO_ROOT, values } from './helpers.js';

const disposed = (...ts: torch.Tensor[]) => ts.map((t) => t.isDisposed);

/** Runs a TypeScript script (source text) in a fresh node process; returns its last stdout line as JSON. */
function runChild(source: string, nodeArgs: string[] = [], args: string[] = []): any {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-memory-'));
  try {
    const file = join(dir, 'child.mts');
    writeFileSync(file, source.replaceAll('@torch@', JSON.stringify(join(REPO_ROOT, 'src/torch/index.ts'))));
    const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', file, ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    assert.equal(r.status, 0, `child failed (${r.status ?? r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tidy', () => {
  test('frees the intermediates and keeps the returned tensor', () => {
    let a!: torch.Tensor;
    let b!: torch.Tensor;
    const out = torch.tidy(() => {
      a = torch.ones([3]);
      b = a.mul(2);
      return b.add(1);
    });
    assert.deepEqual(disposed(a, b, out), [true, true, false]);
    assert.deepEqual(values(out), [3, 3, 3]);
    out.dispose();
  });

  test('keeps tensors returned in arrays, plain objects and nested combinations', () => {
    let tmp!: torch.Tensor;
    const r = torch.tidy(() => {
      tmp = torch.zeros([1]);
      const x = torch.ones([1]);
      const y = x.add(1);
      return { pair: [x, y] as const, nested: { z: y.mul(3) }, n: 5, s: 'kept' };
    });
    assert.equal(tmp.isDisposed, true);
    assert.deepEqual(disposed(r.pair[0], r.pair[1], r.nested.z), [false, false, false]);
    assert.deepEqual(values(r.nested.z), [6]);
    assert.equal(r.n, 5);
    [r.pair[0], r.pair[1], r.nested.z].forEach((t) => t.dispose());
  });

  test('does not touch tensors created outside any scope, even when they are used or returned inside', () => {
    const outside = torch.ones([2]);
    assert.equal(torch.currentScope(), null);
    const same = torch.tidy(() => {
      outside.add(1);
      return outside;
    });
    assert.equal(same, outside);
    assert.equal(outside.isDisposed, false);
    torch.withDisposeScope(() => outside.mul(2));
    assert.equal(outside.isDisposed, false);
    outside.dispose();
  });

  test('frees what was made even when fn throws, and restores the enclosing scope', () => {
    let made!: torch.Tensor;
    assert.throws(
      () =>
        torch.tidy(() => {
          made = torch.ones([2]);
          made.matmul(torch.ones([3]));
        }),
      /matmul/,
    );
    assert.equal(made.isDisposed, true);
    assert.equal(torch.currentScope(), null);
  });

  test('gradients read inside tidy are freed, the parameter keeps its gradient', () => {
    const p = torch.ones([2], { requiresGrad: true });
    torch.tidy(() => p.mul(3).sum().backward());
    let g!: torch.Tensor;
    torch.tidy(() => {
      g = p.grad!;
      assert.deepEqual(values(g), [3, 3]);
    });
    assert.equal(g.isDisposed, true);
    torch.tidy(() => assert.deepEqual(values(p.grad!), [3, 3]));
    p.dispose();
  });
});

describe('nested scopes, moveToOuter and detach', () => {
  test('an inner scope frees its own tensors; the outer scope keeps its tensors until it ends', () => {
    let outerT!: torch.Tensor;
    let innerT!: torch.Tensor;
    torch.withDisposeScope((outer) => {
      outerT = torch.ones([1]);
      torch.withDisposeScope((inner) => {
        assert.equal(inner.outer, outer);
        assert.equal(torch.currentScope(), inner);
        innerT = outerT.add(1);
      });
      assert.equal(torch.currentScope(), outer);
      assert.deepEqual(disposed(outerT, innerT), [false, true]);
    });
    assert.deepEqual(disposed(outerT, innerT), [true, true]);
    assert.equal(torch.currentScope(), null);
  });

  test('a tensor returned from an inner tidy belongs to the outer tidy', () => {
    let mid!: torch.Tensor;
    const out = torch.tidy(() => {
      mid = torch.tidy(() => torch.ones([2]).mul(5));
      assert.equal(mid.isDisposed, false);
      return mid.sum();
    });
    assert.deepEqual(disposed(mid, out), [true, false]);
    assert.equal(out.item(), 10);
    out.dispose();
  });

  test('moveToOuter hands a tensor to the enclosing scope (freed when that ends)', () => {
    let moved!: torch.Tensor;
    torch.withDisposeScope((outer) => {
      torch.withDisposeScope((inner) => {
        moved = inner.moveToOuter(torch.ones([1]));
        assert.equal(inner.tensors.has(moved), false);
        assert.equal(outer.tensors.has(moved), true);
      });
      assert.equal(moved.isDisposed, false);
    });
    assert.equal(moved.isDisposed, true);
  });

  test('moveToOuter at the top level leaves the tensor to the caller; moving a foreign tensor is a no-op', () => {
    const outside = torch.ones([1]);
    const t = torch.withDisposeScope((s) => {
      assert.equal(s.moveToOuter(outside), outside);
      return s.moveToOuter(torch.ones([1]));
    });
    assert.deepEqual(disposed(t, outside), [false, false]);
    t.dispose();
    outside.dispose();
  });

  test('detach takes a tensor out of every scope: the caller owns it', () => {
    let kept!: torch.Tensor;
    torch.withDisposeScope(() => {
      torch.withDisposeScope((inner) => {
        kept = inner.detach(torch.ones([1]));
      });
    });
    assert.equal(kept.isDisposed, false);
    kept.dispose();
  });

  test('Tensor.detach() (autograd) makes a new tensor that the scope frees; the source keeps requiring grad', () => {
    const p = torch.ones([2], { requiresGrad: true });
    let d!: torch.Tensor;
    torch.tidy(() => {
      d = p.detach();
      assert.equal(d.requiresGrad, false);
      assert.equal(p.requiresGrad, true);
    });
    assert.deepEqual(disposed(d, p), [true, false]);
    p.dispose();
  });

  test('a module and an optimizer built inside a scope outlive it (parameters, buffers and state are owned)', () => {
    const { model, opt } = torch.withDisposeScope(() => {
      const model = new torch.nn.Sequential(new torch.nn.Linear(4, 3), new torch.nn.BatchNorm1d(3));
      const opt = new torch.optim.Adam(model.parameters(), { lr: 0.01 });
      return { model, opt };
    });
    try {
      assert.ok([...model.stateDict().values()].every((t) => !t.isDisposed));
      model.eval();
      torch.tidy(() => {
        opt.zeroGrad();
        model
          .call(torch.ones([2, 4]))
          .sum()
          .backward();
        opt.step();
      });
      torch.tidy(() => {
        opt.zeroGrad();
        model
          .call(torch.ones([2, 4]))
          .sum()
          .backward();
        opt.step(); // Adam's moment buffers made in the first scope are still alive
      });
    } finally {
      model.dispose();
    }
    assert.ok([...model.stateDict().values()].every((t) => t.isDisposed));
  });

  test('a scope from newDisposeScope() ends when disposed', () => {
    // In a child process: if the scope is not popped, every later tensor is registered in a dead scope.
    const r = runChild(`
import * as torch from @torch@;
const s = torch.newDisposeScope();
const t = torch.ones([1]);
s.dispose();
const after = torch.ones([1]);
console.log(JSON.stringify({ freed: t.isDisposed, current: torch.currentScope() === null, captured: s.tensors.has(after) }));
`);
    assert.deepEqual(r, { freed: true, current: true, captured: false });
  });
});

/** Child: two small models (dense and conv) trained with Adam in tidy; RSS after 50 warm-up steps and after 200 more. */
const TRAIN_CHILD = `
import * as torch from @torch@;
const { nn, optim } = torch;
const F = nn.functional;
torch.setNumThreads(1);
torch.manualSeed(0);
const yielding = process.argv[2] === 'yield';
const gc = (globalThis as any).gc as () => void;
const tick = () => new Promise((resolve) => setImmediate(resolve));
const models = [
  new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 128), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(128, 10)),
  new nn.Sequential(new nn.Conv2d(1, 4, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 13 * 13, 10)),
];
const opts = models.map((m) => new optim.Adam(m.parameters(), { lr: 1e-3 }));
const data = torch.rand([512, 1, 28, 28]);
const labels = torch.randint(0, 10, [512]);
let leaked = 0;
const step = () => {
  for (let k = 0; k < models.length; k++) {
    const made: torch.Tensor[] = [];
    const loss = torch.tidy(() => {
      const idx = torch.randint(0, 512, [64]);
      const xb = data.indexSelect(0, idx);
      const logits = models[k].call(xb);
      const loss = F.crossEntropy(logits, labels.indexSelect(0, idx));
      opts[k].zeroGrad();
      loss.backward();
      opts[k].step();
      made.push(idx, xb, logits, loss);
      return loss.item();
    });
    if (!Number.isFinite(loss)) throw new Error('loss ' + loss);
    leaked += made.filter((t) => !t.isDisposed).length;
  }
};
const run = async (n: number) => {
  for (let i = 1; i <= n; i++) {
    step();
    // 'yield': collect garbage and let the event loop turn every 10 steps (N-API finalizers run from setImmediate)
    if (yielding && i % 10 === 0) {
      gc();
      await tick();
    }
  }
};
const rss = () => process.memoryUsage.rss() / 2 ** 20;
await run(50);
const warm = rss();
await run(200);
const end = rss();
console.log(JSON.stringify({ warm, end, growthMB: end - warm, leaked }));
`;

function trainRss(mode: 'yield' | 'sync'): { warm: number; growthMB: number; leaked: number } {
  return runChild(TRAIN_CHILD, ['--expose-gc'], [mode]);
}

describe('memory over many training steps', () => {
  test('RSS stays flat over 200 tidy training steps after warm-up when the loop yields to the event loop and GC', () => {
    const r = trainRss('yield');
    assert.equal(r.leaked, 0, 'tensors made inside tidy must be disposed when it ends');
    assert.ok(r.growthMB < 50, `RSS grew ${r.growthMB.toFixed(1)} MB over 200 steps (from ${r.warm.toFixed(0)} MB)`);
  });

  // A loop that never yields grows RSS even though every tensor is disposed (Node 20 runs N-API
  // finalizers from the event loop); docs/memory.md rule 8. The PyTorch engine yields every 8 steps.
});
