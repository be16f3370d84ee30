// The bench's measurements that run inside fmnist, each in its own process (bench/run.ts starts them):
//
//   node --import tsx bench/measure.ts peak [--threads 2] [--seconds 1]
//     The peak FLOP/s of fmnist's fast paths at that thread count: a large matrix product through F.linear (which
//     native/linear.h sends to oneDNN as a 1x1 convolution, unless FMNIST_BLAS_LINEAR=1), a large 3x3 convolution
//     (libtorch's conv2d, oneDNN), and, for scale, torch.matmul on libtorch's BLAS. The best call of each counts.
//     Also says which BLAS and oneDNN libraries the process loaded.
//
//   node --import tsx bench/measure.ts infer --framework pytorch|keras --model <id> [--threads 2] [--seconds 3]
//     Images per second through the engine's predictProbs (inference mode, softmax included) at batch 1 and
//     batch 256, and the model's trainable parameters; Keras also counts the model's FLOPs (src/models/flops.ts).
//
//   node --import tsx bench/measure.ts onnx --model <id> [--threads 2] [--seconds 3]
//     The ONNX export (src/runs/onnx-export.ts) of a freshly built model: seconds to export it (graph, BatchNorm
//     folding, encoding, writing the file), then images per second at batch 1 and batch 256 through
//     onnxruntime-node (CPU, intra-op threads = --threads) and, in the same process on the same images, through
//     fmnist's own PyTorch predictor (libtorch, softmax included), so the two read as a ratio.
//
// Each prints one JSON line.
import { parseArgs } from 'node:util';
import { loadedBlas, loadedOneDnn } from './blas.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '1' },
    framework: { type: 'string' },
    model: { type: 'string' },
  },
});
const threads = Number(args.threads);
const seconds = Number(args.seconds);

/** Calls `fn` for at least `seconds` (and at least `minCalls` times) after `warmup` calls. */
async function timeCalls(fn: () => unknown, warmup: number, minCalls = 3) {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < minCalls || performance.now() - t0 < seconds * 1000) {
    const s = performance.now();
    await fn();
    times.push((performance.now() - s) / 1000);
  }
  return { best: Math.min(...times), total: (performance.now() - t0) / 1000, calls: times.length };
}

async function peak() {
  const torch = await import('../src/torch/index.js');
  const F = torch.nn.functional;
  torch.setNumThreads(threads);
  const gflops = async (flops: number, fn: () => void) => (flops / (await timeCalls(fn, 2)).best) * 1e-9;
  const run = (f: () => { dispose(): void }) => () => torch.noGrad(() => f().dispose());

  const [M, K, N] = [1024, 1024, 1024];
  const x = torch.rand([M, K]);
  const w = torch.rand([N, K]);
  const matmul = await gflops(
    2 * M * K * N,
    run(() => F.linear(x, w)),
  );

  // 3x3 convolution, padding 1: 2 · batch · H · W · 9 · inC · outC
  const [b, c, hw, oc] = [16, 128, 28, 256];
  const xi = torch.rand([b, c, hw, hw]);
  const wc = torch.rand([oc, c, 3, 3]);
  const conv = await gflops(
    2 * b * hw * hw * 9 * c * oc,
    run(() => F.conv2d(xi, wc, null, 1, 1)),
  );

  const s = 512;
  const a = torch.rand([s, s]);
  const blasMatmul = await gflops(
    2 * s * s * s,
    run(() => torch.matmul(a, a)),
  );
  [x, w, xi, wc, a].forEach((t) => t.dispose());
  return {
    libtorch: torch.libtorchVersion,
    threads: torch.getNumThreads(),
    blasLinear: Boolean(process.env.FMNIST_BLAS_LINEAR),
    blas: loadedBlas(),
    onednn: loadedOneDnn(),
    matmul: { what: `F.linear ${M}x${K} by ${K}x${N}`, gflops: matmul },
    conv: { what: `F.conv2d 3x3, batch ${b}, ${c} -> ${oc} channels, ${hw}x${hw}`, gflops: conv },
    blasMatmul: { what: `torch.matmul ${s}x${s} by ${s}x${s} (libtorch's BLAS)`, gflops: blasMatmul },
    peak: Math.max(matmul, conv),
  };
}

async function infer() {
  const { getModel, countFlops } = await import('../src/models/index.js');
  const { loadEngine } = await import('../src/engines/index.js');
  const spec = getModel(args.model ?? '');
  const engine = await loadEngine(args.framework ?? '');
  const { defaultConfig, engineOptions } = await import('../src/runs/config.js');
  // the engine's real options (an optimizer is built, though inference never steps it)
  const opts = { ...engineOptions(defaultConfig(engine.id, spec.id)), threads };
  const model = await engine.seeded(1, () => engine.build(spec, opts));
  let state = 12345;
  const x = Float32Array.from(
    { length: 256 * 784 },
    () => ((state = (state * 1103515245 + 12345) >>> 0) % 1000) / 1000,
  );
  const rate = async (batch: number, warmup: number) => {
    const t = await timeCalls(() => model.predictProbs(x, batch), warmup);
    return (t.calls * batch) / t.total;
  };
  const batch1 = await rate(1, 5);
  const batch256 = await rate(256, 1);
  const params = model.params;
  model.dispose();
  let flops;
  if (engine.id === 'keras') {
    const tfl = await import('@tensorflow/tfjs-layers');
    const k = spec.keras(tfl);
    flops = countFlops(k);
    k.dispose();
  }
  return { framework: engine.id, model: spec.id, params, batch1, batch256, flops };
}

async function onnx() {
  const torch = await import('../src/torch/index.js');
  const { getModel } = await import('../src/models/index.js');
  const { predictProbs } = await import('../src/engines/pytorch.js');
  const { moduleToOnnx } = await import('../src/runs/onnx-export.js');
  const { onnxSession } = await import('../src/runs/onnx-predictor.js');
  const { writeFileAtomic } = await import('../src/util/fsutil.js');
  const { mkdtempSync, rmSync, statSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  torch.setNumThreads(threads);
  torch.manualSeed(1);
  const spec = getModel(args.model ?? '');
  const model = spec.pytorch(torch).eval();
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-bench-onnx-'));
  try {
    const file = join(dir, 'model.onnx');
    const exported = await timeCalls(
      () => writeFileAtomic(file, moduleToOnnx(model, { model: spec.id, framework: 'pytorch' })),
      1,
    );
    const session = await onnxSession(file, threads);
    let state = 12345;
    const x = Float32Array.from(
      { length: 256 * 784 },
      () => ((state = (state * 1103515245 + 12345) >>> 0) % 1000) / 1000,
    );
    const rate = async (fn: (n: number) => unknown, batch: number, warmup: number) => {
      const t = await timeCalls(() => fn(batch), warmup);
      return (t.calls * batch) / t.total;
    };
    const ort = (n: number) => session.predict(x, n);
    const fmnist = (n: number) => predictProbs(model, x, n);
    // interleaved, fmnist first, so that the ratios compare neighbours in time
    const result = {
      model: spec.id,
      threads,
      exportSeconds: exported.best,
      bytes: statSync(file).size,
      fmnist: { batch1: await rate(fmnist, 1, 5), batch256: 0 },
      onnx: { batch1: await rate(ort, 1, 5), batch256: 0 },
    };
    result.fmnist.batch256 = await rate(fmnist, 256, 1);
    result.onnx.batch256 = await rate(ort, 256, 1);
    await session.session.release();
    return result;
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

const what = positionals[0];
if (what === 'peak') console.log(JSON.stringify(await peak()));
else if (what === 'infer') console.log(JSON.stringify(await infer()));
else if (what === 'onnx') console.log(JSON.stringify(await onnx()));
else throw new Error(`usage: measure.ts peak | infer --framework <f> --model <id> | onnx --model <id> (got '${what}')`);
