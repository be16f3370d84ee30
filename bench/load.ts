// Load test for `fmnist serve`: starts the server in its own process, warms it up, then runs
// autocannon against loopback (default 30 s at 32 connections) and reports p50/p99 latency,
// throughput, errors and the server's RSS over the run. Then it measures single-image latency
// (one request at a time) from the `ms` the server reports.
//
//   npx tsx bench/load.ts [--duration 30] [--connections 32] [--model runs/pytorch-cnn]
//                         [--body json|png] [--threads 1] [--batch-wait-ms 1] [--json]
//                         [--engine framework|onnx|both]
//
// --engine is `fmnist serve --engine`: the run's own framework (default) or onnxruntime-node on its model.onnx.
// 'both' runs the whole test once per engine, one server after the other, and prints ONNX's throughput and
// latencies as ratios to the framework's, measured in the same run.
//
// Without --model it uses runs/pytorch-cnn if training finished there, or trains a tiny CNN
// (same architecture, so the same speed) in a temporary folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
// autocannon has no type declarations.
import autocannonModule from 'autocannon';
import { locateData, readIdxImages } from '../src/data/index.js';

const autocannon = autocannonModule as unknown as (
  opts: Record<string, unknown>,
) => Promise<any> & { stop?: () => void };

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    connections: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '3' },
    model: { type: 'string' },
    body: { type: 'string', default: 'json' },
    threads: { type: 'string', default: '1' },
    'batch-wait-ms': { type: 'string', default: '1' },
    single: { type: 'string', default: '500' },
    json: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'framework' },
  },
});
const ENGINES = ['framework', 'onnx'] as const;
type Engine = (typeof ENGINES)[number];
const engines: Engine[] = args.engine === 'both' ? [...ENGINES] : ENGINES.filter((e) => e === args.engine);
if (engines.length === 0) throw new Error(`--engine must be 'framework', 'onnx' or 'both', got '${args.engine}'`);
const duration = Number(args.duration);
const connections = Number(args.connections);
if (!(duration > 0) || !(connections > 0)) throw new Error('--duration and --connections must be positive numbers');
if (args.body !== 'json' && args.body !== 'png') throw new Error("--body must be 'json' or 'png'");

const log = (s: string) => process.stderr.write(`${s}\n`);

async function modelDir(): Promise<{ dir: string; cleanup: () => void }> {
  if (args.model) return { dir: args.model, cleanup: () => {} };
  if (existsSync('runs/pytorch-cnn/model.pt')) return { dir: 'runs/pytorch-cnn', cleanup: () => {} };
  const tmp = mkdtempSync(join(tmpdir(), 'fmnist-load-'));
  log(`no trained runs/pytorch-cnn: training a tiny CNN (same architecture) in ${tmp}`);
  const { makeConfig } = await import('../src/runs/config.js');
  const { runTraining } = await import('../src/cli/commands/train.js');
  await runTraining(
    makeConfig({ framework: 'pytorch', model: 'cnn', epochs: 1, limit: 2000, testLimit: 500, out: tmp }),
    () => {},
  );
  return { dir: tmp, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

/** 64 different real test images as request bodies. */
function bodies(): { body: Buffer; type: string }[] {
  const src = locateData();
  if (!src) throw new Error('Fashion-MNIST not found: the load test sends real test images');
  const { images } = readIdxImages(src.files.testImages);
  return Array.from({ length: 64 }, (_, i) => {
    const px = images.subarray(i * 784, (i + 1) * 784);
    if (args.body === 'json')
      return { body: Buffer.from(JSON.stringify({ pixels: Array.from(px) })), type: 'application/json' };
    const p = new PNG({ width: 28, height: 28 });
    for (let k = 0; k < 784; k++) {
      p.data[k * 4] = p.data[k * 4 + 1] = p.data[k * 4 + 2] = px[k];
      p.data[k * 4 + 3] = 255;
    }
    return { body: PNG.sync.write(p), type: 'image/png' };
  });
}

function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

async function loadTest(model: { dir: string }, engine: Engine) {
  const server = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "import('./src/cli/index.ts').then((m) => m.main(process.argv))",
      'fmnist',
      'serve',
      '--model',
      model.dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--threads',
      args.threads!,
      '--batch-wait-ms',
      args['batch-wait-ms']!,
      '--engine',
      engine,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stopServer = async () => {
    if (server.exitCode !== null) return server.exitCode;
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    return exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
    });
    const reqs = bodies().map((b) => ({
      method: 'POST',
      path: '/v1/predict',
      headers: { 'content-type': b.type },
      body: b.body,
    }));
    log(
      `server ${url} (pid ${server.pid}), model ${model.dir}, engine ${engine}, ${args.body} bodies, ` +
        `threads ${args.threads}`,
    );

    const warmup = Number(args.warmup);
    if (warmup > 0) {
      log(`warm-up: ${warmup} s at ${connections} connections`);
      await autocannon({ url, connections, duration: warmup, requests: reqs });
    }

    const rss: { t: number; mb: number }[] = [];
    const t0 = Date.now();
    rss.push({ t: 0, mb: rssMB(server.pid!) });
    const sampler = setInterval(() => rss.push({ t: (Date.now() - t0) / 1000, mb: rssMB(server.pid!) }), 1000);
    log(`load: ${duration} s at ${connections} connections`);
    const r = await autocannon({ url, connections, duration, requests: reqs });
    clearInterval(sampler);
    rss.push({ t: (Date.now() - t0) / 1000, mb: rssMB(server.pid!) });

    // Single-image latency, one request at a time: the server's own `ms`, and the round trip.
    const n = Number(args.single);
    const serverMs: number[] = [];
    const roundTrip: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = reqs[i % reqs.length];
      const s = performance.now();
      const res = await fetch(url + '/v1/predict', { method: 'POST', headers: b.headers, body: b.body });
      const j = (await res.json()) as { ms: number };
      roundTrip.push(performance.now() - s);
      serverMs.push(j.ms);
    }
    const metrics = await (await fetch(url + '/metrics')).text();
    const batch = (k: string) =>
      Number(new RegExp(`^fmnist_inference_batch_size_${k}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);

    const first = rss[0].mb;
    const after = rss.filter((x) => x.t >= Math.min(5, duration / 3));
    const report = {
      engine,
      duration: r.duration,
      connections,
      body: args.body,
      requests: r.requests.total,
      requestsPerSecond: Math.round(r.requests.average),
      latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      meanBatchSize: Math.round((batch('sum') / batch('count')) * 10) / 10,
      rssMB: {
        start: Math.round(first),
        min: Math.round(Math.min(...rss.map((x) => x.mb))),
        max: Math.round(Math.max(...rss.map((x) => x.mb))),
        end: Math.round(rss[rss.length - 1].mb),
        growthAfterFirst5s: Math.round(after[after.length - 1].mb - after[0].mb),
        every5s: rss.filter((x, i) => i % 5 === 0).map((x) => Math.round(x.mb)),
      },
      single: {
        n,
        serverMsP50: quantile(serverMs, 0.5),
        serverMsP99: quantile(serverMs, 0.99),
        roundTripMsP50: Math.round(quantile(roundTrip, 0.5) * 1000) / 1000,
      },
    };
    return { ...report, shutdown: await stopServer() };
  } finally {
    await stopServer();
  }
}

type Report = Awaited<ReturnType<typeof loadTest>>;

function print(report: Report) {
  const n = report.single.n;
  console.log(
    `fmnist serve load test, engine ${report.engine}: ${report.duration} s, ${connections} connections, ` +
      `${args.body} bodies, loopback`,
  );
  console.log(
    `  throughput  ${report.requestsPerSecond} req/s (${report.requests} requests, mean batch ${report.meanBatchSize} images)`,
  );
  console.log(
    `  latency     p50 ${report.latencyMs.p50} ms, p90 ${report.latencyMs.p90} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms`,
  );
  console.log(`  errors      ${report.errors} errors, ${report.timeouts} timeouts, ${report.non2xx} non-2xx`);
  console.log(
    `  server RSS  ${report.rssMB.start} MB at start, ${report.rssMB.min}–${report.rssMB.max} MB during, ${report.rssMB.end} MB at end (${report.rssMB.growthAfterFirst5s >= 0 ? '+' : ''}${report.rssMB.growthAfterFirst5s} MB after the first 5 s)`,
  );
  console.log(`              every 5 s: ${report.rssMB.every5s.join(', ')} MB`);
  console.log(
    `  single      server-side p50 ${report.single.serverMsP50} ms, p99 ${report.single.serverMsP99} ms; round trip p50 ${report.single.roundTripMsP50} ms (${n} requests one at a time)`,
  );
  console.log(`  shutdown    SIGTERM → exit code ${report.shutdown}`);
}

async function main() {
  const model = await modelDir();
  try {
    const reports: Report[] = [];
    for (const engine of engines) {
      const report = await loadTest(model, engine);
      reports.push(report);
      if (report.errors || report.non2xx || report.timeouts) process.exitCode = 1;
    }
    const [a, b] = reports;
    const ratios =
      b === undefined
        ? null
        : {
            requestsPerSecond: b.requestsPerSecond / a.requestsPerSecond,
            latencyP50: b.latencyMs.p50 / a.latencyMs.p50,
            latencyP99: b.latencyMs.p99 / a.latencyMs.p99,
            singleServerMsP50: b.single.serverMsP50 / a.single.serverMsP50,
          };
    if (args.json) console.log(JSON.stringify(ratios ? { reports, onnxOverFramework: ratios } : reports[0]));
    else {
      reports.forEach(print);
      if (ratios)
        console.log(
          `onnx / framework (same run): throughput ${ratios.requestsPerSecond.toFixed(2)}x, latency p50 ` +
            `${ratios.latencyP50.toFixed(2)}x, p99 ${ratios.latencyP99.toFixed(2)}x, single-image server time p50 ` +
            `${ratios.singleServerMsP50.toFixed(2)}x (below 1 is faster for latencies, above 1 for throughput)`,
        );
    }
  } finally {
    model.cleanup();
  }
}

await main();
