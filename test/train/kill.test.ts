// kill -9 at several moments, among them inside a checkpoint write (reached on purpose with
// FMNIST_CHECKPOINT_PAUSE), and SIGINT/SIGTERM. Invariants, not timings: after every kill the run folder holds a
// complete checkpoint (the previous one or the new one, never a torn one), and `fmnist train --resume` then
// finishes with exactly the loss history and weights of a run that was never interrupted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../../src/runs/checkpoint.js';
import { readRun } from '../../src/runs/files.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'fmnist-kill-'));
after(() => rmSync(root, { recursive: true, force: true }));

const FLAGS = ['--framework', 'pytorch', '--model', 'cnn', '--epochs', '3', '--limit', '1500', '--test-limit', '300'];
const COMMON = ['--threads', '1', '--seed', '5', '--patience', '2'];

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Result> } {
  const script = "import('./src/cli/index.ts').then((m) => m.main(process.argv))";
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script, 'fmnist', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Result>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}
interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Resolves when `ready()` holds (polled); fails if the child ends first. */
async function until(ready: () => boolean, run: { done: Promise<Result> }, what: string): Promise<void> {
  let ended: Result | null = null;
  void run.done.then((r) => (ended = r));
  while (!ready()) {
    if (ended) assert.fail(`the run ended before ${what}: ${(ended as Result).stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const latest = (out: string) => {
  const p = join(out, 'checkpoint', 'latest');
  return existsSync(p) ? readFileSync(p, 'utf8').trim() : null;
};

const reference = (async () => {
  const out = join(root, 'reference');
  const r = await start(['train', ...FLAGS, ...COMMON, '--out', out]).done;
  assert.equal(r.code, 0, r.stderr);
  return { history: readRun(out).history, weights: readFileSync(join(out, 'model.pt')) };
})();

/** The folder holds a complete, checksummed checkpoint after `epochs` epochs (one of those allowed). */
function assertValid(out: string, allowed: number[]): number {
  const c = readCheckpoint(out); // verifies SHA256SUMS
  assert.ok(c, `${out}: no checkpoint`);
  assert.ok(allowed.includes(c.state.epoch), `checkpoint after epoch ${c.state.epoch}, expected one of ${allowed}`);
  assert.equal(c.state.history.length, c.state.epoch);
  readRun(out); // run.json and history.json still parse
  return c.state.epoch;
}

async function resumeAndCompare(out: string): Promise<void> {
  const r = await start(['train', '--resume', out]).done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /resuming from/);
  const ref = await reference;
  const run = readRun(out);
  assert.deepEqual(
    run.history.map(({ seconds: _s, rssMB: _r, ...h }) => h),
    ref.history.map(({ seconds: _s, rssMB: _r, ...h }) => h),
  );
  assert.ok(readFileSync(join(out, 'model.pt')).equals(ref.weights), 'the final weights equal the uninterrupted run');
  assert.ok(run.metrics, 'metrics.json written');
}

const table: string[] = [];
after(() => console.log(`kill -9 table:\n${table.join('\n')}`));

for (const [phase, k, allowed] of [
  ['files', 2, [1]], // half the new checkpoint written into its temp folder: the old one stands
  ['folder', 2, [1]], // the new folder is in place but `latest` still names the old one
  ['pointer', 2, [2]], // `latest` moved, the old checkpoint not yet removed
  ['files', 3, [2]], // the last epoch's checkpoint, before the test results are written
] as [string, number, number[]][]) {
  test(`kill -9 inside checkpoint write ${k} (${phase}): a complete checkpoint remains, and --resume matches`, async () => {
    const out = join(root, `kill-${phase}-${k}`);
    const run = start(['train', ...FLAGS, ...COMMON, '--out', out], { FMNIST_CHECKPOINT_PAUSE: `${phase}:${k}` });
    await until(() => existsSync(join(out, 'checkpoint', `.paused-${phase}`)), run, `the ${phase} pause`);
    run.child.kill('SIGKILL');
    assert.equal((await run.done).signal, 'SIGKILL');
    const epoch = assertValid(out, allowed);
    await resumeAndCompare(out);
    table.push(`  in write ${k} (${phase}) | checkpoint after epoch ${epoch} | resumed: identical`);
  });
}

test('kill -9 while training (twice, the second time during the resumed run), then --resume matches', async () => {
  const out = join(root, 'kill-train');
  const first = start(['train', ...FLAGS, ...COMMON, '--out', out]);
  await until(() => latest(out) === '0001', first, 'checkpoint 1');
  first.child.kill('SIGKILL');
  await first.done;
  const e1 = assertValid(out, [1, 2]);
  const second = start(['train', '--resume', out]);
  await until(() => latest(out) === '0002', second, 'checkpoint 2');
  second.child.kill('SIGKILL');
  await second.done;
  const e2 = assertValid(out, [2, 3]);
  await resumeAndCompare(out);
  table.push(`  while training, twice | checkpoints after epochs ${e1}, then ${e2} | resumed: identical`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} stops after the current batch, writes a checkpoint, says how to resume, and --resume matches`, async () => {
    const out = join(root, `signal-${signal}`);
    const run = start(['train', ...FLAGS, ...COMMON, '--out', out]);
    await until(() => latest(out) === '0001', run, 'checkpoint 1');
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.code, signal === 'SIGINT' ? 130 : 143, r.stderr);
    assert.match(r.stderr, new RegExp(`${signal}: stopped after the current batch; checkpoint written to .*--resume`));
    const c = readCheckpoint(out)!;
    assert.ok(c.state.epoch >= 1);
    await resumeAndCompare(out);
    const at = c.state.batch ? `epoch ${c.state.epoch + 1}, batch ${c.state.batch}` : `end of epoch ${c.state.epoch}`;
    table.push(`  ${signal} | checkpoint at ${at} | resumed: identical`);
  });
}
