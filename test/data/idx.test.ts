import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, loadFashionMnist, readIdxImages, readIdxLabels, verifyChecksum } from '../../src/data/index.js';
import {
  IMAGE_NAMES,
  LABEL_NAMES,
  cyclingLabels,
  imagesIdx,
  labelsIdx,
  pixelValue,
  sha256,
  tempDir,
  writeDataset,
  writeIdx,
} from './helpers.js';

const tmp = tempDir();
after(tmp.cleanup);
let folders = 0;
function freshDir(): string {
  const dir = join(tmp.dir, `case${folders++}`);
  mkdirSync(dir);
  return dir;
}

/** Asserts `fn` throws a DataError whose message names `path` and matches `problem`. */
function assertDataError(fn: () => unknown, path: string, problem: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${String(err)}`);
    assert.ok(err.message.includes(path), `message should name ${path}: ${err.message}`);
    assert.match(err.message, problem);
    return true;
  });
}

async function assertRejectsDataError(promise: Promise<unknown>, path: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected DataError, got ${String(err)}`);
    assert.ok(err.message.includes(path), `message should name ${path}: ${err.message}`);
    assert.match(err.message, problem);
    return true;
  });
}

describe('IDX reader: good files', () => {
  test('reads gzip images and labels', () => {
    const path = writeIdx(tmp.dir, 'good-images', imagesIdx(3));
    const { images, count, rows, cols } = readIdxImages(path);
    assert.deepEqual([count, rows, cols, images.length], [3, 28, 28, 3 * 784]);
    assert.equal(images[784 + 5], pixelValue(1, 5));
    assert.equal(images.byteOffset, 0);
    assert.equal(images.buffer.byteLength, images.length);
    const labels = readIdxLabels(writeIdx(tmp.dir, 'good-labels', labelsIdx([3, 0, 9])));
    assert.deepEqual([...labels], [3, 0, 9]);
  });

  test('reads raw (uncompressed) files the same way', () => {
    const gz = readIdxImages(writeIdx(tmp.dir, 'same-a', imagesIdx(2), true));
    const raw = readIdxImages(writeIdx(tmp.dir, 'same-b', imagesIdx(2), false));
    assert.deepEqual(raw.images, gz.images);
    assert.deepEqual([...readIdxLabels(writeIdx(tmp.dir, 'raw-labels', labelsIdx([1, 2]), false))], [1, 2]);
  });

  test('loads a fixture folder with verify off, or verified against an explicit table', async () => {
    const dir = freshDir();
    const set = writeDataset(dir, { gzip: false });
    const off = await loadFashionMnist({ dataDir: dir, verify: false, env: {} });
    assert.equal(off.verified, false);
    assert.equal(off.train.count, 30);
    assert.equal(off.test.count, 20);
    assert.equal(off.train.images[784 + 10], Math.fround(pixelValue(1, 10) / 255));
    const on = await loadFashionMnist({ dataDir: dir, checksums: set.checksums, env: {} });
    assert.equal(on.verified, true);
    assert.equal(on.source.origin, 'flag');
  });
});

describe('IDX reader: each bad case has its own DataError', () => {
  test('missing file', () => {
    const path = join(tmp.dir, 'nope-idx3-ubyte.gz');
    assertDataError(() => readIdxImages(path), path, /file not found.*apt-get install dataset-fashion-mnist/s);
  });

  test('empty file', () => {
    const path = join(tmp.dir, 'empty.gz');
    writeFileSync(path, '');
    assertDataError(() => readIdxLabels(path), path, /file is empty/);
  });

  test('truncated gzip', () => {
    const path = join(tmp.dir, 'truncated.gz');
    const gz = gzipSync(imagesIdx(20));
    writeFileSync(path, gz.subarray(0, Math.floor(gz.length / 2)));
    assertDataError(() => readIdxImages(path), path, /gzip file is truncated/);
  });

  test('corrupt gzip', () => {
    const path = join(tmp.dir, 'corrupt.gz');
    const gz = Buffer.from(gzipSync(imagesIdx(20)));
    for (let i = 20; i < 60; i++) gz[i] ^= 0xff;
    writeFileSync(path, gz);
    assertDataError(() => readIdxImages(path), path, /gzip data is corrupt/);
  });

  test('neither gzip nor raw IDX (random text)', () => {
    const path = join(tmp.dir, 'text.gz');
    writeFileSync(path, 'hello, this is not a dataset\n');
    assertDataError(() => readIdxImages(path), path, /not a gzip file and not a raw IDX file.*"hello, t"/);
  });

  test('wrong magic number', () => {
    const path = writeIdx(tmp.dir, 'labels-as-images', labelsIdx([1, 2, 3]));
    assertDataError(() => readIdxImages(path), path, /wrong magic number 2049 \(0x00000801\).*expected 2051/);
    const other = writeIdx(tmp.dir, 'bad-magic', imagesIdx(1, { magic: 0x0804 }), false);
    assertDataError(() => readIdxImages(other), other, /wrong magic number 2052/);
  });

  test('images that are not 28x28', () => {
    const path = writeIdx(tmp.dir, 'big-images', imagesIdx(2, { rows: 32, cols: 32 }));
    assertDataError(() => readIdxImages(path), path, /images are 32x32, expected 28x28/);
  });

  test('label out of range', () => {
    const path = writeIdx(tmp.dir, 'bad-label', labelsIdx([0, 9, 12, 3]));
    assertDataError(() => readIdxLabels(path), path, /label 12 at index 2 is out of range 0-9/);
  });

  test('image body shorter than the header says', () => {
    const path = writeIdx(tmp.dir, 'short-body', imagesIdx(10, { bodyBytes: 5 * 784 + 100 }));
    assertDataError(() => readIdxImages(path), path, /truncated: the header says 10 images of 28x28 \(7840 bytes/);
  });

  test('label body shorter than the header says', () => {
    const path = writeIdx(tmp.dir, 'short-labels', labelsIdx([1, 2, 3], { count: 5 }));
    assertDataError(() => readIdxLabels(path), path, /label data is truncated: the header says 5 labels but only 3/);
  });

  test('image and label counts differ', async () => {
    const dir = freshDir();
    writeDataset(dir);
    const labelsPath = writeIdx(dir, LABEL_NAMES.train, labelsIdx(cyclingLabels(29)));
    const imagesPath = join(dir, `${IMAGE_NAMES.train}.gz`);
    await assertRejectsDataError(
      loadFashionMnist({ dataDir: dir, verify: false, env: {} }),
      labelsPath,
      /has 30 images but .* has 29 labels/,
    );
    await assertRejectsDataError(loadFashionMnist({ dataDir: dir, verify: false, env: {} }), imagesPath, /30 images/);
  });

  test('checksum mismatch', async () => {
    const dir = freshDir();
    writeDataset(dir);
    // Verification is on by default and uses the official hashes, which no fixture can match.
    await assertRejectsDataError(
      loadFashionMnist({ dataDir: dir, env: {} }),
      join(dir, `${IMAGE_NAMES.train}.gz`),
      /checksum mismatch: SHA-256 .* expected c59f468a.*decompressed size is 23536 bytes, expected 47040016/s,
    );
    const bytes = imagesIdx(1);
    assertDataError(() => verifyChecksum(bytes, 'x.gz', sha256(Buffer.from('other'))), 'x.gz', /checksum mismatch/);
    verifyChecksum(bytes, 'x.gz', sha256(bytes));
  });
});
