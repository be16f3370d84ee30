// Runs the real CLI entry point in a child process, the way a user would see it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeDataset } from './helpers.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir();
after(tmp.cleanup);

function fmnist(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const script = `import('./src/cli/index.ts').then((m) => m.main(['node', 'fmnist', ...${JSON.stringify(args)}]))`;
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(tmp.dir, 'cache') };
  delete env.FASHION_MNIST_DIR;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fmnist data', () => {
  test('a folder without the data: exit 1, a short message, no stack trace', () => {
    const bad = join(tmp.dir, 'bad');
    mkdirSync(bad);
    const r = fmnist(['data', '--data-dir', bad]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^fmnist: error: Fashion-MNIST not found in ${bad} \\(from --data-dir\\)`));
    assert.match(r.stderr, /apt-get install dataset-fashion-mnist/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(r.stderr.split('\n').length <= 5, r.stderr);
  });

  test('--verbose adds the stack trace', () => {
    const r = fmnist(['--verbose', 'data', '--data-dir', join(tmp.dir, 'missing')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\n\s+at /);
  });

  test('--json --no-verify on a fixture folder prints the summary', () => {
    const dir = join(tmp.dir, 'fixture');
    mkdirSync(dir);
    writeDataset(dir, { train: 40, test: 20 });
    const r = fmnist(['data', '--data-dir', dir, '--no-verify', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.origin, 'flag');
    assert.equal(summary.verified, false);
    assert.equal(summary.classes[9].name, 'Ankle boot');
    assert.equal(summary.classes[9].train, 4);
    assert.equal(summary.test.count, 20);
  });
});
