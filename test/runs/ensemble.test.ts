// `fmnist ensemble` on real runs: a tiny Keras and a tiny PyTorch dense net (1 epoch on 512 images, the first
// 500 test images), trained once and shared by every test. The ensemble's files against the mean computed here
// from the members' test-probs.bin; evaluate, predict and the server on ensemble folders; every bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { CLASS_NAMES, SYSTEM_DATA_DIR, loadFashionMnist, type FashionMnist } from '../../src/data/index.js';
import { evaluateProbs } from '../../src/runs/metrics.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import {
  readRun,
  readTestProbs,
  writeChecksums,
  writeRunInfo,
  writeTestResults,
  type MetricsJson,
  type RunInfo,
} from '../../src/runs/files.js';
import { SHA256SUMS } from '../../src/runs/checksums.js';
import { TTA_VIEWS, predictTta, viewsFor } from '../../src/runs/tta.js';
import { preprocessImage, toModelInput } from '../../src/imaging/preprocess.js';
import { buildServer } from '../../src/serve/server.js';
import { ensembleLabel, runInfoLabel } from '../../src/runs/labels.js';
import { cli } from '../helpers/cli.js';

const skip = existsSync(join(SYSTEM_DATA_DIR, 't10k-images-idx3-ubyte.gz')) ? false : `no data in ${SYSTEM_DATA_DIR}`;
const readJson = <T>(p: string) => JSON.parse(readFileSync(p, 'utf8')) as T;
const N = 500;

test('labels: "Ensemble of N", with "(TTA)" when it averages test-time views', () => {
  const members = [
    { framework: 'keras', model: 'dense' },
    { framework: 'pytorch', model: 'cnn' },
  ];
  assert.equal(ensembleLabel({ members }), 'Ensemble of 2');
  assert.equal(runInfoLabel({ framework: 'ensemble', model: 'ensemble', members, tta: true }), 'Ensemble of 2 (TTA)');
  assert.equal(runInfoLabel({ framework: 'pytorch', model: 'cnn' }), 'PyTorch CNN');
});

describe('fmnist ensemble (a Keras and a PyTorch dense run, 500 test images)', { skip }, () => {
  let tmp = '';
  let keras = '';
  let torch = '';
  /** An ensemble of keras and torch, and the same with --tta. */
  let ens = '';
  let ensTta = '';
  let fm: FashionMnist;
  let labels: Uint8Array;

  // trained with different augmentation, so that --tta gives each member its own views (viewsFor)
  const train = async (framework: string, out: string, augment: string) => {
    const r = await cli([
      ...['train', '--framework', framework, '--model', 'dense', '--epochs', '1', '--limit', '512'],
      ...['--augment', augment],
      ...['--test-limit', String(N), '--val-split', '0.2', '--seed', '1', '--threads', '2'],
      ...['--out', out, '--data-dir', SYSTEM_DATA_DIR],
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    return out;
  };
  const ensemble = (...args: string[]) => cli(['ensemble', ...args, '--data-dir', SYSTEM_DATA_DIR]);

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-ensemble-'));
    keras = await train('keras', join(tmp, 'keras-dense'), 'crop,flip');
    torch = await train('pytorch', join(tmp, 'pytorch-dense'), 'flip');
    fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, quiet: true });
    labels = fm.test.labels.slice(0, N);
    ens = join(tmp, 'ens');
    ensTta = join(tmp, 'ens-tta');
    for (const [out, extra] of [
      [ens, []],
      [ensTta, ['--tta']],
    ] as const) {
      const r = await ensemble(keras, torch, '--out', out, ...extra);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /^Ensemble of 2( \(TTA\))?: test accuracy \d+\.\d\d%, .* on 500 test images; wrote /m);
    }
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the folder: run.json names the members, and nothing else is there', () => {
    assert.deepEqual(readdirSync(ens).sort(), [SHA256SUMS, 'metrics.json', 'run.json', 'test-probs.bin']);
    const info = readJson<RunInfo>(join(ens, 'run.json'));
    const k = readJson<RunInfo>(join(keras, 'run.json'));
    const t = readJson<RunInfo>(join(torch, 'run.json'));
    assert.equal(info.framework, 'ensemble');
    assert.equal(info.model, 'ensemble');
    assert.equal(info.tta, false);
    assert.equal(info.params, k.params + t.params);
    assert.deepEqual(info.members, [
      { dir: keras, framework: 'keras', model: 'dense', params: k.params },
      { dir: torch, framework: 'pytorch', model: 'dense', params: t.params },
    ]);
    assert.equal(info.data.testCount, N);
    assert.ok(!Number.isNaN(Date.parse(info.createdAt)));
    assert.equal(readJson<RunInfo>(join(ensTta, 'run.json')).tta, true);
    // written under a temporary name and renamed: nothing is left beside it
    assert.deepEqual(
      readdirSync(tmp).filter((n) => n.startsWith('.')),
      [],
    );
  });

  test('test-probs.bin is the mean of the members’ and metrics.json is its evaluation', () => {
    const a = readTestProbs(keras)!;
    const b = readTestProbs(torch)!;
    assert.equal(a.length, N * 10);
    const byHand = new Float32Array(N * 10);
    for (let i = 0; i < byHand.length; i++) byHand[i] = (a[i] + b[i]) / 2;
    assert.deepEqual(readTestProbs(ens), byHand);

    const ev = evaluateProbs(byHand, labels, CLASS_NAMES);
    const m = readJson<MetricsJson>(join(ens, 'metrics.json'));
    const member = readJson<MetricsJson>(join(keras, 'metrics.json'));
    assert.deepEqual(Object.keys(m), Object.keys(member));
    assert.equal(m.framework, 'ensemble');
    assert.equal(m.testAccuracy, ev.accuracy);
    assert.equal(m.testLoss, ev.loss);
    assert.equal(m.ece, ev.ece);
    assert.deepEqual(m.confusionMatrix, ev.confusionMatrix);
    assert.deepEqual(m.perClass, ev.perClass);
    assert.deepEqual(m.macro, ev.macro);
    assert.deepEqual(m.reliability, ev.reliability);
    assert.equal(m.params, readJson<RunInfo>(join(ens, 'run.json')).params);
    assert.equal(m.trainSeconds, member.trainSeconds + readJson<MetricsJson>(join(torch, 'metrics.json')).trainSeconds);
    assert.equal(m.tta, undefined);
  });

  test('--tta: the mean over members of each member’s TTA probabilities', async () => {
    const images = fm.test.images.subarray(0, N * 784);
    const each: Float32Array[] = [];
    for (const dir of [keras, torch]) {
      const p = await loadPredictor(dir);
      try {
        each.push(await predictTta((x, n) => p.predict(x, n), images, N, viewsFor(p.info.config)));
      } finally {
        p.dispose();
      }
    }
    const saved = readTestProbs(ensTta)!;
    const worst = Math.max(...saved.map((v, i) => Math.abs(v - (each[0][i] + each[1][i]) / 2)));
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    const m = readJson<MetricsJson>(join(ensTta, 'metrics.json'));
    // keras (crop, flip) used all six views, pytorch (flip) the identity and the mirror: the record is the union
    assert.deepEqual(m.tta?.views, TTA_VIEWS);
    assert.deepEqual(
      viewsFor(readRun(torch).info.config).map((v) => v.name),
      ['identity', 'flipped'],
    );
    assert.equal(m.testAccuracy, evaluateProbs(saved, labels, CLASS_NAMES).accuracy);
  });

  test('loadPredictor loads an ensemble folder and reproduces its test-probs.bin (TTA too)', async () => {
    const n = 100;
    for (const dir of [ens, ensTta]) {
      const p = await loadPredictor(dir);
      try {
        assert.equal(p.info.framework, 'ensemble');
        const probs = await p.predict(fm.test.images.subarray(0, n * 784), n);
        const saved = readTestProbs(dir)!.subarray(0, n * 10);
        const worst = Math.max(...saved.map((v, i) => Math.abs(v - probs[i])));
        assert.ok(worst < 1e-5, `${dir}: largest difference ${worst}`);
      } finally {
        p.dispose();
      }
    }
  });

  test('fmnist evaluate on an ensemble folder (and with --tta)', async () => {
    // --tta on the plain ensemble: its plain side is the ensemble, its TTA side the --tta ensemble's
    const r = await cli(['evaluate', ens, '--tta', '--json', '--data-dir', SYSTEM_DATA_DIR, '--test-limit', String(N)]);
    assert.equal(r.exitCode, 0, r.stderr);
    const { plain, tta } = JSON.parse(r.stdout);
    const m = readJson<MetricsJson>(join(ens, 'metrics.json'));
    assert.equal(plain.framework, 'ensemble');
    assert.equal(plain.params, m.params);
    assert.deepEqual(plain.confusionMatrix, m.confusionMatrix);
    assert.ok(Math.abs(plain.loss - m.testLoss) < 1e-5);
    const mt = readJson<MetricsJson>(join(ensTta, 'metrics.json'));
    assert.deepEqual(tta.confusionMatrix, mt.confusionMatrix);
    assert.ok(Math.abs(tta.loss - mt.testLoss) < 1e-5);
    assert.deepEqual(readJson<MetricsJson>(join(ens, 'metrics-tta.json')).confusionMatrix, mt.confusionMatrix);
  });

  test('fmnist predict on an ensemble folder gives the mean of the members', async () => {
    const png = new PNG({ width: 28, height: 28 });
    for (let i = 0; i < 784; i++) {
      png.data.fill(fm.rawTest[i], i * 4, i * 4 + 3);
      png.data[i * 4 + 3] = 255;
    }
    const file = join(tmp, 'test-0.png');
    const bytes = PNG.sync.write(png);
    writeFileSync(file, bytes);
    const r = await cli(['predict', ens, file, '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const [out] = JSON.parse(r.stdout);
    const x = toModelInput([preprocessImage(bytes)]);
    const mean = new Float32Array(10);
    for (const dir of [keras, torch]) {
      const p = await loadPredictor(dir);
      (await p.predict(x, 1)).forEach((v, c) => (mean[c] += v / 2));
      p.dispose();
    }
    for (const t of out.top) assert.ok(Math.abs(t.probability - mean[t.label]) < 1e-6, JSON.stringify(out.top));
  });

  test('fmnist serve: the card says "Ensemble of 2" and lists the members; predictions are the mean', async () => {
    const app = await buildServer({ models: [keras, torch, ens, ensTta], dataDir: SYSTEM_DATA_DIR });
    try {
      const models = (await app.inject({ method: 'GET', url: '/v1/models' })).json().models;
      assert.deepEqual(
        models.map((m: { id: string }) => m.id),
        ['keras-dense', 'pytorch-dense', 'ens', 'ens-tta'],
      );
      const [, , e, et] = models;
      assert.equal(e.label, 'Ensemble of 2');
      assert.equal(et.label, 'Ensemble of 2 (TTA)');
      assert.equal(e.framework, 'ensemble');
      assert.equal(e.params, 218_772);
      assert.deepEqual(
        e.members.map((m: { name: string; framework: string; arch: string }) => [m.name, m.framework, m.arch]),
        [
          ['keras-dense', 'keras', 'dense'],
          ['pytorch-dense', 'pytorch', 'dense'],
        ],
      );
      assert.match(e.description, /^Mean of the class probabilities of 2 models: /);
      assert.match(et.description, /each also averaged over the test-time views its training calls for/);
      assert.equal(e.tta, false);
      assert.equal(et.tta, true);
      assert.equal(e.browser, null);
      assert.match(e.browserUnavailable, /ensemble/);
      assert.equal(e.testAccuracy, readJson<MetricsJson>(join(ens, 'metrics.json')).testAccuracy);
      assert.equal(models[0].members, null);

      const pixels = Array.from(fm.rawTest.subarray(784, 2 * 784));
      const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels } });
      assert.equal(r.statusCode, 200, r.body);
      const [pk, pt, pe] = r.json().predictions.map((p: { probabilities: number[] }) => p.probabilities);
      pe.forEach((v: number, c: number) => assert.ok(Math.abs(v - (pk[c] + pt[c]) / 2) < 1e-6, `class ${c}`));
    } finally {
      await app.close();
    }
  });

  test('an ensemble folder is replaced by a new ensemble written to it', async () => {
    const out = join(tmp, 'again');
    cpSync(ens, out, { recursive: true });
    const r = await ensemble(torch, keras, '--out', out);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(
      readJson<RunInfo>(join(out, 'run.json')).members?.map((m) => m.dir),
      [torch, keras],
    );
    assert.deepEqual(readdirSync(out).sort(), [SHA256SUMS, 'metrics.json', 'run.json', 'test-probs.bin']);
    assert.deepEqual(
      readdirSync(tmp).filter((n) => n.startsWith('.')),
      [],
    );
  });

  describe('bad input: one line, exit code 1, no folder', () => {
    let noWeights = '';
    let noKerasWeights = '';
    let otherData = '';
    let occupied = '';
    before(async () => {
      noWeights = join(tmp, 'no-weights');
      cpSync(torch, noWeights, { recursive: true });
      rmSync(join(noWeights, 'model.pt'));
      noKerasWeights = join(tmp, 'no-keras-weights');
      cpSync(keras, noKerasWeights, { recursive: true });
      rmSync(join(noKerasWeights, 'weights.bin'));
      // the PyTorch run as if evaluated on the first 300 test images only (trained with --test-limit 300)
      otherData = join(tmp, 'pytorch-300');
      cpSync(torch, otherData, { recursive: true });
      const info = readJson<RunInfo>(join(otherData, 'run.json'));
      info.data.testCount = 300;
      writeRunInfo(otherData, info);
      const probs = readTestProbs(torch)!.slice(0, 300 * 10);
      writeTestResults(otherData, info, readRun(torch).history, 1, probs, labels.slice(0, 300), CLASS_NAMES);
      writeChecksums(otherData); // as training would
      occupied = join(tmp, 'occupied');
      mkdirSync(occupied);
      writeFileSync(join(occupied, 'notes.txt'), 'mine\n');
    });

    const cases: [string, () => string[], RegExp][] = [
      ['a missing folder', () => [keras, join(tmp, 'nope')], /nope: run folder not found$/],
      ['a folder without run.json', () => [keras, occupied], /occupied\/run\.json: run\.json .*not found$/],
      [
        'a PyTorch folder without weights',
        () => [keras, noWeights],
        /no-weights\/model\.pt: missing \(listed in SHA256SUMS\)$/,
      ],
      [
        'a Keras folder without weights',
        () => [noKerasWeights, torch],
        /no-keras-weights\/weights\.bin: missing \(listed in SHA256SUMS\)$/,
      ],
      ['one member', () => [keras], /an ensemble needs at least 2 run folders, got 1/],
      ['the same member twice', () => [keras, `${keras}/`], /is listed twice/],
      ['--out equal to a member', () => [keras, torch, '--out', torch], /--out .*pytorch-dense is one of the members/],
      ['--out inside a member', () => [keras, torch, '--out', join(keras, 'e')], /--out .* is inside the member/],
      ['--out over another folder', () => [keras, torch, '--out', occupied], /already exists and is not an ensemble/],
      ['an ensemble as a member', () => [ens, torch], /ens: is an ensemble itself; list its members instead$/],
      [
        'members evaluated on different data',
        () => [keras, otherData],
        /members were evaluated on different data: .* have 500 and 300 test images \(train them with the same --test-limit\)$/,
      ],
    ];
    for (const [what, args, message] of cases) {
      test(what, async () => {
        const a = args();
        const out = a.includes('--out') ? '' : join(tmp, 'bad-ensemble');
        const before = readdirSync(tmp).sort();
        const r = await ensemble(...a, ...(out ? ['--out', out] : []));
        assert.equal(r.exitCode, 1, r.stdout);
        assert.equal(r.stdout, '');
        const lines = r.stderr.trimEnd().split('\n');
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /^fmnist: error: /);
        assert.match(lines[0], message);
        if (out) assert.ok(!existsSync(out), `${out} was created`);
        assert.deepEqual(readdirSync(tmp).sort(), before, 'a file or folder appeared');
      });
    }

    test('the members are untouched', () => {
      assert.equal(readJson<RunInfo>(join(torch, 'run.json')).framework, 'pytorch');
      assert.ok(existsSync(join(torch, 'model.pt')));
      assert.deepEqual(readdirSync(occupied), ['notes.txt']);
    });
  });
});
