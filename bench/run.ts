// `npm run bench`: speed checks, each printed as a ratio against a reference measured in the
// same run (these machines are shared and noisy, so absolute times mean little).
//   npm run bench                  everything
//   npm run bench -- pytorch       one section: data | pytorch | keras
//   npm run bench -- --limit 12000 fewer training images per epoch (scaled to 60,000 in the report)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string, def: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const sections = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const want = (s: string) => sections.length === 0 || sections.includes(s);
const threads = Number(flag('--threads', '2'));
const limit = Number(flag('--limit', '0'));
const PY = '/usr/bin/python3';

function pythonEpoch(model: string): number {
  const r = spawnSync(
    PY,
    [
      join(here, 'pytorch_reference.py'),
      '--model',
      model,
      '--threads',
      String(threads),
      ...(limit ? ['--limit', String(limit)] : []),
    ],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`python reference failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).seconds;
}

/** One epoch through the product's own training loop, in a fresh process (as a user would run it). */
function fmnistEpoch(framework: string, model: string): number {
  const out = mkdtempSync(join(tmpdir(), 'fmnist-bench-'));
  try {
    const code = `
      const { makeConfig } = await import('./src/runs/config.ts');
      const { runTraining } = await import('./src/cli/commands/train.ts');
      const r = await runTraining(makeConfig({ framework: '${framework}', model: '${model}', epochs: 1, valSplit: 0, threads: ${threads}, limit: ${limit}, testLimit: 1000, out: ${JSON.stringify(out)} }), () => {});
      console.log(JSON.stringify({ seconds: r.history[0].seconds }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8',
      cwd: join(here, '..'),
    });
    if (r.status !== 0) throw new Error(`fmnist ${framework} ${model} epoch failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!).seconds;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const rows: string[][] = [];
function report(what: string, seconds: number, ref: number, refName: string, goal?: number) {
  const ratio = seconds / ref;
  const verdict = goal === undefined ? '' : ratio <= goal ? `ok (goal <= ${goal}x)` : `MISSED (goal <= ${goal}x)`;
  rows.push([what, `${seconds.toFixed(2)} s`, `${ref.toFixed(2)} s ${refName}`, `${ratio.toFixed(3)}x`, verdict]);
  console.log(`${what}: ${seconds.toFixed(2)} s vs ${ref.toFixed(2)} s (${refName}) = ${ratio.toFixed(3)}x ${verdict}`);
}

const scale = limit ? 60000 / limit : 1;
if (want('data')) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'data.ts')], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
if (want('pytorch')) {
  console.log(
    `\nPyTorch implementation vs Python PyTorch (${PY}), one epoch of ${limit || 60000} images, batch 64, ${threads} threads`,
  );
  for (const model of ['cnn', 'dense']) {
    const py = pythonEpoch(model) * scale;
    const ts = fmnistEpoch('pytorch', model) * scale;
    report(`pytorch ${model} epoch`, ts, py, 'python', model === 'cnn' ? 1.05 : undefined);
  }
}
if (want('keras')) {
  console.log(
    `\nKeras implementation (tfjs on the torch backend) vs Python PyTorch, one epoch, batch 64, ${threads} threads`,
  );
  for (const model of ['cnn', 'dense']) {
    const py = pythonEpoch(model) * scale;
    const ts = fmnistEpoch('keras', model) * scale;
    const pt = fmnistEpoch('pytorch', model) * scale;
    report(`keras ${model} epoch`, ts, py, 'python', model === 'cnn' ? 1.5 : undefined);
    report(`keras ${model} epoch`, ts, pt, 'fmnist pytorch');
  }
  // The pure-JS cpu backend is far too slow for an epoch: time a few small-batch steps, scale to batch 64.
  for (const model of ['cnn', 'dense']) {
    console.log(`\ntfjs 'torch' vs tfjs 'cpu', one ${model} training step (cpu timed on batch 4, scaled):`);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(here, 'tfjs-kernels.ts'),
        '--model',
        model,
        '--threads',
        String(threads),
        '--steps',
        '20',
        '--top',
        '8',
      ],
      { stdio: 'inherit', cwd: join(here, '..') },
    );
    if (r.status !== 0) process.exitCode = 1;
  }
}
if (rows.length) {
  console.log('\nsummary');
  for (const r of rows) console.log(`  ${r.join('  |  ')}`);
}
