import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DataError, downloadDataset, loadFashionMnist } from '../../src/data/index.js';
import { IMAGE_NAMES, LABEL_NAMES, fixtureSet, imagesIdx, tempDir } from './helpers.js';

const tmp = tempDir();
const set = fixtureSet();
// Served under /mirror/ to check the base URL keeps its path.
const goodBodies = new Map(Object.entries(set.files).map(([name, bytes]) => [`/mirror/${name}.gz`, gzipSync(bytes)]));
/** Per-test overrides of what the server sends for a path: other bytes, an HTTP status, or a cut connection. */
const overrides = new Map<string, Buffer | number | 'cut'>();
const requests: string[] = [];
let server: Server;
let baseUrl = '';

before(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(path);
    const override = overrides.get(path);
    if (override === 'cut') {
      // Promise the whole file, send half, then drop the connection.
      const full = goodBodies.get(path)!;
      res.writeHead(200, { 'content-length': full.length });
      res.write(full.subarray(0, full.length >> 1), () => res.destroy());
      return;
    }
    const body = override ?? goodBodies.get(path);
    if (body === undefined || typeof body === 'number') {
      res.writeHead(typeof body === 'number' ? body : 404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  tmp.cleanup();
});

let cases = 0;
/** An empty XDG cache home and a system folder that does not exist, so only the download can succeed. */
function isolatedEnv(): { env: NodeJS.ProcessEnv; cache: string; systemDir: string } {
  const home = join(tmp.dir, `case${cases++}`);
  mkdirSync(home);
  return {
    env: { XDG_CACHE_HOME: home, FASHION_MNIST_MIRROR: baseUrl },
    cache: join(home, 'fmnist'),
    systemDir: join(home, 'no-system'),
  };
}

describe('download into the cache', () => {
  test('downloads, verifies and loads the four files from FASHION_MNIST_MIRROR', async () => {
    const { env, cache, systemDir } = isolatedEnv();
    requests.length = 0;
    const fm = await loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true });
    assert.equal(fm.source.origin, 'download');
    assert.equal(fm.source.dir, cache);
    assert.deepEqual(fm.source.searched, [systemDir, cache]);
    assert.equal(fm.verified, true);
    assert.equal(fm.train.count, 30);
    assert.deepEqual(
      readdirSync(cache).sort(),
      Object.keys(set.files)
        .map((n) => `${n}.gz`)
        .sort(),
    );
    assert.equal(requests.length, 4);
    assert.ok(requests.every((r) => r.startsWith('/mirror/')));

    // Second run finds the cache and downloads nothing.
    requests.length = 0;
    const again = await loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true });
    assert.equal(again.source.origin, 'cache');
    assert.equal(requests.length, 0);
  });

  test('shows progress on the given stream', async () => {
    const { cache } = isolatedEnv();
    let text = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    const fetched = await downloadDataset({ dir: cache, baseUrl, checksums: set.checksums, progress: sink });
    assert.equal(fetched.length, 4);
    assert.match(text, /downloading train-images-idx3-ubyte\.gz \.\.\. [\d.]+ MB\n/);
  });

  test('a corrupt body is rejected and leaves no file behind', async () => {
    const { env, cache, systemDir } = isolatedEnv();
    const corrupt = Buffer.from(goodBodies.get(`/mirror/${IMAGE_NAMES.train}.gz`)!);
    for (let i = 30; i < 80; i++) corrupt[i] ^= 0x5a;
    overrides.set(`/mirror/${IMAGE_NAMES.train}.gz`, corrupt);
    try {
      await assert.rejects(loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true }), (err) => {
        assert.ok(err instanceof DataError);
        assert.match(
          err.message,
          /download into .* failed: .*train-images-idx3-ubyte\.gz: downloaded file is bad: gzip/,
        );
        return true;
      });
      assert.deepEqual(readdirSync(cache), []);
    } finally {
      overrides.clear();
    }
  });

  test('a body with the wrong content fails the checksum; files verified before it stay, no partial file', async () => {
    const { env, cache, systemDir } = isolatedEnv();
    overrides.set(`/mirror/${LABEL_NAMES.train}.gz`, gzipSync(imagesIdx(1)));
    try {
      await assert.rejects(
        loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true }),
        /train-labels-idx1-ubyte\.gz: downloaded file is bad: checksum mismatch/,
      );
      assert.deepEqual(readdirSync(cache), [`${IMAGE_NAMES.train}.gz`]);
    } finally {
      overrides.clear();
    }
  });

  test('a connection cut mid-file leaves no file behind', async () => {
    const { env, cache, systemDir } = isolatedEnv();
    overrides.set(`/mirror/${IMAGE_NAMES.train}.gz`, 'cut');
    try {
      await assert.rejects(
        loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true }),
        /train-images-idx3-ubyte\.gz: download (failed after \d+ bytes|is incomplete)/,
      );
      assert.deepEqual(readdirSync(cache), []);
    } finally {
      overrides.clear();
    }
  });

  test('an HTTP error is reported with the URL', async () => {
    const { env, cache, systemDir } = isolatedEnv();
    overrides.set(`/mirror/${IMAGE_NAMES.train}.gz`, 503);
    try {
      await assert.rejects(
        loadFashionMnist({ env, systemDir, checksums: set.checksums, quiet: true }),
        new RegExp(`${baseUrl}/train-images-idx3-ubyte\\.gz: server answered HTTP 503`),
      );
      assert.deepEqual(readdirSync(cache), []);
    } finally {
      overrides.clear();
    }
  });

  test('download: false reports the places searched instead', async () => {
    const { env, systemDir } = isolatedEnv();
    requests.length = 0;
    await assert.rejects(loadFashionMnist({ env, systemDir, download: false }), /not found \(download disabled\)/);
    assert.equal(requests.length, 0);
  });
});
