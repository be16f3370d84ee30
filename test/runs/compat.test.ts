// Run folders written before the training loop and registry (fmnist 0.1.0, test/fixtures/old-runs) still load in
// `evaluate`, `predict`, `report` and `serve`, and predict what they predicted when they were written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { SYSTEM_DATA_DIR, loadFashionMnist } from '../../src/data/index.js';
import { loadPredictor } from '../../src/runs/predictor.js';
import { readTestProbs } from '../../src/runs/files.js';
import { writeReport } from '../../src/cli/commands/compare.js';
import { buildServer } from '../../src/serve/server.js';
import { cli } from '../helpers/cli.js';

const FIXTURES = new URL('../fixtures/old-runs/', import.meta.url).pathname;
const RUNS = ['pytorch-dense', 'keras-dense'];
const skip = existsSync(join(SYSTEM_DATA_DIR, 't10k-images-idx3-ubyte.gz')) ? false : `no data in ${SYSTEM_DATA_DIR}`;

describe('run folders from fmnist 0.1.0', { skip }, () => {
  let tmp: string;
  let test100: Float32Array;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-compat-'));
    cpSync(FIXTURES, tmp, { recursive: true });
    const fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, verify: false, quiet: true });
    test100 = fm.test.images.slice(0, 100 * 784);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const id of RUNS) {
    test(`${id}: loadPredictor reproduces the test-probs.bin it wrote`, async () => {
      const p = await loadPredictor(join(tmp, id));
      const probs = await p.predict(test100, 100);
      p.dispose();
      const saved = readTestProbs(join(tmp, id))!;
      assert.equal(saved.length, 1000);
      const worst = Math.max(...saved.map((v, i) => Math.abs(v - probs[i])));
      assert.ok(worst < 1e-5, `largest difference ${worst}`);
    });

    test(`${id}: \`fmnist evaluate --json\` and \`fmnist predict\` work`, async () => {
      const ev = await cli(['evaluate', join(tmp, id), '--json', '--data-dir', SYSTEM_DATA_DIR]);
      assert.equal(ev.exitCode, 0, ev.stderr);
      assert.equal(JSON.parse(ev.stdout).params, 109_386);
      const png = new PNG({ width: 28, height: 28, colorType: 0 });
      for (let i = 0; i < 784; i++) {
        png.data.fill(Math.round(255 * test100[i]), i * 4, i * 4 + 3);
        png.data[i * 4 + 3] = 255;
      }
      const file = join(tmp, `${id}.png`);
      writeFileSync(file, PNG.sync.write(png));
      const pr = await cli(['predict', join(tmp, id), file]);
      assert.equal(pr.exitCode, 0, pr.stderr);
      assert.match(pr.stdout, /%/);
    });
  }

  test('`fmnist report` covers both runs', async () => {
    const r = await writeReport(tmp, { dataDir: SYSTEM_DATA_DIR, log: () => {} });
    const html = readFileSync(r.html, 'utf8');
    assert.match(html, /Keras dense/);
    assert.match(html, /PyTorch dense/);
  });

  test('`fmnist serve` answers /v1/predict for both', async () => {
    const app = await buildServer({ models: RUNS.map((id) => join(tmp, id)), dataDir: SYSTEM_DATA_DIR });
    try {
      const pixels = Array.from(test100.subarray(0, 784), (v) => Math.round(255 * v));
      const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels } });
      assert.equal(res.statusCode, 200, res.body);
      const body = JSON.parse(res.body) as { predictions: { model: string }[] };
      assert.deepEqual(body.predictions.map((p) => p.model).sort(), [...RUNS].sort());
    } finally {
      await app.close();
    }
  });
});
