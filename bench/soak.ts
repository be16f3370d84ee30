// Soak test: does memory stay flat over a long training run and a long stretch of serving? Both run in this
// process, so one RSS covers them; a timer samples RSS, the live tensors (src/torch liveTensors(), and
// tf.memory().numTensors for Keras) and the epoch every --sample-s seconds. The report fits a least-squares slope
// to the samples after a warm-up and says "flat" or "GROWING" against bounds that it prints.
//
//   node --import tsx bench/soak.ts [train] [serve] [flags]      (both phases when none is named)
//   node --import tsx bench/soak.ts --quick                      a short check that the script works
//   node --import tsx bench/soak.ts --help
//
// Long (the defaults take about 45 minutes on 2 vCPUs, where a resnet epoch takes about 100 s), so it is not part of
// `npm run bench`.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TopLevelSpec } from 'vega-lite';
import { BatchIterator, locateData, readIdxImages } from '../src/data/index.js';
import { FRAMEWORKS } from '../src/engines/index.js';
import { MODEL_IDS } from '../src/models/index.js';
import { makeConfig } from '../src/runs/config.js';
import { readRun } from '../src/runs/files.js';
import * as torch from '../src/torch/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../src/util/fsutil.js';
import {
  LatencyHistogram,
  seriesStats,
  warmWindow,
  type Bounds,
  type Sample,
  type SeriesStats,
  type Window,
} from './soak-stats.js';

const USAGE = `usage: node --import tsx bench/soak.ts [train] [serve] [flags]

Phases (both when none is named):
  train   trains --model with --framework through the real training loop (src/train/loop.ts), in this process
  serve   serves the run just trained (or --model-dir DIR) in this process, and sends it single-image JSON
          predictions from --concurrency keep-alive connections for --minutes

Flags:
  --epochs N          training epochs (default 20; early stopping is off)
  --limit N           training images, 0 = all 60,000 (default 0)
  --model ID          architecture: ${MODEL_IDS.join(', ')} (default resnet)
  --framework NAME    ${FRAMEWORKS.join(' | ')} (default pytorch)
  --threads N         libtorch threads for training and serving (default 2)
  --sample-s X        seconds between samples (default 5; training also samples at every epoch's end)
  --minutes X         minutes of serving (default 10)
  --concurrency N     requests in flight while serving (default 32)
  --model-dir DIR     serve this run folder instead of the one trained here (needed for 'serve' alone)
  --train-out DIR     keep the training run in DIR (default: a temporary folder, removed at the end)
  --out FILE          the JSON report (default bench/results/soak-<date>.json); a plot of RSS and tensors over time
                      goes beside it (.svg and .png)
  --rss-bound X       RSS is flat when |slope| < X MB/min (default 1)
  --tensor-bound X    a tensor count is flat when |slope| <= X per minute (default 0: not one tensor more)
  --quick             a check that the script works: dense, --limit 2000, 3 epochs, 20 s of serving, a sample a
                      second (flags given explicitly still win); too short for the verdicts to mean much
  --verbose           print the stack of an error
  -h, --help          this text

The slopes are fitted to the samples after the warm-up: training, those after epoch 1 up to the last training step
(the final test-set pass is left out); serving, those after the first 10% of the time. The exit status is 1 when a
verdict is GROWING (not in --quick; 'falling' is no failure) or a request failed, 2 for a bad flag.`;

const here = dirname(fileURLToPath(import.meta.url));
const log = (s: string) => process.stderr.write(`${s}\n`);

class UsageError extends Error {}

interface Options {
  phases: ('train' | 'serve')[];
  epochs: number;
  limit: number;
  testLimit: number;
  model: string;
  framework: string;
  threads: number;
  sampleS: number;
  minutes: number;
  concurrency: number;
  modelDir: string | null;
  trainOut: string | null;
  out: string;
  bounds: Bounds;
  quick: boolean;
}

function options(argv: string[]): Options | null {
  const { values: a, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      quick: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      epochs: { type: 'string' },
      limit: { type: 'string' },
      model: { type: 'string' },
      framework: { type: 'string' },
      threads: { type: 'string', default: '2' },
      'sample-s': { type: 'string' },
      minutes: { type: 'string' },
      concurrency: { type: 'string', default: '32' },
      'model-dir': { type: 'string' },
      'train-out': { type: 'string' },
      out: { type: 'string' },
      'rss-bound': { type: 'string', default: '1' },
      'tensor-bound': { type: 'string', default: '0' },
    },
  });
  if (a.help) return null;
  const q = a.quick;
  const num = (flag: string, v: string | undefined, fallback: number, integer: boolean, min: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!(integer ? Number.isInteger(n) : Number.isFinite(n)) || n < min)
      throw new UsageError(`--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got '${v}')`);
    return n;
  };
  for (const p of positionals)
    if (p !== 'train' && p !== 'serve') throw new UsageError(`unknown phase '${p}' (known: train, serve)`);
  const phases = positionals.length ? (['train', 'serve'] as const).filter((p) => positionals.includes(p)) : [];
  const model = a.model ?? (q ? 'dense' : 'resnet');
  if (!MODEL_IDS.includes(model)) throw new UsageError(`--model ${model}: unknown (known: ${MODEL_IDS.join(', ')})`);
  const framework = a.framework ?? 'pytorch';
  if (!FRAMEWORKS.includes(framework as never))
    throw new UsageError(`--framework ${framework}: unknown (known: ${FRAMEWORKS.join(', ')})`);
  const o: Options = {
    phases: phases.length ? [...phases] : ['train', 'serve'],
    epochs: num('epochs', a.epochs, q ? 3 : 20, true, 1),
    limit: num('limit', a.limit, q ? 2000 : 0, true, 0),
    testLimit: q ? 1000 : 0,
    model,
    framework,
    threads: num('threads', a.threads, 2, true, 1),
    sampleS: num('sample-s', a['sample-s'], q ? 1 : 5, false, 0.05),
    minutes: num('minutes', a.minutes, q ? 1 / 3 : 10, false, 0.01),
    concurrency: num('concurrency', a.concurrency, 32, true, 1),
    modelDir: a['model-dir'] ?? null,
    trainOut: a['train-out'] ?? null,
    out: a.out ?? join(here, 'results', `soak-${new Date().toISOString().slice(0, 19).replaceAll(':', '-')}.json`),
    bounds: {
      rssMBPerMinute: num('rss-bound', a['rss-bound'], 1, false, 0),
      tensorsPerMinute: num('tensor-bound', a['tensor-bound'], 0, false, 0),
    },
    quick: q,
  };
  if (o.phases.includes('serve') && !o.phases.includes('train') && !o.modelDir)
    throw new UsageError("'serve' alone needs --model-dir DIR (a run folder from `fmnist train`)");
  if (o.phases.length === 2 && o.modelDir) log(`note: serving ${o.modelDir} (--model-dir), not the run trained here`);
  return o;
}

// ---- sampling --------------------------------------------------------------------------------------------------

type TfCount = (() => number) | null;

/**
 * tf.memory().numTensors, for a phase that uses tfjs: the engine's own tfjs-core (one copy in node_modules), on the
 * backend the Keras engine sets (tfjs has no count before a backend is set, and the first sample comes first).
 */
async function tfCounter(uses: boolean): Promise<TfCount> {
  if (!uses) return null;
  const tf = await import('@tensorflow/tfjs-core');
  await (await import('../src/tfjs-backend/index.js')).useTorchBackend();
  return () => tf.memory().numTensors;
}

/** Samples on a timer, and when asked (`take(true)`); a sample closer than 0.9 intervals to the last is skipped. */
class Sampler {
  readonly samples: Sample[] = [];
  private readonly t0 = performance.now();
  private last = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly intervalMs: number,
    private readonly tf: TfCount,
    private readonly extra: () => Partial<Sample>,
  ) {}
  seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }
  take(force = false): void {
    const now = performance.now();
    if (!force && now - this.last < 0.9 * this.intervalMs) return;
    this.last = now;
    this.samples.push({
      t: (now - this.t0) / 1000,
      rssMB: process.memoryUsage.rss() / 2 ** 20,
      torchTensors: torch.liveTensors(),
      tfTensors: this.tf ? this.tf() : null,
      ...this.extra(),
    });
  }
  start(): void {
    this.take(true);
    this.timer = setInterval(() => this.take(), this.intervalMs);
  }
  stop(): Sample[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.take(true);
    return this.samples;
  }
}

interface PhaseReport {
  phase: 'train' | 'serve';
  seconds: number;
  samples: Sample[];
  window: { rule: string; samples: number; fromSeconds: number | null; toSeconds: number | null };
  rss: SeriesStats;
  torchTensors: SeriesStats;
  tfTensors: SeriesStats | null;
}

function analyse(phase: 'train' | 'serve', samples: Sample[], w: Window, bounds: Bounds, seconds: number) {
  const perEpoch = phase === 'train';
  const ws = w.samples;
  return {
    phase,
    seconds,
    samples,
    window: {
      rule: w.rule,
      samples: ws.length,
      fromSeconds: ws.length ? ws[0].t : null,
      toSeconds: ws.length ? ws[ws.length - 1].t : null,
    },
    rss: seriesStats(samples, ws, (s) => s.rssMB, 'rss', bounds, perEpoch),
    torchTensors: seriesStats(samples, ws, (s) => s.torchTensors, 'tensors', bounds, perEpoch),
    tfTensors:
      samples[0]?.tfTensors == null ? null : seriesStats(samples, ws, (s) => s.tfTensors!, 'tensors', bounds, perEpoch),
  } satisfies PhaseReport;
}

// ---- training --------------------------------------------------------------------------------------------------

async function trainPhase(o: Options, out: string) {
  const { prepareData } = await import('../src/train/prepare.js');
  const { train } = await import('../src/train/loop.js');
  // patience 0: early stopping would end the soak before its epochs
  const cfg = makeConfig({
    framework: o.framework,
    model: o.model,
    epochs: o.epochs,
    limit: o.limit,
    testLimit: o.testLimit,
    threads: o.threads,
    patience: 0,
    out,
  });
  mkdirSync(out, { recursive: true });
  const data = await prepareData(cfg);
  const numBatches = new BatchIterator(data.train.count, cfg.batchSize, cfg.seed).numBatches;
  log(
    `train: ${cfg.framework} ${cfg.model}, ${cfg.epochs} epochs of ${data.train.count} images ` +
      `(${numBatches} batches of ${cfg.batchSize}), ${cfg.threads} threads, a sample every ${o.sampleS} s, in ${out}`,
  );
  let epochsDone = 0;
  let lastStep: number | null = null;
  const sampler = new Sampler(o.sampleS * 1000, await tfCounter(cfg.framework === 'keras'), () => ({
    epoch: epochsDone,
  }));
  sampler.start();
  try {
    await train(cfg, data, (s) => log(`  ${s}`), {
      // a hook that never stops the run: it tells the sampler the epoch, and samples at every epoch's end
      // (Keras's steps may not yield to the timer)
      stopAfterStep: (epoch, batch) => {
        epochsDone = epoch - 1 + batch / numBatches;
        const end = batch === numBatches;
        sampler.take(end);
        // the last step's own sample is in the window
        if (end && epoch === cfg.epochs) lastStep ??= sampler.samples[sampler.samples.length - 1].t;
        return false;
      },
    });
  } finally {
    sampler.stop();
  }
  const samples = sampler.samples;
  const w = warmWindow(samples, { epochs: cfg.epochs, until: lastStep });
  return analyse('train', samples, w, o.bounds, sampler.seconds());
}

// ---- serving ---------------------------------------------------------------------------------------------------

/** 64 different real test images as /v1/predict JSON bodies. */
function bodies(): Buffer[] {
  const src = locateData();
  if (!src) throw new Error('Fashion-MNIST not found: the soak sends real test images (see `fmnist data`)');
  const { images } = readIdxImages(src.files.testImages);
  return Array.from({ length: 64 }, (_, i) =>
    Buffer.from(JSON.stringify({ pixels: Array.from(images.subarray(i * 784, (i + 1) * 784)) })),
  );
}

interface ClientStats {
  ok: number;
  non2xx: number;
  errors: number;
  latency: LatencyHistogram;
}

/**
 * `concurrency` loops, each sending one request after the other over a keep-alive agent until `seconds` pass. It
 * keeps counters and a fixed histogram only, so that the client's own memory stays flat in the shared RSS.
 */
async function drive(url: string, payloads: Buffer[], concurrency: number, seconds: number, stats: ClientStats) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const { hostname, port } = new URL(url);
  const end = performance.now() + seconds * 1000;
  const one = (body: Buffer) =>
    new Promise<void>((resolve) => {
      const t = performance.now();
      const req = http.request(
        {
          agent,
          hostname,
          port,
          method: 'POST',
          path: '/v1/predict',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) stats.ok++;
            else stats.non2xx++;
            stats.latency.add(performance.now() - t);
            resolve();
          });
          res.on('error', () => {
            stats.errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        stats.errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async (w: number) => {
    for (let i = w; performance.now() < end; i += concurrency) await one(payloads[i % payloads.length]);
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  } finally {
    agent.destroy();
  }
}

async function servePhase(o: Options, dir: string) {
  const { buildServer } = await import('../src/serve/server.js');
  const { predictorLoader } = await import('../src/serve/models.js');
  const framework = readRun(dir).info.framework;
  const payloads = bodies();
  torch.setNumThreads(o.threads);
  const app = await buildServer({ models: [dir], loader: predictorLoader('framework', { threads: o.threads }) });
  const stats: ClientStats = { ok: 0, non2xx: 0, errors: 0, latency: new LatencyHistogram() };
  const uses = framework === 'keras' || framework === 'ensemble';
  const sampler = new Sampler(o.sampleS * 1000, await tfCounter(uses), () => ({ requests: stats.ok + stats.non2xx }));
  try {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    // one checked answer first: a soak of 4xx replies would measure nothing
    const first = await fetch(`${url}/v1/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Uint8Array(payloads[0]),
    });
    const answer = (await first.json()) as { predictions?: { top?: unknown[] }[]; message?: string };
    if (first.status !== 200 || !answer.predictions?.[0]?.top?.length)
      throw new Error(`${dir}: the server's first answer was ${first.status}: ${answer.message ?? 'no predictions'}`);
    log(
      `serve: ${dir} (${framework}) at ${url}, ${o.minutes * 60} s at concurrency ${o.concurrency}, single-image ` +
        `JSON, ${o.threads} threads, a sample every ${o.sampleS} s`,
    );
    sampler.start();
    try {
      await drive(url, payloads, o.concurrency, o.minutes * 60, stats);
    } finally {
      sampler.stop();
    }
  } finally {
    await app.close();
  }
  const seconds = sampler.seconds();
  const samples = sampler.samples;
  const report = analyse('serve', samples, warmWindow(samples), o.bounds, seconds);
  const requests = stats.ok + stats.non2xx;
  return {
    ...report,
    served: dir,
    framework,
    concurrency: o.concurrency,
    requests: {
      total: requests,
      ok: stats.ok,
      non2xx: stats.non2xx,
      errors: stats.errors,
      perSecond: requests / seconds,
      latencyMs: { p50: stats.latency.quantile(0.5), p99: stats.latency.quantile(0.99) },
    },
  };
}

// ---- the report ------------------------------------------------------------------------------------------------

const signed = (x: number | null | undefined, digits: number) =>
  x == null ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

function printTable(head: string[], rows: string[][]) {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('   ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

function rows(p: PhaseReport): string[][] {
  const series: [string, SeriesStats | null, string, number][] = [
    ['RSS', p.rss, 'MB', 1],
    ['live torch tensors', p.torchTensors, '', 0],
    ['tf.memory().numTensors', p.tfTensors, '', 0],
  ];
  return series
    .filter((s): s is [string, SeriesStats, string, number] => s[1] !== null)
    .map(([name, s, unit, d]) => [
      p.phase,
      name,
      s.first.toFixed(d),
      s.windowStart == null ? '-' : s.windowStart.toFixed(d),
      s.last.toFixed(d),
      s.max.toFixed(d),
      `${signed(s.perMinute, 2)}${unit ? ` ${unit}` : ''}/min`,
      p.phase === 'train' ? `${signed(s.perEpoch, 2)}${unit ? ` ${unit}` : ''}/epoch` : '',
      s.verdict,
    ]);
}

/** RSS and tensors against minutes, one panel per series and phase, with the fitted line over the window. */
function plotSpec(phases: PhaseReport[]): TopLevelSpec {
  const values: { phase: string; series: string; minutes: number; value: number; kind: string }[] = [];
  const name = { train: 'training', serve: 'serving' } as const;
  for (const p of phases) {
    const series: [string, SeriesStats | null, (s: Sample) => number | null][] = [
      ['RSS (MB)', p.rss, (s) => s.rssMB],
      ['live torch tensors', p.torchTensors, (s) => s.torchTensors],
      ['tf.memory().numTensors', p.tfTensors, (s) => s.tfTensors],
    ];
    for (const [label, stats, get] of series) {
      if (!stats) continue;
      for (const s of p.samples)
        values.push({ phase: name[p.phase], series: label, minutes: s.t / 60, value: get(s)!, kind: 'sample' });
      const { fromSeconds: a, toSeconds: b } = p.window;
      if (stats.fit && a != null && b != null)
        for (const t of [a / 60, b / 60])
          values.push({
            phase: name[p.phase],
            series: label,
            minutes: t,
            value: stats.fit.intercept + stats.fit.slope * t,
            kind: `least squares after warm-up`,
          });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Soak: memory over time',
      subtitle: 'dashed: the least-squares line over the samples after warm-up',
    },
    data: { values },
    facet: {
      row: { field: 'series', type: 'nominal', title: null, sort: ['RSS (MB)'] },
      column: { field: 'phase', type: 'nominal', title: null, sort: ['training', 'serving'] },
    },
    spec: {
      width: 340,
      height: 170,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'sample'" }],
          mark: { type: 'line', point: { size: 14 }, strokeWidth: 1.5, color: '#1f77b4' },
          encoding: {
            x: { field: 'minutes', type: 'quantitative', title: 'minutes' },
            y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false }, axis: { format: ',.0f' } },
          },
        },
        {
          transform: [{ filter: "datum.kind !== 'sample'" }],
          mark: { type: 'line', strokeDash: [6, 3], strokeWidth: 2, color: '#e4572e' },
          encoding: {
            x: { field: 'minutes', type: 'quantitative' },
            y: { field: 'value', type: 'quantitative' },
          },
        },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

async function writePlot(phases: PhaseReport[], jsonPath: string): Promise<string[]> {
  try {
    const { renderChart } = await import('../src/report/render.js');
    const fig = await renderChart(plotSpec(phases));
    const base = jsonPath.replace(/\.json$/, '');
    writeFileAtomic(`${base}.svg`, fig.svg);
    writeFileAtomic(`${base}.png`, fig.png);
    return [`${base}.svg`, `${base}.png`];
  } catch (e) {
    // the numbers matter more than the picture
    log(`plot: not written (${(e as Error).message})`);
    return [];
  }
}

async function main(): Promise<number> {
  let o: Options | null;
  try {
    o = options(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError) && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw e;
    log(`soak: ${(e as Error).message}\n(see --help)`);
    return 2;
  }
  if (!o) {
    console.log(USAGE);
    return 0;
  }
  // a --model-dir that is no run folder fails now, not after an hour of training
  if (o.modelDir && o.phases.includes('serve')) readRun(o.modelDir);
  const phases: PhaseReport[] = [];
  const temp = o.phases.includes('train') && !o.trainOut ? mkdtempSync(join(tmpdir(), 'fmnist-soak-')) : null;
  let serve: Awaited<ReturnType<typeof servePhase>> | null = null;
  try {
    const runDir = o.trainOut ?? temp;
    if (o.phases.includes('train')) phases.push(await trainPhase(o, runDir!));
    if (o.phases.includes('serve')) {
      serve = await servePhase(o, o.modelDir ?? runDir!);
      phases.push(serve);
    }
  } finally {
    if (temp) rmSync(temp, { recursive: true, force: true });
  }

  console.log(
    `\nfmnist soak: ${o.framework} ${o.model}${o.quick ? ' (--quick: too short for the verdicts to mean much)' : ''}`,
  );
  printTable(
    ['phase', 'series', 'first', 'after warm-up', 'last', 'max', 'slope', 'per epoch', 'verdict'],
    phases.flatMap(rows),
  );
  console.log(
    `bounds: RSS flat when |slope| < ${o.bounds.rssMBPerMinute} MB/min; a tensor count flat when |slope| <= ` +
      `${o.bounds.tensorsPerMinute}/min (least squares against minutes; per epoch is shown, not judged); ` +
      `'falling' is a slope below minus the bound (memory handed back, not a leak)`,
  );
  for (const p of phases)
    console.log(
      `window, ${p.phase}: ${p.window.samples} of ${p.samples.length} samples, ${p.window.rule}` +
        (p.window.fromSeconds == null
          ? ''
          : ` (${p.window.fromSeconds.toFixed(0)}-${p.window.toSeconds!.toFixed(0)} s)`),
    );
  if (serve) {
    const r = serve.requests;
    console.log(
      `serving: ${r.total} requests (${r.perSecond.toFixed(0)}/s), ${r.non2xx} non-2xx, ${r.errors} errors, ` +
        `latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms`,
    );
  }

  const report = {
    date: new Date().toISOString(),
    node: process.version,
    options: o,
    phases,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeJsonAtomic(o.out, report);
  const pictures = await writePlot(phases, o.out);
  console.log(`wrote ${o.out}${pictures.length ? `, ${pictures.map((p) => basename(p)).join(', ')}` : ''}`);

  const growing = phases.some((p) => [p.rss, p.torchTensors, p.tfTensors].some((s) => s?.verdict === 'GROWING'));
  const failed = serve !== null && (serve.requests.errors > 0 || serve.requests.non2xx > 0);
  return failed || (growing && !o.quick) ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  // one line, as the CLI does (a missing data set, a bad --model-dir); --verbose for the stack
  log(`soak: ${process.argv.includes('--verbose') ? (e as Error).stack : (e as Error).message}`);
  process.exitCode = 1;
}
