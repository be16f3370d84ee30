// `npm run bench`: speed checks, each read as a ratio against a reference measured in the same run (these machines
// are shared and noisy, so absolute times mean little).
//
//   npm run bench                         data loading, then every architecture in the registry
//   npm run bench -- models               one section: data | models | kernels (kernels runs only when named)
//   npm run bench -- --models cnn,dense   only these architectures
//   npm run bench -- --limit 12000        fewer training images per epoch (times scaled to 60,000)
//   npm run bench -- --json bench.json    also write the results as JSON
//   other flags: --threads 2, --infer-seconds 3, --peak-seconds 1, --layers (print each model's FLOPs per layer)
//
// "models" first measures the peak FLOP/s of a large oneDNN matrix product and convolution (bench/measure.ts
// peak), then, per architecture (src/models MODELS): its parameters and forward FLOPs per image
// (src/models/flops.ts); one training epoch in fmnist PyTorch, fmnist Keras, Python PyTorch with the system's
// BLAS and Python PyTorch with OpenBLAS (bench/pytorch_reference.py, given the registry's model.py), all at the same
// threads and batch size; the fmnist epochs as ratios to Python + OpenBLAS (the fair anchor: PyTorch as a pip user
// has it), against the goals; the model FLOP utilisation (training FLOPs per second over the peak); and inference
// images per second at batch 1 and 256 in each; and the ONNX export (bench/measure.ts onnx): its time, and
// onnxruntime-node's images per second at batch 1 and 256 as ratios to fmnist PyTorch's, measured in one process.
//
// "kernels" times one Keras training step on tfjs's 'torch' backend against the pure-JS 'cpu' one and profiles it
// (bench/tfjs-kernels.ts); the cpu backend is slow, so it is not in the default run.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MODELS, MODEL_IDS, type ModelFlops, type ModelSpec } from '../src/models/index.js';
import { defaultConfig } from '../src/runs/config.js';
import { RECIPES } from '../src/runs/recipes.js';
import { blasKind } from './blas.js';
import { trainingPrecision } from '../src/engines/pytorch.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    models: { type: 'string' },
    limit: { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
    json: { type: 'string' },
    'infer-seconds': { type: 'string', default: '3' },
    'peak-seconds': { type: 'string', default: '1' },
    layers: { type: 'boolean', default: false },
  },
});
const SECTIONS = ['data', 'models', 'kernels'];
for (const s of positionals) if (!SECTIONS.includes(s)) throw new Error(`unknown section '${s}' (known: ${SECTIONS})`);
const want = (s: string) => (positionals.length === 0 ? s !== 'kernels' : positionals.includes(s));
const threads = Number(args.threads);
const limit = Number(args.limit);
const inferSeconds = args['infer-seconds']!;
const images = limit || 60000;
const scale = 60000 / images;
const PY = '/usr/bin/python3';
const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
const openblasInstalled = existsSync(join(OPENBLAS_DIR, 'libblas.so.3'));

/** The goals, as ratios of fmnist's epoch time to Python + OpenBLAS's. */
const GOALS = { fmnistPytorch: 0.9, fmnistKeras: 1.0 } as const;

const models: ModelSpec[] = (() => {
  if (!args.models) return [...MODELS];
  const ids = args.models.split(',').map((s) => s.trim());
  for (const id of ids) if (!MODEL_IDS.includes(id)) throw new Error(`unknown model '${id}' (known: ${MODEL_IDS})`);
  return MODELS.filter((m) => ids.includes(m.id));
})();

/**
 * Every child's environment: the same thread count for OpenMP (libtorch) and for OpenBLAS's own pool, wherever
 * OpenBLAS is loaded (Python + OpenBLAS, or anything when it is the system's libblas.so.3).
 */
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(threads),
};

/** Runs a child that prints one JSON line last; throws with its stderr when it fails. */
function childJson<T>(what: string, cmd: string, argv: string[], opts: SpawnSyncOptions = {}): T {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: root, maxBuffer: 64 << 20, env: childEnv, ...opts });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}): ${String(r.stderr).trim()}`);
  return JSON.parse(String(r.stdout).trim().split('\n').pop()!) as T;
}

/** A measurement that may fail (a new model, a missing package): the error is reported, the bench goes on. */
function attempt<T>(what: string, fn: () => T): T | null {
  try {
    return fn();
  } catch (e) {
    console.error(`  ${what}: ${(e as Error).message}`);
    process.exitCode = 1;
    return null;
  }
}

// ---- Python ----------------------------------------------------------------------------------------------------

type PythonSide = 'python' | 'pythonOpenblas';
/** The environment each Python side runs in: OpenBLAS first on the library path for the OpenBLAS side. */
function pythonEnv(side: PythonSide): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...childEnv };
  if (side === 'pythonOpenblas')
    env.LD_LIBRARY_PATH = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}
function python<T>(side: PythonSide, what: string, argv: string[]): T {
  return childJson<T>(what, PY, [join(here, 'pytorch_reference.py'), '--threads', String(threads), ...argv], {
    env: pythonEnv(side),
  });
}
interface PythonProbe {
  torch: string;
  blas: string[];
}

// ---- fmnist ----------------------------------------------------------------------------------------------------

type FmnistSide = 'fmnistPytorch' | 'fmnistKeras';
const FRAMEWORK: Record<FmnistSide, string> = { fmnistPytorch: 'pytorch', fmnistKeras: 'keras' };

/** One epoch through the product's own training loop, in a fresh process (as a user would run it). */
function fmnistEpoch(side: FmnistSide, spec: ModelSpec): number {
  const out = mkdtempSync(join(tmpdir(), 'fmnist-bench-'));
  const cfg = defaultConfig('pytorch', spec.id);
  try {
    // the seed recipe (Adam, no augmentation) at the model's batch size: the same work as the Python reference
    const overrides = {
      framework: FRAMEWORK[side],
      model: spec.id,
      recipe: 'seed',
      epochs: 1,
      valSplit: 0,
      threads,
      batchSize: cfg.batchSize,
      lr: RECIPES.seed.lr,
      precision: 'float32', // the Python reference trains in float32; bench/layout.ts times bfloat16 apart
      limit,
      testLimit: 1000,
      out,
    };
    const code = `
      const { makeConfig } = await import('./src/runs/config.ts');
      const { runTraining } = await import('./src/cli/commands/train.ts');
      const r = await runTraining(makeConfig(${JSON.stringify(overrides)}), () => {});
      console.log(JSON.stringify({ seconds: r.history[0].seconds }));`;
    return childJson<{ seconds: number }>(`fmnist ${FRAMEWORK[side]} ${spec.id} epoch`, process.execPath, [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      code,
    ]).seconds;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

interface Inference {
  batch1: number;
  batch256: number;
}
interface FmnistInference extends Inference {
  params: number;
  flops?: ModelFlops;
}
function fmnistInfer(side: FmnistSide, spec: ModelSpec): FmnistInference {
  return childJson<FmnistInference>(`fmnist ${FRAMEWORK[side]} ${spec.id} inference`, process.execPath, [
    '--import',
    'tsx',
    join(here, 'measure.ts'),
    'infer',
    '--framework',
    FRAMEWORK[side],
    '--model',
    spec.id,
    '--threads',
    String(threads),
    '--seconds',
    inferSeconds,
  ]);
}

interface OnnxBench {
  exportSeconds: number;
  bytes: number;
  fmnist: Inference;
  onnx: Inference;
}
function onnxBench(spec: ModelSpec): OnnxBench {
  return childJson<OnnxBench>(`ONNX ${spec.id}`, process.execPath, [
    '--import',
    'tsx',
    join(here, 'measure.ts'),
    'onnx',
    '--model',
    spec.id,
    '--threads',
    String(threads),
    '--seconds',
    inferSeconds,
  ]);
}

interface Peak {
  libtorch: string;
  threads: number;
  blasLinear: boolean;
  blas: string[];
  onednn: string[];
  matmul: { what: string; gflops: number };
  conv: { what: string; gflops: number };
  blasMatmul: { what: string; gflops: number };
  peak: number;
}

// ---- formatting ------------------------------------------------------------------------------------------------

const fixed = (x: number | null | undefined, digits: number) => (x == null ? '-' : x.toFixed(digits));
const count = (x: number | null | undefined) => (x == null ? '-' : Math.round(x).toLocaleString('en-US'));
const mflop = (x: number) => (x / 1e6).toFixed(x < 1e7 ? 3 : 2);

function printTable(head: string[], rows: string[][], indent = '  ') {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    indent + r.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('   ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

function cpuName(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // not Linux: fall through
  }
  return 'unknown CPU';
}

const describeBlas = (paths: readonly string[]) => `${blasKind(paths)} (${paths.join(', ') || 'none mapped'})`;

// ---- the sections ----------------------------------------------------------------------------------------------

type Side = FmnistSide | PythonSide;
const SIDES: Side[] = ['fmnistPytorch', 'fmnistKeras', 'python', 'pythonOpenblas'];

interface ModelResult {
  id: string;
  label: string;
  params: number | null;
  batchSize: number;
  flops: { forwardMatmul: number; forwardElementwise: number; training: number; layers: ModelFlops['layers'] } | null;
  /** Seconds per 60,000-image epoch (scaled from --limit). null: not measured (failed, or not installed). */
  epochSeconds: Record<Side, number | null>;
  /** fmnist's epoch time over Python + OpenBLAS's (the goals' ratio), and over Python with the system's BLAS. */
  ratioToPythonOpenblas: Record<FmnistSide, number | null>;
  ratioToPython: Record<FmnistSide, number | null>;
  goalMet: Record<FmnistSide, boolean | null>;
  /** Model FLOP utilisation: training FLOPs per second over the peak. */
  mfu: Record<Side, number | null>;
  /** Images per second in inference mode. */
  inference: Record<Side, Inference | null>;
  /** Seconds the training augmentation takes per 60,000 images, and that over the fmnist PyTorch epoch. */
  augmentSeconds: number | null;
  augmentShare: number | null;
  /** fmnist PyTorch training step in NCHW and channels_last (bench/layout.ts), and the layout the registry chose. */
  layout: { nchwMs: number; channelsLastMs: number; speedup: number; chosen: string } | null;
  /** The same step in float32 and under bfloat16 autocast (model's layout), and what `--precision auto` picks here. */
  precision: { float32Ms: number; bfloat16Ms: number; speedup: number; auto: string } | null;
  /** The ONNX export's seconds and onnxruntime-node's inference, with fmnist PyTorch's from the same process. */
  onnx: (OnnxBench & { ratio: Inference }) | null;
}

const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  cpu: cpuName(),
  cores: availableParallelism(),
  threads,
  imagesPerEpoch: images,
  scaledTo: 60000,
};

if (want('data')) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'data.ts')], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exitCode = 1;
}

if (want('models')) {
  // Which BLAS each side loads, and the peak.
  const probes: Record<PythonSide, PythonProbe | null> = { python: null, pythonOpenblas: null };
  probes.python = attempt('Python PyTorch', () => python<PythonProbe>('python', 'python probe', ['--probe']));
  if (openblasInstalled)
    probes.pythonOpenblas = attempt('Python + OpenBLAS', () =>
      python<PythonProbe>('pythonOpenblas', 'python probe', ['--probe']),
    );
  const peak = attempt('peak', () =>
    childJson<Peak>('peak', process.execPath, [
      '--import',
      'tsx',
      join(here, 'measure.ts'),
      'peak',
      '--threads',
      String(threads),
      '--seconds',
      args['peak-seconds']!,
    ]),
  );
  const batchSizes = [...new Set(models.map((m) => defaultConfig('pytorch', m.id).batchSize))];
  const notInstalled = `not installed (no ${OPENBLAS_DIR}: Debian's libopenblas0-pthread, see scripts/setup.sh --bench)`;
  const blas = {
    fmnist: peak
      ? `libtorch ${peak.libtorch}: Linear and MatMul through oneDNN (${peak.onednn.join(', ') || 'not mapped'}; ` +
        `native/linear.h${peak.blasLinear ? ', but FMNIST_BLAS_LINEAR is set: BLAS' : ''}), convolutions through ` +
        `libtorch (oneDNN), the rest of BLAS: ${describeBlas(peak.blas)}`
      : 'unknown (the peak measurement failed)',
    python: probes.python ? `torch ${probes.python.torch}, ${describeBlas(probes.python.blas)}` : 'not available',
    pythonOpenblas: !openblasInstalled
      ? notInstalled
      : probes.pythonOpenblas
        ? `torch ${probes.pythonOpenblas.torch}, ${describeBlas(probes.pythonOpenblas.blas)}, LD_LIBRARY_PATH=${OPENBLAS_DIR}`
        : 'failed',
  };
  const pythonLabel = probes.python ? `Python, ${blasKind(probes.python.blas)}` : 'Python';
  const LABELS: Record<Side, string> = {
    fmnistPytorch: 'fmnist PyTorch',
    fmnistKeras: 'fmnist Keras',
    python: pythonLabel,
    pythonOpenblas: 'Python + OpenBLAS',
  };
  if (probes.pythonOpenblas && blasKind(probes.pythonOpenblas.blas) !== 'OpenBLAS')
    console.error(`  warning: Python under LD_LIBRARY_PATH=${OPENBLAS_DIR} loaded ${blas.pythonOpenblas}`);
  if (probes.python && blasKind(probes.python.blas) === 'OpenBLAS')
    console.error("  warning: the system's libblas.so.3 is OpenBLAS: fmnist's BLAS calls use it too");

  console.log(
    `\nfmnist bench: ${report.cpu} (${report.cores} cores), ${threads} threads, batch ${batchSizes.join('/')}, ` +
      `one epoch of ${images.toLocaleString('en-US')} images` +
      (limit ? ' (times scaled to 60,000: one-off first-step costs are scaled up with the rest)' : ''),
  );
  console.log(`  BLAS, fmnist:            ${blas.fmnist}`);
  console.log(`  BLAS, Python (${PY}): ${blas.python}`);
  console.log(`  BLAS, Python + OpenBLAS: ${blas.pythonOpenblas}`);
  if (peak)
    console.log(
      `  peak at ${peak.threads} threads: ${fixed(peak.matmul.gflops, 1)} GFLOP/s matmul (${peak.matmul.what}), ` +
        `${fixed(peak.conv.gflops, 1)} GFLOP/s conv (${peak.conv.what}); MFU is over the larger, ` +
        `${fixed(peak.peak, 1)} GFLOP/s. (libtorch's BLAS matmul: ${fixed(peak.blasMatmul.gflops, 1)} GFLOP/s.)`,
    );
  Object.assign(report, { batchSizes, python: PY, blas, peak, goals: GOALS });

  const results: ModelResult[] = [];
  for (const spec of models) {
    const cfg = defaultConfig('pytorch', spec.id);
    console.log(`\n${spec.id} (${spec.label}): ${spec.description}`);
    const none = () => Object.fromEntries(SIDES.map((s) => [s, null])) as Record<Side, null>;
    const epochSeconds: Record<Side, number | null> = none();
    const inference: Record<Side, Inference | null> = none();
    const modelPy = fileURLToPath(spec.python);
    const pyEpoch = (side: PythonSide) =>
      python<{ seconds: number }>(side, `python ${spec.id} epoch`, [
        '--model-py',
        modelPy,
        '--batch-size',
        String(cfg.batchSize),
        '--lr',
        String(RECIPES.seed.lr),
        ...(limit ? ['--limit', String(limit)] : []),
      ]).seconds;
    const pyInfer = (side: PythonSide) =>
      python<Inference>(side, `python ${spec.id} inference`, [
        '--model-py',
        modelPy,
        '--infer',
        '--seconds',
        inferSeconds,
      ]);

    // The anchor first, then fmnist, so the ratios compare neighbours in time.
    const order: Side[] = ['pythonOpenblas', 'fmnistPytorch', 'fmnistKeras', 'python'];
    let params: number | null = null;
    let flops: ModelFlops | undefined;
    for (const side of order) {
      if (side === 'python' || side === 'pythonOpenblas') {
        if (!probes[side]) continue;
        epochSeconds[side] = attempt(`${LABELS[side]} epoch`, () => pyEpoch(side) * scale);
        const inf = attempt(`${LABELS[side]} inference`, () => pyInfer(side));
        inference[side] = inf && { batch1: inf.batch1, batch256: inf.batch256 };
      } else {
        epochSeconds[side] = attempt(`${LABELS[side]} epoch`, () => fmnistEpoch(side, spec) * scale);
        const inf = attempt(`${LABELS[side]} inference`, () => fmnistInfer(side, spec));
        if (inf) {
          inference[side] = { batch1: inf.batch1, batch256: inf.batch256 };
          params ??= inf.params;
          flops ??= inf.flops;
        }
      }
    }

    const ratio = (a: number | null, b: number | null) => (a != null && b != null ? a / b : null);
    const fm = ['fmnistPytorch', 'fmnistKeras'] as const;
    const ratioToPythonOpenblas = Object.fromEntries(
      fm.map((s) => [s, ratio(epochSeconds[s], epochSeconds.pythonOpenblas)]),
    ) as Record<FmnistSide, number | null>;
    const ratioToPython = Object.fromEntries(fm.map((s) => [s, ratio(epochSeconds[s], epochSeconds.python)])) as Record<
      FmnistSide,
      number | null
    >;
    const goalMet = Object.fromEntries(
      fm.map((s) => [s, ratioToPythonOpenblas[s] == null ? null : ratioToPythonOpenblas[s]! <= GOALS[s]]),
    ) as Record<FmnistSide, boolean | null>;
    // MFU: (training FLOPs per image · 60,000 images / seconds per 60,000-image epoch) / peak.
    const mfu = Object.fromEntries(
      SIDES.map((s) => [
        s,
        flops && peak && epochSeconds[s] ? (flops.training * 60000) / epochSeconds[s]! / (peak.peak * 1e9) : null,
      ]),
    ) as Record<Side, number | null>;

    // the training augmentation's cost, every transform on, at this model's batch size
    const augment = attempt('augmentation', () =>
      childJson<{ seconds: number }>('augmentation', process.execPath, [
        '--import',
        'tsx',
        join(here, 'augment.ts'),
        '--batch-size',
        String(cfg.batchSize),
        '--threads',
        String(threads),
      ]),
    );
    // the PyTorch side's weight layout: NCHW against channels_last, alternating, median of two each
    const layout = attempt('layout', () => {
      const ms: Record<'contiguousFormat' | 'channelsLast', number[]> = { contiguousFormat: [], channelsLast: [] };
      for (let round = 0; round < 2; round++)
        for (const f of ['contiguousFormat', 'channelsLast'] as const)
          ms[f].push(
            childJson<{ msPerStep: number }>(
              `layout ${f}`,
              process.execPath,
              [
                '--import',
                'tsx',
                join(here, 'layout.ts'),
                '--model',
                spec.id,
                '--batch-size',
                String(cfg.batchSize),
              ].concat(['--threads', String(threads)]),
              { env: { ...childEnv, FMNIST_MEMORY_FORMAT: f } },
            ).msPerStep,
          );
      const nchw = Math.min(...ms.contiguousFormat);
      const nhwc = Math.min(...ms.channelsLast);
      return {
        nchwMs: nchw,
        channelsLastMs: nhwc,
        speedup: nchw / nhwc,
        chosen: spec.memoryFormat ?? 'contiguousFormat',
      };
    });
    // the training precision: float32 against bfloat16 autocast, alternating, best of two each
    const precision = attempt('precision', () => {
      const ms: Record<'float32' | 'bfloat16', number[]> = { float32: [], bfloat16: [] };
      for (let round = 0; round < 2; round++)
        for (const p of ['float32', 'bfloat16'] as const)
          ms[p].push(
            childJson<{ msPerStep: number }>(
              `precision ${p}`,
              process.execPath,
              [
                '--import',
                'tsx',
                join(here, 'layout.ts'),
                '--model',
                spec.id,
                '--batch-size',
                String(cfg.batchSize),
              ].concat(['--threads', String(threads), '--precision', p]),
              { env: childEnv },
            ).msPerStep,
          );
      const f32 = Math.min(...ms.float32);
      const b16 = Math.min(...ms.bfloat16);
      return { float32Ms: f32, bfloat16Ms: b16, speedup: f32 / b16, auto: trainingPrecision(spec, 'auto') };
    });
    const augmentShare = augment && epochSeconds.fmnistPytorch ? augment.seconds / epochSeconds.fmnistPytorch : null;
    const onnxRun = attempt('ONNX', () => onnxBench(spec));
    const onnx = onnxRun && {
      ...onnxRun,
      ratio: {
        batch1: onnxRun.onnx.batch1 / onnxRun.fmnist.batch1,
        batch256: onnxRun.onnx.batch256 / onnxRun.fmnist.batch256,
      },
    };

    const result: ModelResult = {
      id: spec.id,
      label: spec.label,
      params,
      batchSize: cfg.batchSize,
      flops: flops
        ? {
            forwardMatmul: flops.forwardMatmul,
            forwardElementwise: flops.forwardElementwise,
            training: flops.training,
            layers: flops.layers,
          }
        : null,
      epochSeconds,
      ratioToPythonOpenblas,
      ratioToPython,
      goalMet,
      mfu,
      inference,
      augmentSeconds: augment?.seconds ?? null,
      augmentShare,
      layout,
      precision,
      onnx,
    };
    results.push(result);
    if (layout)
      console.log(
        `  layout (PyTorch, batch ${cfg.batchSize}): ${layout.nchwMs.toFixed(1)} ms/step NCHW, ` +
          `${layout.channelsLastMs.toFixed(1)} channels_last: ${layout.speedup.toFixed(2)}x; the model uses ${layout.chosen}`,
      );
    if (precision)
      console.log(
        `  precision (PyTorch, batch ${cfg.batchSize}): ${precision.float32Ms.toFixed(1)} ms/step float32, ` +
          `${precision.bfloat16Ms.toFixed(1)} bfloat16 autocast: ${precision.speedup.toFixed(2)}x; --precision auto picks ${precision.auto} here`,
      );
    if (augment)
      console.log(
        `  augmentation (crop 2 px, flip, erase p 0.5; batch ${cfg.batchSize}): ${augment.seconds.toFixed(2)} s per 60,000 images` +
          (augmentShare == null
            ? ''
            : ` = ${(augmentShare * 100).toFixed(1)}% of the fmnist PyTorch epoch (goal < 5%)`),
      );

    console.log(
      `  ${count(params)} parameters; forward ${flops ? mflop(flops.forwardMatmul) : '-'} MFLOP/image in ` +
        `convolutions and matrix products (+${flops ? mflop(flops.forwardElementwise) : '-'} elementwise); ` +
        `a training step ≈ 3x: ${flops ? ((flops.training * 60000) / 1e12).toFixed(3) : '-'} TFLOP per epoch`,
    );
    if (flops?.unknown.length) console.log(`  (FLOPs not counted for: ${flops.unknown.join(', ')})`);
    if (onnx)
      console.log(
        `  ONNX: export ${(onnx.exportSeconds * 1000).toFixed(1)} ms (${count(onnx.bytes)} bytes); onnxruntime-node ` +
          `batch 1 ${count(onnx.onnx.batch1)} img/s = ${onnx.ratio.batch1.toFixed(2)}x fmnist PyTorch's ` +
          `${count(onnx.fmnist.batch1)}, batch 256 ${count(onnx.onnx.batch256)} img/s = ` +
          `${onnx.ratio.batch256.toFixed(2)}x ${count(onnx.fmnist.batch256)} (same process)`,
      );
    const verdict = (s: Side) => {
      if (s !== 'fmnistPytorch' && s !== 'fmnistKeras') return '';
      const met = goalMet[s];
      const goal = `(goal <= ${GOALS[s].toFixed(1)}x)`;
      return met == null ? goal : `${met ? 'ok' : 'MISSED'} ${goal}`;
    };
    const vsRef = (s: Side, r: Record<FmnistSide, number | null>) =>
      s === 'fmnistPytorch' || s === 'fmnistKeras' ? (r[s] == null ? '-' : `${r[s]!.toFixed(3)}x`) : '';
    printTable(
      [
        'implementation',
        'epoch s',
        'vs Python+OpenBLAS',
        'goal',
        `vs ${pythonLabel}`,
        'MFU',
        'infer b1 img/s',
        'infer b256 img/s',
      ],
      SIDES.map((s) => {
        if (s === 'pythonOpenblas' && !openblasInstalled)
          return [LABELS[s], 'not installed', '', '', '', '', 'not installed', 'not installed'];
        return [
          LABELS[s],
          fixed(epochSeconds[s], 2),
          vsRef(s, ratioToPythonOpenblas),
          verdict(s),
          vsRef(s, ratioToPython),
          mfu[s] == null ? '-' : `${(100 * mfu[s]!).toFixed(1)}%`,
          count(inference[s]?.batch1),
          count(inference[s]?.batch256),
        ];
      }),
    );
    if (args.layers && flops)
      printTable(
        ['layer', 'class', 'output', 'params', 'MFLOP', 'elementwise MFLOP'],
        flops.layers.map((l) => [
          l.name,
          l.className,
          l.outputShape.join('x'),
          count(l.params),
          mflop(l.matmul),
          mflop(l.elementwise),
        ]),
        '    ',
      );
  }
  report.models = results;
}

if (want('kernels')) {
  for (const spec of models) {
    console.log(`\ntfjs 'torch' vs tfjs 'cpu', one ${spec.id} training step (cpu timed on batch 4, scaled):`);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(here, 'tfjs-kernels.ts'), '--model', spec.id, '--threads', String(threads)].concat([
        '--steps',
        '20',
        '--top',
        '8',
      ]),
      { stdio: 'inherit', cwd: root, env: childEnv },
    );
    if (r.status !== 0) process.exitCode = 1;
  }
}

if (args.json) {
  writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  console.log(`\nwrote ${args.json}`);
}
