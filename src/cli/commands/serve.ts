import { Command } from 'commander';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`expected a whole number, got '${v}'`);
  return n;
};
const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected a number, got '${v}'`);
  return n;
};
const collect = (v: string, list: string[] = []) => [...list, v];

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve trained runs over HTTP: a REST API (/v1/predict, /v1/models, /metrics) and a web page at /')
    .requiredOption('--model <dir>', 'run or ensemble folder to serve (repeat for several)', collect)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', int, 8080)
    .option('--timeout-ms <n>', 'time limit for each request', int, 10_000)
    .option('--max-body-mb <x>', 'largest /v1/predict body in MiB (batch: 8×)', num, 8)
    .option('--max-pixels <n>', 'largest declared image size in pixels, checked before decoding', int, 16_000_000)
    .option('--batch-wait-ms <x>', 'how long a request waits for others to share its predict() call', num, 1)
    .option(
      '--threads <n>',
      'libtorch threads for inference; batching gives the throughput, and one thread leaves a core to HTTP',
      int,
      1,
    )
    .option(
      '--engine <name>',
      "what computes the predictions: 'framework' (each run's own: libtorch or tfjs) or 'onnx' (onnxruntime-node " +
        'on DIR/model.onnx, exported first when absent; see `fmnist export --help`)',
      'framework',
    )
    .option('--data-dir <dir>', 'Fashion-MNIST folder for the random test images')
    .option('--log', 'log every request (JSON lines on stdout)')
    .action(async (o) => {
      const { predictorLoader } = await import('../../serve/models.js');
      const loader = predictorLoader(o.engine, { threads: o.threads || 1 });
      if (o.threads) {
        const torch = await import('../../torch/index.js');
        torch.setNumThreads(o.threads);
      }
      const { buildServer } = await import('../../serve/server.js');
      const maxBodyBytes = Math.round(o.maxBodyMb * 2 ** 20);
      const app = await buildServer({
        models: o.model,
        loader,
        timeoutMs: o.timeoutMs,
        maxBodyBytes,
        maxBatchBodyBytes: maxBodyBytes * 8,
        maxPixels: o.maxPixels,
        batchWaitMs: o.batchWaitMs,
        dataDir: o.dataDir,
        // the page's in-browser ONNX engine: DIR/model.onnx, exported on the first request when absent or stale
        onnxFile: async (dir: string) => (await import('../../runs/onnx-export.js')).ensureOnnx(dir),
        logger: o.log ? true : false,
      });
      let closing = false;
      const shutdown = (signal: string) => {
        if (closing) {
          process.stderr.write(`fmnist serve: ${signal} again, exiting now\n`);
          process.exit(1);
        }
        closing = true;
        process.stderr.write(`fmnist serve: ${signal}: finishing open requests, then exiting\n`);
        app.close().then(
          () => {
            process.stderr.write('fmnist serve: stopped\n');
            process.exitCode = 0;
          },
          (e: Error) => {
            process.stderr.write(`fmnist serve: error while stopping: ${e.message}\n`);
            process.exitCode = 1;
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
      const address = await app.listen({ host: o.host, port: o.port });
      const ids = (await app.inject({ method: 'GET', url: '/healthz' })).json().models as string[];
      process.stdout.write(`fmnist serve: listening on ${address} (models: ${ids.join(', ')}; engine ${o.engine})\n`);
    });
}
