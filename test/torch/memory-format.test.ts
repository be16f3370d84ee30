// Memory formats: x.contiguous(memory_format=torch.channels_last), model.to(memory_format=...) and p.data = ...
// The layout must change only which kernels run, never a value, a gradient or a saved byte.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as torch from '../../src/torch/index.js';
import { getModel } from '../../src/models/index.js';
import { memoryFormat } from '../../src/engines/pytorch.js';

const { nn } = torch;
const F = nn.functional;

/** The largest difference relative to the largest magnitude: convolution algorithms differ in summation order. */
function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return m / scale;
}

describe('memory formats', () => {
  test('contiguous(channelsLast) lays a 4-D tensor out as NHWC with the same values', () => {
    torch.manualSeed(1);
    torch.tidy(() => {
      const x = torch.randn([2, 3, 4, 5]);
      assert.equal(x.isContiguous(), true);
      assert.equal(x.isContiguous(torch.channelsLast), false);
      const y = x.contiguous(torch.channelsLast);
      assert.equal(y.isContiguous(torch.channelsLast), true);
      assert.equal(y.isContiguous(), false);
      assert.deepEqual(y.shape, [2, 3, 4, 5]);
      assert.deepEqual(y.toFloat32(), x.toFloat32()); // readers see logical (NCHW) order
      assert.equal(y.contiguous().isContiguous(), true);
    });
  });

  test('setData_ swaps the storage and keeps the parameter a leaf that requires grad', () => {
    torch.tidy(() => {
      const p = torch.zeros([2, 2]).requiresGrad_(true);
      p.setData_(torch.ones([2, 2]));
      assert.equal(p.requiresGrad, true);
      assert.deepEqual(Array.from(p.toFloat32()), [1, 1, 1, 1]);
    });
  });

  test('model.to(channelsLast): 4-D weights become NHWC; values, outputs, gradients and model.pt do not change', () => {
    const spec = getModel('resnet');
    torch.manualSeed(7);
    const a = spec.pytorch(torch);
    const b = spec.pytorch(torch);
    try {
      b.loadStateDict(a.stateDict());
      const before = torch.saveStateDict(b.stateDict());
      b.to({ memoryFormat: torch.channelsLast });
      for (const [k, t] of b.stateDict()) {
        if (t.ndim === 4 && t.shape[1] > 1) assert.equal(t.isContiguous(torch.channelsLast), true, k);
        if (t.ndim !== 4) assert.equal(t.isContiguous(), true, k);
        assert.equal(t.requiresGrad, a.stateDict().get(k)!.requiresGrad, k);
      }
      assert.deepEqual(Buffer.from(torch.saveStateDict(b.stateDict())), Buffer.from(before));

      torch.tidy(() => {
        const x = torch.randn([6, 1, 28, 28]);
        const y = torch.fromTypedArray(new BigInt64Array([0n, 1n, 2n, 3n, 4n, 5n]), [6], 'int64');
        const out: Float32Array[] = [];
        for (const m of [a, b]) {
          m.train();
          const logits = m.call(x);
          F.crossEntropy(logits, y).backward();
          out.push(logits.toFloat32());
        }
        assert.ok(maxDiff(out[0], out[1]) < 1e-4, `logits differ by ${maxDiff(out[0], out[1])}`);
        // Near the loss the two layouts agree to float32 rounding. Deeper in a freshly initialised resnet, BatchNorm
        // over few values amplifies the different summation orders of the NCHW and NHWC convolutions: Python's
        // PyTorch 1.13 differs there by up to 1.6e-2 (relative) between the layouts too (measured on the stem at
        // batch 32). A wrong layout would be off by O(1).
        const [pa, pb] = [a.parameters(), b.parameters()];
        const names = [...a.namedParameters()].map(([n]) => n);
        for (let i = 0; i < pa.length; i++) {
          const d = maxDiff(pa[i].grad!.toFloat32(), pb[i].grad!.toFloat32());
          const tol = /^(3|6)\./.test(names[i]) ? 1e-4 : 5e-2;
          assert.ok(d < tol, `gradient of ${names[i]} differs by ${d} (relative; tolerance ${tol})`);
        }
        // an optimizer over NHWC parameters keeps its state in their layout, and steps them the same
        const sa = new torch.optim.Adam(pa, { lr: 1e-3 });
        const sb = new torch.optim.Adam(pb, { lr: 1e-3 });
        sa.step();
        sb.step();
        // Adam's first step moves each weight by about lr (1e-3) whatever the gradient's size, so a gradient whose
        // sign differs moves it 2 lr apart: checked where the gradients agree to rounding (stage 3 and the head)
        for (let i = 0; i < pa.length; i++) {
          if (!/^(3|6)\./.test(names[i])) continue;
          const [u, v] = [pa[i].toFloat32(), pb[i].toFloat32()];
          let d = 0;
          for (let j = 0; j < u.length; j++) d = Math.max(d, Math.abs(u[j] - v[j]));
          assert.ok(d < 1.5e-3, `${names[i]} after one Adam step differs by ${d}`);
        }
        sa.dispose();
        sb.dispose();
      });
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('the PyTorch engine lays out resnet as channels_last and the seed models as NCHW', () => {
    const saved = process.env.FMNIST_MEMORY_FORMAT;
    try {
      delete process.env.FMNIST_MEMORY_FORMAT;
      assert.equal(memoryFormat(getModel('resnet')), 'channelsLast');
      assert.equal(memoryFormat(getModel('cnn')), 'contiguousFormat');
      process.env.FMNIST_MEMORY_FORMAT = 'contiguousFormat';
      assert.equal(memoryFormat(getModel('resnet')), 'contiguousFormat');
      process.env.FMNIST_MEMORY_FORMAT = 'nhwc';
      assert.throws(
        () => memoryFormat(getModel('cnn')),
        /FMNIST_MEMORY_FORMAT must be channelsLast or contiguousFormat/,
      );
    } finally {
      if (saved === undefined) delete process.env.FMNIST_MEMORY_FORMAT;
      else process.env.FMNIST_MEMORY_FORMAT = saved;
    }
  });
});
