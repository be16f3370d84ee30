// torch.autocast on the CPU (bfloat16): which ops change precision, that the state is restored, that weights cast
// once per region are not reused after an optimizer step, and that outputs and gradients match Python's
// torch.autocast('cpu', dtype=torch.bfloat16) on the same model and input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { getModel } from '../../src/models/index.js';
import { trainingPrecision } from '../../src/engines/pytorch.js';
import { cpuHasBf16 } from '../../src/util/cpu.js';
import { pythonTorchMissing, runPython } from './helpers.js';

const { nn } = torch;
const F = nn.functional;
const skipPython = pythonTorchMissing();

/** The largest difference relative to the largest magnitude of `b`. */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return m / scale;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

const net = () =>
  new nn.Sequential(
    new nn.Conv2d(1, 8, 3, { padding: 1, bias: false }), // a bias before BatchNorm has a zero gradient
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Linear(8, 10),
  );

describe('torch.autocast (CPU, bfloat16)', () => {
  test('convolutions and linear layers compute in bfloat16 inside, float32 outside; weights stay float32', () => {
    torch.manualSeed(3);
    torch.tidy(() => {
      const conv = new nn.Conv2d(1, 4, 3);
      const lin = new nn.Linear(16, 5);
      const x = torch.rand([2, 1, 6, 6]);
      const v = torch.rand([3, 16]);
      assert.equal(torch.isAutocastEnabled(), false);
      const [c, l] = torch.autocast({}, () => {
        assert.equal(torch.isAutocastEnabled(), true);
        return [conv.call(x), lin.call(v)];
      });
      assert.equal(torch.isAutocastEnabled(), false);
      assert.equal(c.dtype, 'bfloat16');
      assert.equal(l.dtype, 'bfloat16');
      assert.equal(conv.call(x).dtype, 'float32');
      for (const p of [...conv.parameters(), ...lin.parameters()]) assert.equal(p.dtype, 'float32');
      // dataSync widens bfloat16 exactly: every value is a float32 with the low 16 bits zero
      const bits = new Uint32Array(c.dataSync().buffer);
      assert.ok(bits.every((b) => (b & 0xffff) === 0));
      // and close to the float32 result (bfloat16 keeps 8 bits of mantissa)
      assert.ok(relDiff(c.toFloat32(), conv.call(x).toFloat32()) < 2e-2);
      assert.ok(relDiff(c.float().toFloat32(), conv.call(x).toFloat32()) > 0); // not silently float32
    });
  });

  test('the previous state comes back after nesting, enabled: false, and a throw', () => {
    torch.autocast({}, () => {
      torch.autocast({ enabled: false }, () => assert.equal(torch.isAutocastEnabled(), false));
      assert.equal(torch.isAutocastEnabled(), true);
    });
    assert.throws(
      () =>
        torch.autocast({}, () => {
          throw new Error('inside');
        }),
      /inside/,
    );
    assert.equal(torch.isAutocastEnabled(), false);
    // @ts-expect-error bfloat16 is the one CPU autocast dtype
    assert.throws(() => torch.autocast({ dtype: 'float32' }, () => 0), /autocastEnter.*bfloat16/);
    assert.equal(torch.isAutocastEnabled(), false);
  });

  test('a weight changed between two regions is cast afresh (the cast cache is cleared on exit)', () => {
    torch.manualSeed(4);
    torch.tidy(() => {
      const lin = new nn.Linear(16, 4);
      const v = torch.rand([8, 16]);
      const before = torch.autocast({}, () => lin.call(v)).toFloat32();
      torch.noGrad(() => lin.weight.mul_(2));
      const after = torch.autocast({}, () => lin.call(v)).toFloat32();
      const ref = lin.call(v).toFloat32();
      assert.ok(relDiff(after, ref) < 2e-2, 'the second region used the doubled weight');
      assert.ok(relDiff(before, ref) > 0.1, 'and the first did not');
    });
  });

  test('gradients reach the float32 weights as float32, close to float32 training', () => {
    torch.manualSeed(5);
    torch.tidy(() => {
      const m = net();
      const x = torch.rand([16, 1, 12, 12]);
      const y = torch.randint(0, 10, [16]);
      const grads = (amp: boolean) => {
        m.zeroGrad();
        const logits = amp ? torch.autocast({}, () => m.call(x)).float() : m.call(x);
        F.crossEntropy(logits, y).backward();
        return m.parameters().map((p) => {
          assert.equal(p.grad!.dtype, 'float32');
          return p.grad!.toFloat32();
        });
      };
      const g32 = grads(false);
      const g16 = grads(true);
      // BatchNorm's backward cancels large terms, so compare directions: bfloat16 rounding turns them by a few degrees
      for (let i = 0; i < g32.length; i++)
        assert.ok(cosine(g16[i], g32[i]) > 0.99, `parameter ${i}: ${cosine(g16[i], g32[i])}`);
    });
  });

  test("'auto' picks bfloat16 only for models that ask for it, on CPUs with native bf16", () => {
    const resnet = getModel('resnet');
    const cnn = getModel('cnn');
    assert.equal(resnet.autocast, 'bfloat16');
    assert.equal(trainingPrecision(resnet, 'auto'), cpuHasBf16() ? 'bfloat16' : 'float32');
    assert.equal(trainingPrecision(cnn, 'auto'), 'float32');
    assert.equal(trainingPrecision(cnn, 'bfloat16'), 'bfloat16');
    assert.equal(trainingPrecision(resnet, 'float32'), 'float32');
  });

  test('logits and gradients match Python torch.autocast on the same resnet and input', { skip: skipPython }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-autocast-'));
    try {
      torch.manualSeed(6);
      const m = getModel('resnet').pytorch(torch);
      m.train();
      const x = torch.rand([8, 1, 28, 28]);
      const y = torch.randint(0, 10, [8]);
      writeFileSync(join(dir, 'model.pt'), torch.saveStateDict(m.stateDict()));
      writeFileSync(join(dir, 'x.bin'), x.toFloat32());
      writeFileSync(join(dir, 'y.bin'), new BigInt64Array(y.dataSync() as BigInt64Array));
      const logits = torch.autocast({}, () => m.call(x)).float();
      F.crossEntropy(logits, y).backward();
      const ours = {
        logits: logits.toFloat32(),
        stem: m.parameters()[0].grad!.toFloat32(),
        head: m.parameters().at(-2)!.grad!.toFloat32(),
      };
      const out = runPython(
        String.raw`
import json, sys, numpy as np, torch
d = sys.argv[1]
torch.set_num_threads(1)
exec(open(sys.argv[2]).read())
m = build(); m.load_state_dict(torch.load(d + '/model.pt'), strict=True); m.train()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
y = torch.from_numpy(np.fromfile(d + '/y.bin', dtype=np.int64))
with torch.autocast('cpu', dtype=torch.bfloat16):
    logits = m(x)
assert logits.dtype == torch.bfloat16
logits = logits.float()
torch.nn.functional.cross_entropy(logits, y).backward()
ps = list(m.parameters())
print(json.dumps({'logits': logits.flatten().tolist(), 'stem': ps[0].grad.flatten().tolist(),
                  'head': ps[-2].grad.flatten().tolist()}))
`,
        [dir, new URL('../../src/models/resnet.py', import.meta.url).pathname],
      );
      const py = JSON.parse(out) as Record<keyof typeof ours, number[]>;
      // the same libtorch kernels on the same bfloat16 casts: equal here (measured 0), up to summation order
      assert.ok(relDiff(ours.logits, Float32Array.from(py.logits)) < 1e-4, 'logits');
      assert.ok(relDiff(ours.head, Float32Array.from(py.head)) < 1e-4, 'head gradient');
      assert.ok(relDiff(ours.stem, Float32Array.from(py.stem)) < 1e-4, 'stem gradient');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
