// writeFileAtomic: the new content replaces the old whole, no temp file is left behind (on success or on failure),
// and the folder is created. (The fsyncs themselves are not observable from a test; the rename is.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../../src/util/fsutil.js';

test('writeFileAtomic replaces a file whole and leaves nothing else in the folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-fsutil-'));
  try {
    const path = join(dir, 'sub', 'f.bin');
    writeFileAtomic(path, 'first, longer content');
    assert.equal(readFileSync(path, 'utf8'), 'first, longer content');
    const big = new Uint8Array(3 * 2 ** 20).map((_, i) => (i * 31) & 255);
    writeFileAtomic(path, big);
    assert.deepEqual(new Uint8Array(readFileSync(path)), big);
    writeJsonAtomic(path, { a: 1 });
    assert.equal(readFileSync(path, 'utf8'), '{\n  "a": 1\n}\n');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['f.bin']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic that cannot rename (the target is a folder) throws and leaves no temp file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-fsutil-'));
  try {
    mkdirSync(join(dir, 'taken'));
    writeFileAtomic(join(dir, 'taken', 'x'), 'keep');
    assert.throws(() => writeFileAtomic(join(dir, 'taken'), 'data'));
    assert.deepEqual(readdirSync(dir), ['taken']);
    assert.equal(readFileSync(join(dir, 'taken', 'x'), 'utf8'), 'keep');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
