// State dicts cross over to Python PyTorch and back: our model.pt loads in Python with strict=True into the
// deprecated one-line definitions (run.json's `definition`) and gives the same outputs; Python's torch.save files
// (a dict or model.state_dict()'s OrderedDict) load here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '../../src/torch/index.js';
import { getModel } from '../../src/models/index.js';
import { assertClose, pythonTorchMissing, readReference, runPython } from './helpers.js';

const skip = pythonTorchMissing();
const N = 6;

const bnDefinition = readReference<{ models: { bn: { definition: string } } }>().models.bn.definition;
const bnNet = () =>
  new torch.nn.Sequential(
    new torch.nn.Conv2d(1, 4, 3),
    new torch.nn.BatchNorm2d(4),
    new torch.nn.ReLU(),
    new torch.nn.Flatten(),
    new torch.nn.Linear(4 * 26 * 26, 10),
  );
const ARCHS = {
  dense: { make: () => getModel('dense').pytorch(torch), definition: getModel('dense').definition! },
  cnn: { make: () => getModel('cnn').pytorch(torch), definition: getModel('cnn').definition! },
  bn: { make: bnNet, definition: bnDefinition },
};
type Arch = keyof typeof ARCHS;

/** A fixed input in [0,1): N images of 28×28. */
function fixedInput(): Float32Array {
  return Float32Array.from({ length: N * 784 }, (_, i) => {
    const s = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
    return s - Math.floor(s);
  });
}

/** Our model's eval-mode logits on the fixed input. */
function ourLogits(model: torch.nn.Module): Float32Array {
  model.eval();
  return torch.tidy(() =>
    torch.noGrad(() => model.call(torch.fromTypedArray(fixedInput(), [N, 1, 28, 28])).toFloat32()),
  );
}

const PY = String.raw`
import json, sys
import numpy as np
import torch
from torch import nn
torch.set_num_threads(1)
d, defs = sys.argv[1], json.loads(sys.argv[2])
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
report = {}
for arch, src in defs.items():
    r = report[arch] = {}
    # ours -> Python: strict load into the Python definition, eval-mode logits
    sd = torch.load(d + '/' + arch + '-ts.pt')
    r['type'] = type(sd).__name__
    r['keys'] = list(sd.keys())
    r['dtypes'] = [str(v.dtype).replace('torch.', '') for v in sd.values()]
    m = eval(src)
    m.load_state_dict(sd, strict=True)
    m.eval()
    with torch.no_grad():
        m(x).numpy().tofile(d + '/' + arch + '-py-out.bin')
    # Python -> ours: a fresh model (one training-mode pass first, so batch-norm statistics move)
    torch.manual_seed(1234)
    m2 = eval(src)
    with torch.no_grad():
        m2.train()
        m2(x)
        m2.eval()
        m2(x).numpy().tofile(d + '/' + arch + '-py2-out.bin')
    sd2 = m2.state_dict()
    r['pyKeys'] = list(sd2.keys())
    torch.save(sd2, d + '/' + arch + '-py.pt')          # an OrderedDict, as most Python code saves it
    torch.save(dict(sd2), d + '/' + arch + '-py-dict.pt')
torch.save({'weight': torch.arange(6.).reshape(2, 3)}, d + '/single.pt')  # a one-entry dict pickles with SETITEM
print(json.dumps(report))
`;

interface PyReport {
  type: string;
  keys: string[];
  dtypes: string[];
  pyKeys: string[];
}

describe('state_dict interop with Python PyTorch', { skip }, () => {
  let dir = '';
  let report: Record<Arch, PyReport>;
  const ours = {} as Record<Arch, { keys: string[]; dtypes: string[]; logits: Float32Array }>;
  const readF32 = (name: string) => {
    const b = readFileSync(join(dir, name));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-interop-'));
    writeFileSync(join(dir, 'x.bin'), fixedInput());
    torch.manualSeed(77);
    for (const [arch, { make }] of Object.entries(ARCHS) as [Arch, (typeof ARCHS)[Arch]][]) {
      const m = make();
      try {
        writeFileSync(join(dir, `${arch}-ts.pt`), torch.saveStateDict(m.stateDict()));
        const sd = m.stateDict();
        ours[arch] = { keys: [...sd.keys()], dtypes: [...sd.values()].map((t) => t.dtype), logits: ourLogits(m) };
      } finally {
        m.dispose();
      }
    }
    const defs = Object.fromEntries(Object.entries(ARCHS).map(([k, v]) => [k, v.definition]));
    report = JSON.parse(runPython(PY, [dir, JSON.stringify(defs)]));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of Object.keys(ARCHS) as Arch[]) {
    test(`${arch}: torch.load reads our model.pt as a dict with our keys and dtypes, strict load succeeds`, () => {
      assert.equal(report[arch].type, 'dict');
      assert.deepEqual(report[arch].keys, ours[arch].keys);
      assert.deepEqual(report[arch].dtypes, ours[arch].dtypes);
      assert.deepEqual(
        report[arch].pyKeys,
        ours[arch].keys,
        "Python's own state_dict has the same keys in the same order",
      );
    });

    test(`${arch}: Python's outputs with our weights equal ours (atol 1e-5)`, () => {
      const py = readF32(`${arch}-py-out.bin`);
      assert.equal(py.length, N * 10);
      assertClose(ours[arch].logits, py, `${arch} logits`, { rtol: 1e-5, atol: 1e-5 });
    });

    test(`${arch}: Python's torch.save(dict(model.state_dict())) loads here and gives Python's outputs`, () => {
      const sd = torch.loadStateDict(readFileSync(join(dir, `${arch}-py-dict.pt`)));
      const m = ARCHS[arch].make();
      try {
        assert.deepEqual([...sd.keys()], ours[arch].keys);
        m.loadStateDict(sd);
        assertClose(ourLogits(m), readF32(`${arch}-py2-out.bin`), `${arch} logits`, { rtol: 1e-5, atol: 1e-5 });
        if (arch === 'bn') assert.equal(m.stateDict().get('1.num_batches_tracked')!.item(), 1);
      } finally {
        m.dispose();
        sd.forEach((t) => t.dispose());
      }
    });

    // Python's model.state_dict() is an OrderedDict with a `_metadata` attribute (set by BUILD): the TypeScript
    // reader (src/torch/serialization) reads it, which libtorch 1.13's unpickler could not.
    test(`${arch}: Python's torch.save(model.state_dict()) (an OrderedDict) loads here and gives Python's outputs`, () => {
      const sd = torch.loadStateDict(readFileSync(join(dir, `${arch}-py.pt`)));
      const m = ARCHS[arch].make();
      try {
        assert.deepEqual([...sd.keys()], ours[arch].keys);
        m.loadStateDict(sd);
        assertClose(ourLogits(m), readF32(`${arch}-py2-out.bin`), `${arch} logits`, { rtol: 1e-5, atol: 1e-5 });
      } finally {
        m.dispose();
        sd.forEach((t) => t.dispose());
      }
    });
  }

  // Python pickles a dict of one entry with SETITEM, which libtorch 1.13's unpickler lacked.
  test("Python's torch.save of a one-entry dict loads", () => {
    const sd = torch.loadStateDict(readFileSync(join(dir, 'single.pt')));
    assert.deepEqual([...sd.keys()], ['weight']);
    assert.deepEqual(sd.get('weight')!.shape, [2, 3]);
    assert.deepEqual(sd.get('weight')!.tolist(), [0, 1, 2, 3, 4, 5]);
    sd.forEach((t) => t.dispose());
  });
});
