// The build's libtorch search (scripts/find-libtorch.mjs): each way of pointing at libtorch,
// and the error that lists them all when none works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(process.cwd(), 'scripts', 'find-libtorch.mjs');
function run(env: Record<string, string>, arg?: string) {
  const clean = { ...process.env };
  delete clean.LIBTORCH;
  delete clean.LIBTORCH_USE_PYTORCH;
  return spawnSync(process.execPath, [script, ...(arg ? [arg] : [])], { encoding: 'utf8', env: { ...clean, ...env } });
}

test('the system install (libtorch-dev) is found by default', { skip: !existsSync('/usr/include/torch') && 'no libtorch-dev' }, () => {
  const r = run({});
  assert.equal(r.status, 0, r.stderr);
  assert.match(JSON.parse(r.stdout).source, /system/);
});

test('LIBTORCH=/dir uses that folder, and says so when it lacks include/ or lib/', () => {
  const dir = mkdtempSync(join(tmpdir(), 'libtorch-'));
  try {
    const bad = run({ LIBTORCH: dir });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /does not hold include\/torch and lib\//);
    for (const way of ['LIBTORCH_USE_PYTORCH=1', 'LIBTORCH=', 'apt-get install libtorch-dev']) assert.ok(bad.stderr.includes(way), way);
    mkdirSync(join(dir, 'include', 'torch'), { recursive: true });
    mkdirSync(join(dir, 'lib'));
    const ok = run({ LIBTORCH: dir }, '--include');
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(ok.stdout.includes(join(dir, 'include')));
    assert.equal(run({ LIBTORCH: dir }, '--ldflags').stdout.trim(), `-L${join(dir, 'lib')} -Wl,-rpath,${join(dir, 'lib')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LIBTORCH_USE_PYTORCH=1 asks python3 where torch is', () => {
  const py = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (py.status !== 0) {
    const r = run({ LIBTORCH_USE_PYTORCH: '1', PYTHON: '/nonexistent/python3' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /import torch.*failed/);
    return;
  }
  const r = run({ LIBTORCH_USE_PYTORCH: '1', PYTHON: '/usr/bin/python3' });
  assert.equal(r.status, 0, r.stderr);
  const found = JSON.parse(r.stdout);
  assert.match(found.source, /^python/);
  assert.ok(found.include.some((p: string) => p.endsWith('torch/include')));
});

test('LIBTORCH_USE_PYTORCH=1 with a python that lacks torch fails with the list of options', () => {
  const r = run({ LIBTORCH_USE_PYTORCH: '1', PYTHON: '/nonexistent/python3' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /libtorch was not found/);
});
