// Integration test on the real dataset installed by `apt-get install dataset-fashion-mnist`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  CLASS_NAMES,
  SYSTEM_DATA_DIR,
  classCounts,
  loadFashionMnist,
  pixelStats,
  shapeNCHW,
  shapeNHWC,
  type FashionMnist,
} from '../../src/data/index.js';

const missing = !existsSync(SYSTEM_DATA_DIR);
const skip = missing ? `${SYSTEM_DATA_DIR} is missing (apt-get install dataset-fashion-mnist)` : false;

describe('the real Fashion-MNIST', { skip }, () => {
  let fm: FashionMnist;
  before(async () => {
    fm = await loadFashionMnist({ dataDir: SYSTEM_DATA_DIR, quiet: true });
  });

  test('has 60000 train and 10000 test examples and verifies', () => {
    assert.equal(fm.verified, true);
    assert.equal(fm.train.count, 60000);
    assert.equal(fm.test.count, 10000);
    assert.equal(fm.train.images.length, 60000 * 784);
    assert.equal(fm.rawTest.length, 10000 * 784);
    assert.deepEqual(shapeNHWC(fm.train), [60000, 28, 28, 1]);
    assert.deepEqual(shapeNCHW(fm.test), [10000, 1, 28, 28]);
  });

  test('has 6000 / 1000 examples of each class', () => {
    assert.equal(CLASS_NAMES.length, 10);
    assert.deepEqual(classCounts(fm.train.labels), new Array(10).fill(6000));
    assert.deepEqual(classCounts(fm.test.labels), new Array(10).fill(1000));
  });

  test('pixels are pixel/255 in [0, 1], using the full range', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of fm.train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    for (const i of [0, 12345, 47039999]) assert.equal(fm.train.images[i], Math.fround(fm.rawTrain[i] / 255));
    const { mean, std } = pixelStats(fm.train);
    assert.ok(Math.abs(mean - 0.286) < 0.001, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.353) < 0.001, `std ${std}`);
  });
});
