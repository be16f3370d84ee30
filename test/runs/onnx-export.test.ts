// `fmnist export --format onnx`, checked against two references: onnxruntime-node runs the file and must give our
// predictor's probabilities (1e-4) at batch 1,000 and batch 1 (the batch dimension is dynamic), and Python's onnx
// (/usr/bin/python3, onnx 1.12) must accept it with check_model(full_check=True) and infer [N, 10] for the logits.
// Every registry architecture is trained tiny in both frameworks through the real loop first (1 epoch on 256
// images: BatchNorm's running statistics move away from 0 and 1, so folding them is tested on real numbers); a
// Keras run is exported through loadAsTorch (src/runs/convert.ts) and compared with the Keras engine's own
// predictions. Then the layers one by one, the errors, and the CLI's bad inputs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as torch from '../../src/torch/index.js';
import { MODELS } from '../../src/models/index.js';
import { makeConfig } from '../../src/runs/config.js';
import { runTraining } from '../../src/cli/commands/train.js';
import { readRun, writeChecksums, writeRunInfo } from '../../src/runs/files.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import { ensureOnnx, exportOnnx, moduleToOnnx } from '../../src/runs/onnx-export.js';
import { loadAsTorch } from '../../src/runs/convert.js';
import { loadFashionMnist, SYSTEM_DATA_DIR } from '../../src/data/index.js';
import { assertClose, PYTHON } from '../torch/helpers.js';
import { cli } from '../helpers/cli.js';

const hasData = existsSync(join(SYSTEM_DATA_DIR, 'train-images-idx3-ubyte.gz'));
const N = 1000;
const TOL = { rtol: 0, atol: 1e-4 };

/** Python's onnx on each file: the full checker, strict shape inference, and what it infers. */
const PY_CHECK = String.raw`
import json, sys, onnx
dims = lambda vi: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
out = []
for f in sys.argv[1:]:
    m = onnx.load(f)
    onnx.checker.check_model(m, full_check=True)
    inf = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    values = {vi.name: dims(vi) for vi in inf.graph.value_info}
    softmax = [n for n in m.graph.node if n.op_type == 'Softmax']
    out.append({
        'ir': m.ir_version,
        'opset': [o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')],
        'producer': m.producer_name,
        'ops': [n.op_type for n in m.graph.node],
        'input': [m.graph.input[0].name, dims(m.graph.input[0])],
        'output': [inf.graph.output[0].name, dims(inf.graph.output[0])],
        'logits': values.get(softmax[-1].input[0]) if softmax else None,
    })
print(json.dumps(out))
`;

interface PyCheck {
  ir: number;
  opset: number[];
  producer: string;
  ops: string[];
  input: [string, (string | number)[]];
  output: [string, (string | number)[]];
  logits: (string | number)[] | null;
}

const pythonOnnxMissing = (() => {
  const r = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PYTHON} cannot import onnx (apt-get install python3-onnx)`;
})();

function pyCheck(files: string[]): PyCheck[] {
  const r = spawnSync(PYTHON, ['-c', PY_CHECK, ...files], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`python onnx check failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyCheck[];
}

/** onnxruntime-node's probabilities for n images, `batch` at a time. */
async function ortProbs(model: string | Uint8Array, x: Float32Array, n: number, batch: number) {
  const s =
    typeof model === 'string'
      ? await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 })
      : await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const out = new Float32Array(n * 10);
    for (let i = 0; i < n; i += batch) {
      const len = Math.min(batch, n - i);
      const t = new ort.Tensor('float32', x.slice(i * 784, (i + len) * 784), [len, 1, 28, 28]);
      const r = await s.run({ images: t });
      assert.deepEqual(r.probs.dims, [len, 10]);
      out.set(r.probs.data as Float32Array, i * 10);
    }
    return out;
  } finally {
    await s.release();
  }
}

describe('fmnist export --format onnx: every architecture, trained', { skip: hasData ? false : 'no data' }, () => {
  let root = '';
  let x: Float32Array;
  const runs = new Map<string, string>();
  const files: { id: string; file: string; opset: number }[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'fmnist-onnx-'));
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, verify: false });
    x = fm.test.images.slice(0, N * 784);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const framework of ['pytorch', 'keras'] as const)
    for (const spec of MODELS)
      test(`${framework} ${spec.id}: onnxruntime-node gives our predictor's probabilities at batch ${N} and 1`, async () => {
        const id = `${framework}-${spec.id}`;
        const out = join(root, id);
        await runTraining(
          makeConfig({
            framework,
            model: spec.id,
            epochs: 1,
            // smaller Keras batches: more steps, so that its BatchNorm statistics move further from their start
            batchSize: framework === 'keras' ? 16 : 32,
            limit: 256,
            valSplit: 0,
            testLimit: 100,
            threads: 1,
            seed: 1,
            dataDir: SYSTEM_DATA_DIR,
            out,
          }),
          () => {},
        );
        runs.set(id, out);
        // BatchNorm's statistics are away from their initial 0 and 1, so a wrong fold would show.
        const { module } = await loadAsTorch(out);
        const vars = [...module.stateDict()].filter(([k]) => k.endsWith('running_var')).map(([, v]) => v.toFloat32());
        module.dispose();
        for (const v of vars)
          assert.ok(
            v.some((s) => Math.abs(s - 1) > 0.02),
            `a running_var moved from 1 (got ${v.slice(0, 4).join(', ')}…)`,
          );

        const r = await exportOnnx(out);
        assert.equal(r.file, join(out, 'model.onnx'));
        assert.equal(r.opset, 17);
        assert.ok(r.bytes > 1000);
        files.push({ id, file: r.file, opset: 17 });

        // our predictor: the run's own engine (libtorch, or tfjs on NHWC for a Keras run)
        const p = await loadPredictor(out);
        const ours = await p.predict(x, N);
        p.dispose();
        assertClose(await ortProbs(r.file, x, N, N), ours, `${id} at batch ${N}`, TOL);
        assertClose(await ortProbs(r.file, x, N, 1), ours, `${id} at batch 1`, TOL);
      });

  test('opset 13 (resnet: a standalone BatchNormalization, whose op version differs from 17)', async () => {
    const dir = runs.get('pytorch-resnet');
    assert.ok(dir, 'the resnet run trained');
    const file = join(root, 'resnet-13.onnx');
    const r = await exportOnnx(dir, { opset: 13, out: file });
    assert.equal(r.opset, 13);
    files.push({ id: 'pytorch-resnet-13', file, opset: 13 });
    const p = await loadPredictor(dir);
    const ours = await p.predict(x, N);
    p.dispose();
    assertClose(await ortProbs(file, x, N, N), ours, 'resnet opset 13', TOL);
  });

  test(
    "Python's onnx: check_model(full_check=True), and shape inference gives [N, 10]",
    { skip: pythonOnnxMissing },
    () => {
      assert.equal(files.length, 2 * MODELS.length + 1, 'every export above succeeded');
      const checks = pyCheck(files.map((f) => f.file));
      checks.forEach((c, i) => {
        const { id, opset } = files[i];
        assert.equal(c.ir, 8, id);
        assert.deepEqual(c.opset, [opset], id);
        assert.equal(c.producer, 'fmnist');
        assert.deepEqual(c.input, ['images', ['N', 1, 28, 28]], id);
        assert.deepEqual(c.output, ['probs', ['N', 10]], id);
        assert.deepEqual(c.logits, ['N', 10], `${id}: the logits' shape as inferred`);
        assert.equal(c.ops.at(-1), 'Softmax');
        assert.ok(!c.ops.includes('Dropout'), `${id}: no Dropout in inference form`);
      });
      const ops = (id: string) => checks[files.findIndex((f) => f.id === id)].ops;
      for (const f of ['pytorch', 'keras']) {
        // Folded: every BatchNorm of cnn-bn and mobilenet follows a Conv or a Linear; resnet's three after a pool stay.
        assert.ok(!ops(`${f}-cnn-bn`).includes('BatchNormalization'));
        assert.ok(!ops(`${f}-mobilenet`).includes('BatchNormalization'));
        assert.equal(ops(`${f}-resnet`).filter((o) => o === 'BatchNormalization').length, 3);
        assert.equal(ops(`${f}-resnet`).filter((o) => o === 'Add').length, 3);
        for (const spec of MODELS)
          assert.deepEqual(ops(`${f}-${spec.id}`), ops(`pytorch-${spec.id}`), 'the same graph from either framework');
      }
    },
  );

  test('ensureOnnx: reuses model.onnx, exports again once the weights are newer', async () => {
    const dir = runs.get('pytorch-dense')!;
    const file = join(dir, 'model.onnx');
    const old = new Date(Date.now() - 60_000);
    const older = new Date(Date.now() - 120_000);
    utimesSync(join(dir, 'model.pt'), older, older);
    utimesSync(file, old, old);
    assert.equal(await ensureOnnx(dir), file);
    assert.ok(Math.abs(statSync(file).mtimeMs - old.getTime()) < 1, 'kept: newer than model.pt');
    utimesSync(join(dir, 'model.pt'), new Date(), new Date(Date.now() + 60_000));
    assert.equal(await ensureOnnx(dir), file);
    assert.ok(statSync(file).mtimeMs > old.getTime() + 1000, 'exported again: model.pt is newer');
    rmSync(file);
    assert.equal(await ensureOnnx(dir), file);
    assert.ok(existsSync(file), 'exported: absent');
  });

  describe('the CLI', () => {
    const noOnnx = (dir: string) =>
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith('.onnx') || f.includes('.tmp-')),
        [],
        `no file left in ${dir}`,
      );
    const fails = async (args: string[], message: RegExp) => {
      const r = await cli(['export', ...args]);
      assert.equal(r.exitCode, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    };

    test('exports with --out and --opset', async () => {
      const out = join(root, 'cli.onnx');
      const r = await cli(['export', runs.get('keras-cnn')!, '--format', 'onnx', '--opset', '15', '--out', out]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /wrote .*cli\.onnx \([\d,]+ bytes, ONNX opset 15\)/);
      assert.ok(existsSync(out));
    });

    test('bad inputs: one line, exit 1, no file', async () => {
      const src = runs.get('pytorch-cnn')!;
      const dir = join(root, 'bad');
      cpSync(src, dir, { recursive: true });
      rmSync(join(dir, 'model.onnx'), { force: true });
      await fails([join(root, 'nope')], /fmnist: error: .*nope: run folder not found/);
      await fails([dir, '--format', 'tflite'], /--format tflite: unknown format \(known: onnx; TFLite is not offered/);
      await fails([dir, '--opset', '12'], /opset 12: fmnist exports ONNX opsets 13 to 17/);
      await fails([dir, '--opset', '18'], /opset 18: fmnist exports ONNX opsets 13 to 17/);
      await fails([dir, '--opset', 'x'], /--opset x: expected a whole number/);
      await fails([dir, '--out', root], /--out .*: is a folder/);
      noOnnx(dir);
      rmSync(join(dir, 'model.pt'));
      // each folder below as fmnist would have written it (damage since is test/runs/corrupt.test.ts's)
      writeChecksums(dir);
      await fails([dir], /model\.pt: weights file not found/);
      noOnnx(dir);
      const { info } = readRun(src);
      const members = [{ dir: src, framework: 'pytorch' as const, model: info.model, params: info.params }];
      writeRunInfo(dir, { ...info, framework: 'ensemble', model: 'ensemble', modelFile: 'run.json', members });
      writeChecksums(dir);
      await fails([dir], /is an ensemble, which has no weights of its own/);
      noOnnx(dir);
      writeRunInfo(dir, { ...info, model: 'nosuch' });
      writeChecksums(dir);
      await fails([dir], /run\.json: unknown model 'nosuch'/);
      writeFileSync(join(dir, 'model.pt'), 'not a state dict');
      writeRunInfo(dir, info);
      writeChecksums(dir);
      await fails([dir], /model\.pt: not a state_dict fmnist can read/);
      noOnnx(dir);
    });
  });
});

describe('the layers one by one (random weights, BatchNorm statistics from training-mode passes)', () => {
  const { nn } = torch;
  torch.manualSeed(3);
  let seed = 7;
  const x = Float32Array.from({ length: 6 * 784 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000);

  /** Our eval-mode softmax(m(x)) against onnxruntime's on the exported bytes. */
  async function same(m: torch.nn.Module, what: string, opset = 17) {
    m.train();
    torch.noGrad(() => {
      for (let i = 0; i < 3; i++) torch.tidy(() => m.call(torch.fromTypedArray(x, [6, 1, 28, 28])));
    });
    m.eval();
    const ours = torch.noGrad(() =>
      torch.tidy(() =>
        m
          .call(torch.fromTypedArray(x, [6, 1, 28, 28]))
          .softmax(1)
          .toFloat32(),
      ),
    );
    const bytes = moduleToOnnx(m, { model: 'test', framework: 'pytorch', opset });
    assertClose(await ortProbs(bytes, x, 6, 6), ours, what, { rtol: 0, atol: 1e-5 });
    assertClose(await ortProbs(bytes, x, 6, 1), ours, `${what} at batch 1`, { rtol: 0, atol: 1e-5 });
    return bytes;
  }

  test('Conv2d with a bias and BatchNorm folded, strided depthwise, AvgPool2d, a standalone BatchNorm2d', async () => {
    const m = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.Conv2d(4, 4, 3, { stride: 2, padding: 1, groups: 4, bias: false }),
      new nn.BatchNorm2d(4),
      new nn.AvgPool2d(2),
      new nn.BatchNorm2d(4),
      new nn.Conv2d(4, 6, [3, 1], { dilation: [1, 2], padding: [2, 0] }),
      new nn.MaxPool2d(3, 2, 1),
      new nn.Identity(),
      new nn.AdaptiveAvgPool2d(1),
      new nn.Flatten(),
      new nn.Dropout(0.5),
      new nn.Linear(6, 10),
    );
    await same(m, 'conv stack');
    await same(m, 'conv stack at opset 13', 13);
    m.dispose();
  });

  test('Linear with BatchNorm1d folded, and a standalone BatchNorm1d', async () => {
    const m = new nn.Sequential(
      new nn.Flatten(),
      new nn.Linear(784, 16),
      new nn.BatchNorm1d(16),
      new nn.ReLU(),
      new nn.Dropout(0.2),
      new nn.BatchNorm1d(16),
      new nn.Linear(16, 10, false),
    );
    await same(m, 'linear stack');
    m.dispose();
  });

  test('errors name the layer: no toOnnx, AdaptiveAvgPool2d(2), Flatten(2), an opset out of range', () => {
    class Custom extends nn.Module {
      forward(t: torch.Tensor) {
        return t;
      }
    }
    const meta = { model: 'test', framework: 'pytorch' };
    const m1 = new nn.Sequential(new nn.Flatten(), new nn.Sequential(new nn.ReLU(), new Custom()));
    assert.throws(() => moduleToOnnx(m1, meta), /^Error: ONNX export: Custom \(at 1\.1\) has no ONNX form/);
    const m2 = new nn.Sequential(new nn.AdaptiveAvgPool2d(2));
    assert.throws(() => moduleToOnnx(m2, meta), /AdaptiveAvgPool2d\(2\) \(at 0\): only output size 1/);
    const m3 = new nn.Sequential(new nn.Flatten(2));
    assert.throws(() => moduleToOnnx(m3, meta), /Flatten\(2, -1\) \(at 0\): only Flatten\(1, -1\)/);
    assert.throws(() => moduleToOnnx(new nn.ReLU(), { ...meta, opset: 12 }), /opset 12: fmnist exports ONNX opsets/);
    assert.throws(() => moduleToOnnx(new nn.ReLU(), { ...meta, opset: 13.5 }), /opset 13\.5/);
  });
});
