// The examples/ programs run as a user would run them: through the package's own exports (fmnist, fmnist/torch,
// fmnist/tfjs-backend), on the real data. Each is seeded, so its accuracy is the same on every run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SYSTEM_DATA_DIR } from '../../src/data/index.js';
import { makeConfig } from '../../src/runs/config.js';
import { runTraining } from '../../src/cli/commands/train.js';

const run = promisify(execFile);
const skip = existsSync(SYSTEM_DATA_DIR) ? false : `no data in ${SYSTEM_DATA_DIR}`;
const example = async (file: string, ...args: string[]) =>
  (await run(process.execPath, ['--import', 'tsx', join('examples', file), ...args], { timeout: 180_000 })).stdout;
const accuracy = (out: string) => Number(/test accuracy on \d+ images: ([\d.]+)/.exec(out)?.[1]);

describe('examples/', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-example-'));
    const cfg = makeConfig({ model: 'dense', epochs: 1, limit: 2000, testLimit: 200, threads: 1, out: dir });
    await runTraining(cfg, () => {});
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('custom-torch-model.ts: an nn.Module subclass trained with AdamW learns (accuracy > 0.6)', async () => {
    const out = await example('custom-torch-model.ts', '3000', '1');
    assert.ok(accuracy(out) > 0.6, out);
  });

  test("tfjs-layers-on-torch.ts: a stock tfjs Layers model fits on the 'torch' backend (accuracy > 0.6)", async () => {
    const out = await example('tfjs-layers-on-torch.ts', '3000', '1');
    assert.match(out, /tfjs backend: torch/);
    assert.ok(accuracy(out) > 0.6, out);
  });

  test('predict-from-run.ts: a run folder predicts the top 3 classes of test images', async () => {
    const out = await example('predict-from-run.ts', dir);
    assert.match(out, /pytorch dense, 109386 parameters/);
    assert.equal(out.match(/^image \d \(truly [^)]+\): \S.*%, .*%, .*%$/gm)?.length, 5, out);
  });
});
