// The model registry: each architecture builds in both frameworks with the same trainable parameters, and its
// model.py, run by Python with no arguments, loads our model.pt strictly and computes the same logits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as torch from '../../src/torch/index.js';
import { MODELS, MODEL_IDS, getModel, pythonSource } from '../../src/models/index.js';
import { useTorchBackend } from '../../src/tfjs-backend/index.js';
import { withSeededMathRandom } from '../../src/engines/keras-seed.js';
import { trainableParams } from '../../src/engines/keras.js';
import { buildProgram } from '../../src/cli/index.js';
import { assertClose, pythonTorchMissing, runPython } from '../torch/helpers.js';

const N = 4;
/** A fixed input in [0,1): N images of 28x28. */
const input = Float32Array.from({ length: N * 784 }, (_, i) => {
  const s = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return s - Math.floor(s);
});

describe('the model registry', () => {
  test('ids are unique, and each spec has a description, a label and default epochs', () => {
    assert.equal(new Set(MODEL_IDS).size, MODELS.length);
    for (const m of MODELS) {
      assert.match(m.id, /^[a-z][a-z0-9-]*$/, m.id);
      assert.ok(m.description.length > 10 && m.label && m.defaultEpochs >= 1, m.id);
      assert.match(pythonSource(m), /^def build\(/m, `${m.id}.py defines build()`);
    }
    assert.throws(() => getModel('nope'), /unknown model 'nope' \(known: dense, cnn/);
  });

  test('the seed models keep their sizes: dense 109,386 and CNN 225,034 parameters in both frameworks', async () => {
    await useTorchBackend();
    const expected: Record<string, number> = { dense: 109386, cnn: 225034 };
    for (const m of MODELS) {
      const pt = m.pytorch(torch);
      const k = await withSeededMathRandom(1, async () => m.keras(tfl));
      assert.equal(trainableParams(k), pt.numParameters(), `${m.id}: Keras vs PyTorch trainable parameters`);
      if (expected[m.id]) assert.equal(pt.numParameters(), expected[m.id], m.id);
      pt.dispose();
      k.dispose();
    }
  });

  test("the CLI's --model choices are the registry's ids", () => {
    const train = buildProgram().commands.find((c) => c.name() === 'train')!;
    const opt = train.options.find((o) => o.long === '--model')!;
    assert.deepEqual(opt.argChoices, [...MODEL_IDS]);
  });
});

describe("each model's model.py in Python", { skip: pythonTorchMissing() }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-registry-'));
    writeFileSync(join(dir, 'x.bin'), input);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const spec of MODELS) {
    test(`${spec.id}: exec(model.py); build() loads our model.pt with strict=True and gives the same logits`, () => {
      torch.manualSeed(3);
      const model = spec.pytorch(torch);
      model.eval();
      writeFileSync(join(dir, `${spec.id}.pt`), torch.saveStateDict(model.stateDict()));
      writeFileSync(join(dir, `${spec.id}.py`), pythonSource(spec));
      const ours = torch.tidy(() =>
        torch.noGrad(() => model.call(torch.fromTypedArray(input, [N, 1, 28, 28])).toFloat32()),
      );
      const params = model.numParameters();
      model.dispose();
      const out = runPython(
        String.raw`
import json, sys, numpy as np, torch
d, arch = sys.argv[1], sys.argv[2]
exec(open(d + '/' + arch + '.py').read())
m = build()
m.load_state_dict(torch.load(d + '/' + arch + '.pt'), strict=True)
m.eval()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
with torch.no_grad():
    y = m(x)
print(json.dumps({'params': sum(p.numel() for p in m.parameters() if p.requires_grad), 'logits': y.flatten().tolist()}))
`,
        [dir, spec.id],
      );
      const py = JSON.parse(out) as { params: number; logits: number[] };
      assert.equal(py.params, params, 'trainable parameters in Python');
      assertClose(ours, py.logits, `${spec.id} logits`, { rtol: 1e-4, atol: 1e-5 });
    });
  }
});
