// `fmnist import`: a dense net's state_dict saved by Python (zip and legacy formats) becomes a run folder whose
// test probabilities are Python's own, which evaluate and ensemble accept and whose model.pt Python reloads to
// the same tensors; and every bad input exits non-zero with one line and leaves no folder behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_DATA_DIR, loadFashionMnist } from '../../src/data/index.js';
import { getModel } from '../../src/models/index.js';
import { readRun, readTestProbs } from '../../src/runs/files.js';
import { stateDictMismatch } from '../../src/runs/import.js';
import { buildProgram } from '../../src/cli/index.js';
import { buildServer } from '../../src/serve/server.js';
import { cli } from '../helpers/cli.js';
import { assertClose, pythonTorchMissing, runPython } from '../torch/helpers.js';

const N = 200;
const skip =
  pythonTorchMissing() ||
  (existsSync(join(SYSTEM_DATA_DIR, 't10k-images-idx3-ubyte.gz')) ? false : `no data in ${SYSTEM_DATA_DIR}`);

const PY = String.raw`
import collections, json, os, sys
import numpy as np
import torch
torch.set_num_threads(1)
d, dense_py, cnn_py = sys.argv[1], sys.argv[2], sys.argv[3]
def build(path):
    ns = {}
    exec(open(path).read(), ns)
    return ns['build']()
torch.manual_seed(5)
m = build(dense_py)
m.eval()
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(-1, 1, 28, 28))
with torch.no_grad():
    torch.softmax(m(x), 1).numpy().tofile(d + '/probs.bin')
sd = m.state_dict()
torch.save(sd, d + '/m.pt')
torch.save(sd, d + '/m-legacy.pt', _use_new_zipfile_serialization=False)
torch.save(m, d + '/whole.pt')
torch.save(build(cnn_py).state_dict(), d + '/cnn.pt')
bad = collections.OrderedDict(sd)
del bad['1.bias']
bad['9.weight'] = torch.zeros(3)
bad['7.weight'] = torch.zeros(10, 65)
torch.save(bad, d + '/bad-keys.pt')
class Evil:
    def __reduce__(self):
        return (os.system, ('touch ' + d + '/pwned',))
torch.save({'0.weight': Evil()}, d + '/evil.pt')
`;

/** Python's check of an imported folder: its model.pt loads strictly into its model.py, equal to the source. */
const PY_RELOAD = String.raw`
import sys, torch
run, src = sys.argv[1], sys.argv[2]
ns = {}
exec(open(run + '/model.py').read(), ns)
m = ns['build']()
m.load_state_dict(torch.load(run + '/model.pt'), strict=True)
a, b = m.state_dict(), torch.load(src)
assert list(a) == list(b), (list(a), list(b))
assert all(torch.equal(a[k], b[k]) for k in a)
print('ok')
`;

describe('fmnist import (a dense net saved by Python, 200 test images)', { skip }, () => {
  let tmp = '';
  const f = (name: string) => join(tmp, name);
  const data = ['--data-dir', SYSTEM_DATA_DIR, '--test-limit', String(N)];
  const imp = (file: string, out: string, model = 'dense') =>
    cli(['import', file, '--model', model, '--out', out, ...data]);
  let pyProbs: Float32Array;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-import-'));
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, quiet: true });
    writeFileSync(f('x.bin'), fm.test.images.subarray(0, N * 784));
    const py = (id: string) => fileURLToPath(getModel(id).python);
    runPython(PY, [tmp, py('dense'), py('cnn')]);
    const b = readFileSync(f('probs.bin'));
    pyProbs = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("torch.save(model.state_dict()) imports into a complete run folder with Python's probabilities", async () => {
    const out = f('imported');
    const r = await imp(f('m.pt'), out);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(
      r.stdout,
      /^read .*m\.pt \(zip format, an OrderedDict of 109,386 parameters\) as pytorch dense: test accuracy \d+\.\d\d%, loss \d\.\d{4} on 200 test images; wrote /,
    );
    assert.deepEqual(readdirSync(out).sort(), [
      'SHA256SUMS',
      'metrics.json',
      'model.pt',
      'model.py',
      'run.json',
      'test-probs.bin',
    ]);
    const { info, metrics } = readRun(out);
    assert.equal(info.framework, 'pytorch');
    assert.equal(info.model, 'dense');
    assert.equal(info.params, 109386);
    assert.equal(info.modelFile, 'model.pt');
    assert.equal(info.config.model, 'dense');
    assert.equal(info.config.testLimit, N);
    assert.equal(info.data.testCount, N);
    const sha256 = createHash('sha256')
      .update(readFileSync(f('m.pt')))
      .digest('hex');
    assert.deepEqual(info.provenance, { kind: 'import', source: f('m.pt'), sha256, createdAt: info.createdAt });
    assertClose(readTestProbs(out)!, pyProbs, 'test-probs.bin against Python', { rtol: 1e-5, atol: 1e-6 });
    assert.equal(
      metrics!.confusionMatrix.flat().reduce((a, b) => a + b, 0),
      N,
    );

    // evaluate reloads the folder and agrees with its metrics.json
    const ev = await cli(['evaluate', out, '--json', ...data]);
    assert.equal(ev.exitCode, 0, ev.stderr);
    assert.equal(JSON.parse(ev.stdout).accuracy, metrics!.testAccuracy);

    // Python reloads our model.pt strictly into the folder's model.py: the same tensors as the source file
    assert.equal(runPython(PY_RELOAD, [out, f('m.pt')]).trim(), 'ok');
  });

  test('the legacy format imports too, and two imported folders make an ensemble', async () => {
    const out = f('imported-legacy');
    const r = await imp(f('m-legacy.pt'), out);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /\(legacy format, an OrderedDict/);
    assertClose(readTestProbs(out)!, pyProbs, 'legacy test-probs.bin', { rtol: 1e-5, atol: 1e-6 });
    const e = await cli(['ensemble', f('imported'), out, '--out', f('ens'), '--data-dir', SYSTEM_DATA_DIR]);
    assert.equal(e.exitCode, 0, e.stderr);
    assertClose(readTestProbs(f('ens'))!, pyProbs, 'the ensemble of two copies', { rtol: 1e-5, atol: 1e-6 });
  });

  test("the server loads an imported folder and predicts with Python's probabilities", async () => {
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, quiet: true });
    const app = await buildServer({ models: [f('imported')], dataDir: SYSTEM_DATA_DIR });
    try {
      const [m] = (await app.inject({ method: 'GET', url: '/v1/models' })).json().models;
      assert.equal(m.framework, 'pytorch');
      assert.equal(m.arch, 'dense');
      const pixels = Array.from(fm.rawTest.subarray(0, 784));
      const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels } });
      assert.equal(r.statusCode, 200, r.body);
      assertClose(r.json().predictions[0].probabilities, pyProbs.subarray(0, 10), 'served probabilities', {
        rtol: 1e-5,
        atol: 1e-6,
      });
    } finally {
      await app.close();
    }
  });

  /** A failed import: exit code 1, one line on stderr matching `re`, and nothing left where it would write. */
  async function fails(args: string[], re: RegExp, out: string) {
    const before = readdirSync(tmp);
    const r = await cli(['import', ...args, '--out', out, ...data]);
    assert.notEqual(r.exitCode, 0);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^fmnist: error: [^\n]*\n$/, 'one line');
    assert.match(r.stderr, re);
    assert.deepEqual(readdirSync(tmp), before, 'no folder (or temporary folder) left behind');
  }

  test('bad input: one line, a non-zero exit, no folder', async () => {
    const out = f('nothing/here');
    await fails([f('missing.pt'), '--model', 'dense'], /missing\.pt: file not found/, out);
    await fails([f('m.pt'), '--model', 'vgg'], /unknown model 'vgg' \(known: dense, cnn/, out);
    await fails(
      [f('whole.pt'), '--model', 'dense'],
      /whole\.pt: the pickle refers to 'torch\.nn\.modules\.container\.Sequential', which fmnist does not load .* Save model\.state_dict\(\) instead\./,
      out,
    );
    await fails([f('evil.pt'), '--model', 'dense'], /evil\.pt: the pickle refers to 'posix\.system'/, out);
    assert.equal(existsSync(f('pwned')), false);
    const whole = readFileSync(f('m.pt'));
    writeFileSync(f('truncated.pt'), whole.subarray(0, whole.length - 100));
    await fails([f('truncated.pt'), '--model', 'dense'], /truncated\.pt: zip: /, out);
    await fails(
      [f('bad-keys.pt'), '--model', 'dense'],
      /bad-keys\.pt: does not fit the 'dense' architecture: missing keys \[1\.bias\]; unexpected keys \[9\.weight\]; wrong shapes \[7\.weight \(10x65 in the file, 10x64 in the model\)\]$/m,
      out,
    );
    await fails(
      [f('cnn.pt'), '--model', 'dense'],
      /cnn\.pt: does not fit the 'dense' architecture: missing keys \[1\.weight/,
      out,
    );
    rmSync(f('truncated.pt'));
  });

  test('an existing non-empty --out is refused and left as it was; an empty one is filled', async () => {
    const out = f('taken');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const r = await imp(f('m.pt'), out);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^fmnist: error: --out .*taken already exists and is not empty; pick a new folder\n$/);
    assert.deepEqual(readdirSync(out), ['keep.txt']);
    const empty = f('empty');
    mkdirSync(empty);
    const ok = await imp(f('m.pt'), empty);
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.ok(existsSync(join(empty, 'run.json')));
  });

  test('--help explains the Python side', () => {
    const cmd = buildProgram().commands.find((c) => c.name() === 'import')!;
    const out: string[] = [];
    cmd.configureOutput({ writeOut: (str) => void out.push(str) });
    cmd.outputHelp(); // with the text added after the options
    const help = out.join('');
    assert.match(help, /Usage: fmnist import \[options\] <file>/);
    assert.match(help, /torch\.save\(model\.state_dict\(\), "m\.pt"\)/);
    assert.match(help, /--model <id> .*dense, cnn, cnn-bn/);
    assert.match(help, /weights_only=True/);
  });
});

test('stateDictMismatch lists missing, unexpected and mis-shaped keys together, or nothing', () => {
  const s = (...shape: number[]) => ({ shape });
  const model = new Map([
    ['a', s(2, 3)],
    ['b', s(3)],
    ['c', s()],
  ]);
  assert.equal(stateDictMismatch(model, new Map(model)), '');
  assert.equal(
    stateDictMismatch(
      model,
      new Map([
        ['a', s(3, 2)],
        ['c', s(1)],
        ['z', s(1)],
      ]),
    ),
    'missing keys [b]; unexpected keys [z]; wrong shapes [a (3x2 in the file, 2x3 in the model), c (1 in the file, scalar in the model)]',
  );
});
