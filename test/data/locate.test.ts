import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataError,
  SYSTEM_DATA_DIR,
  cacheDir,
  loadFashionMnist,
  locateData,
  searchPlaces,
} from '../../src/data/index.js';
import { IMAGE_NAMES, tempDir, writeDataset } from './helpers.js';

const tmp = tempDir();
after(tmp.cleanup);

function folder(name: string, withData: boolean, gzip = true): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  if (withData) writeDataset(dir, { gzip });
  return dir;
}

const systemDir = folder('system', true);
const cacheHome = join(tmp.dir, 'xdg');
const cache = folder('xdg/fmnist', true);
const flagDir = folder('flag', true);
const envDir = folder('env', true, false);
const emptyDir = folder('empty', false);
const env = { XDG_CACHE_HOME: cacheHome };

describe('locateData', () => {
  test('the cache folder follows XDG_CACHE_HOME, else ~/.cache', () => {
    assert.equal(cacheDir({ XDG_CACHE_HOME: '/x/y' }), '/x/y/fmnist');
    assert.equal(cacheDir({ HOME: '/home/u' }), '/home/u/.cache/fmnist');
    assert.equal(cacheDir({ HOME: '/home/u', XDG_CACHE_HOME: 'relative' }), '/home/u/.cache/fmnist');
  });

  test('--data-dir wins over everything', () => {
    const src = locateData({ dataDir: flagDir, env: { ...env, FASHION_MNIST_DIR: envDir }, systemDir });
    assert.deepEqual(src && [src.dir, src.origin, src.searched], [flagDir, 'flag', [flagDir]]);
    assert.equal(src?.files.trainImages, join(flagDir, `${IMAGE_NAMES.train}.gz`));
  });

  test('FASHION_MNIST_DIR is next, and raw (uncompressed) files count', () => {
    const src = locateData({ env: { ...env, FASHION_MNIST_DIR: envDir }, systemDir });
    assert.deepEqual(src && [src.dir, src.origin, src.searched], [envDir, 'env', [envDir]]);
    assert.equal(src?.files.trainImages, join(envDir, IMAGE_NAMES.train));
  });

  test('an explicit folder without the data never falls back, even though the system copy exists', () => {
    assert.equal(locateData({ dataDir: emptyDir, env, systemDir }), null);
    assert.equal(locateData({ env: { ...env, FASHION_MNIST_DIR: emptyDir }, systemDir }), null);
    // Also with the real default system folder, when this machine has it.
    assert.equal(locateData({ dataDir: emptyDir, env }), null);
  });

  test('then the system folder, then the user cache', () => {
    assert.deepEqual(locateData({ env, systemDir })?.origin, 'system');
    const noSystem = join(tmp.dir, 'no-system');
    const src = locateData({ env, systemDir: noSystem });
    assert.deepEqual(src && [src.dir, src.origin, src.searched], [cache, 'cache', [noSystem, cache]]);
    assert.equal(locateData({ env: { XDG_CACHE_HOME: join(tmp.dir, 'none') }, systemDir: noSystem }), null);
  });

  test('by default the search is /usr/share/datasets/fashion-mnist, then the cache', () => {
    assert.equal(SYSTEM_DATA_DIR, '/usr/share/datasets/fashion-mnist');
    assert.deepEqual(
      searchPlaces({ env }).map((p) => p.dir),
      [SYSTEM_DATA_DIR, cache],
    );
    if (existsSync(SYSTEM_DATA_DIR)) assert.equal(locateData({ env })?.origin, 'system');
  });

  test('a folder missing one of the four files does not count', () => {
    const partial = folder('partial', true);
    rmSync(join(partial, `${IMAGE_NAMES.test}.gz`));
    assert.equal(locateData({ dataDir: partial, env }), null);
  });
});

describe('loadFashionMnist when the named folder lacks the data', () => {
  test('names the folder, what is missing, where it searched and how to get the data', async () => {
    await assert.rejects(loadFashionMnist({ dataDir: emptyDir, env, systemDir }), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, new RegExp(`not found in ${emptyDir} \\(from --data-dir\\)`));
      assert.match(err.message, /missing train-images-idx3-ubyte\(\.gz\), train-labels-idx1-ubyte\(\.gz\)/);
      assert.match(err.message, new RegExp(`Searched: ${emptyDir}\\n`));
      assert.match(err.message, /apt-get install dataset-fashion-mnist/);
      assert.match(err.message, /--data-dir DIR or set FASHION_MNIST_DIR/);
      assert.match(err.message, new RegExp(`downloads them automatically into ${cache}`));
      return true;
    });
  });

  test('says so when the folder does not exist, also from FASHION_MNIST_DIR', async () => {
    const missing = join(tmp.dir, 'does-not-exist');
    await assert.rejects(
      loadFashionMnist({ env: { ...env, FASHION_MNIST_DIR: missing }, systemDir }),
      new RegExp(`not found in ${missing} \\(from FASHION_MNIST_DIR\\): folder does not exist`),
    );
  });
});
