// torch.liveTensors(): Tensors made and not disposed, the count bench/soak.ts watches for leaks (as tf.memory()
// .numTensors is for tfjs). Each check reads differences, so tensors made elsewhere in the process do not matter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';

const { nn, optim } = torch;
const F = nn.functional;

/** The change in liveTensors() across fn, and fn's result. */
function delta<R>(fn: () => R): { d: number; r: R } {
  const before = torch.liveTensors();
  const r = fn();
  return { d: torch.liveTensors() - before, r };
}

describe('liveTensors', () => {
  test('counts every Tensor made, and dispose() takes it off once', () => {
    const { d, r } = delta(() => {
      const a = torch.ones([2, 3]);
      return [a, a.add(1), a.sum(), torch.zeros([4])];
    });
    assert.equal(d, 4);
    const { d: freed } = delta(() => {
      r[0].dispose();
      r[0].dispose(); // a second dispose() counts once
      r[1].dispose();
    });
    assert.equal(freed, -2);
    assert.equal(delta(() => r.slice(2).forEach((t) => t.dispose())).d, -2);
  });

  test('tidy leaves only what it returns', () => {
    const { d, r } = delta(() =>
      torch.tidy(() => {
        const a = torch.rand([8]);
        const b = a.exp().add(a);
        return { kept: b.mul(2), n: 1 };
      }),
    );
    assert.equal(d, 1);
    r.kept.dispose();
  });

  test('t.grad is a new handle each time: reading it outside a scope without dispose() counts', () => {
    const w = torch.ones([3]);
    w.requiresGrad = true;
    torch.tidy(() => w.mul(w).sum().backward());
    const { d, r } = delta(() => [w.grad!, w.grad!]);
    assert.equal(d, 2);
    r.forEach((g) => g.dispose());
    w.dispose();
  });

  test('stays flat over training steps, and sees a tensor leaked per step', () => {
    torch.manualSeed(3);
    const model = new nn.Linear(12, 4);
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
    const x = torch.rand([16, 12]);
    const y = torch.randint(0, 4, [16]);
    const step = (leak: boolean) => {
      torch.tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(model.call(x), y);
        loss.backward();
        opt.step();
      });
      if (leak) x.mul(2); // made outside any scope and never disposed
    };
    step(false); // the first step makes Adam's moments and the gradients
    const counts: number[] = [];
    for (let i = 0; i < 6; i++) {
      step(false);
      counts.push(torch.liveTensors());
    }
    assert.deepEqual(counts, Array(6).fill(counts[0]), `live tensors over clean steps: ${counts}`);
    const leaky: number[] = [];
    for (let i = 0; i < 6; i++) {
      step(true);
      leaky.push(torch.liveTensors() - counts[0]);
    }
    assert.deepEqual(leaky, [1, 2, 3, 4, 5, 6]);
    model.dispose();
    x.dispose();
    y.dispose();
  });

  test('nn.Sequential frees each intermediate as soon as the next layer has it, and gradients still flow', () => {
    torch.manualSeed(3);
    const model = new nn.Sequential(
      new nn.Linear(12, 32),
      new nn.ReLU(),
      new nn.Linear(32, 32),
      new nn.ReLU(),
      new nn.Linear(32, 4),
    );
    const x = torch.rand([8, 12]);
    // one tensor stays from a 5-layer forward: its output (the input is the caller's, and is kept)
    const { d, r: out } = delta(() => torch.noGrad(() => model.call(x)));
    assert.equal(d, 1);
    assert.equal(x.isDisposed, false);
    out.dispose();
    // in grad mode autograd keeps what backward needs, so the freed handles do not break backward
    torch.tidy(() => {
      const loss = model.call(x).square().mean();
      loss.backward();
    });
    for (const p of model.parameters()) {
      assert.ok(p.grad, 'every parameter has a gradient');
      assert.ok(Number.isFinite(p.grad.abs().sum().item()));
    }
    model.dispose();
    x.dispose();
  });

  test("a module's call frees its forward's temporaries and keeps the output and the input", () => {
    torch.manualSeed(4);
    class Gate extends nn.Module {
      readonly fc = this.registerModule('fc', new nn.Linear(6, 6));
      // four temporaries: the product, the sigmoid, the tanh and the difference
      forward(x: torch.Tensor): torch.Tensor {
        const h = this.fc.call(x);
        return h.sigmoid().mul(h.tanh()).sub(x).add(x);
      }
    }
    const gate = new Gate();
    const x = torch.rand([5, 6]);
    const { d, r: out } = delta(() => torch.noGrad(() => gate.call(x)));
    assert.equal(d, 1);
    assert.equal(x.isDisposed, false);
    // the same numbers as a forward left to the caller's tidy
    const ref = torch.tidy(() => torch.noGrad(() => gate.forward(x)));
    assert.ok(out.sub(ref).abs().max().item() === 0);
    // in grad mode, backward through the freed temporaries still reaches the parameters
    torch.tidy(() => gate.call(x).square().sum().backward());
    for (const p of gate.parameters()) assert.ok(p.grad && Number.isFinite(p.grad.abs().sum().item()));
    // a forward that returns its input untouched keeps it alive
    const id = new nn.Identity();
    assert.equal(id.call(x), x);
    assert.equal(x.isDisposed, false);
    [out, ref, x].forEach((t) => t.dispose());
    gate.dispose();
  });
});
