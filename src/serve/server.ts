// `fmnist serve`: a Fastify server that classifies images with one or more trained runs.
//
//   POST /v1/predict         one image: raw PNG/JPEG body, multipart `image` field, or JSON {"pixels": [784]}
//   POST /v1/predict/batch   up to 256 images: multipart `image` fields or JSON {"images": [{"pixels"}|{"image"}]}
//   GET  /v1/models          the loaded models; /v1/models/<id>/<file> serves tfjs files and report images,
//                            /v1/models/<id>/model.onnx the run's ONNX model (from the onnxFile option)
//   GET  /v1/samples/random  a random Fashion-MNIST test image (and /v1/samples/<index>)
//   GET  /healthz, /metrics  liveness and Prometheus metrics
//   GET  /                   the web page (web/), with /vendor/tf.min.js from @tensorflow/tfjs and
//                            /vendor/ort/<file> from onnxruntime-web (ORT_FILES only)
//
// Every request is checked with zod schemas; bad ones get a 4xx with {"error", "message"}.
// Predictions go through one micro-batcher per model, off the request parser's path.
import type { IncomingMessage } from 'node:http';
import { basename } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { readFile } from 'node:fs/promises';
import { CLASS_NAMES } from '../data/index.js';
import { MAX_PIXELS, toModelInput, type Preprocessed } from '../imaging/preprocess.js';
import { topK } from '../runs/predictor.js';
import { ensembleLabel, modelDescription, runLabel } from '../runs/labels.js';
import { HttpError, toErrorReply } from './errors.js';
import { Gauge, ServerMetrics } from './metrics.js';
import {
  disposeModels,
  existingOnnxFile,
  loadModels,
  type OnnxFileProvider,
  type PredictorLoader,
  type ServedModel,
} from './models.js';
import {
  BatchBody,
  MAX_BATCH,
  ModelFileParams,
  ModelParams,
  NoQuery,
  PredictBody,
  PredictQuery,
  StaticParams,
  zodValidatorCompiler,
  type ZodTypeProvider,
} from './schemas.js';
import { ImageDecoder, readBatch, readSingle, type InputLimits } from './inputs.js';
import { TestSamples } from './samples.js';
import { defaultWebDir, loadStaticFiles, OrtFiles, type StaticFile } from './static.js';
import { z } from 'zod';

export interface ServeOptions {
  /** Run folders to serve (from `fmnist train`). */
  models: string[];
  /** Largest request body for /v1/predict, in bytes (default 8 MiB). */
  maxBodyBytes?: number;
  /** Largest request body for /v1/predict/batch, in bytes (default 64 MiB). */
  maxBatchBodyBytes?: number;
  /** Largest declared image size in pixels, checked before decoding (default 16,000,000). */
  maxPixels?: number;
  /** Most images in one batch request (default and upper bound 256). */
  maxBatch?: number;
  /**
   * Most bytes of a too-large body read (and dropped) before its 413, so that the client reads the answer rather
   * than a reset connection (default 64 MiB); past that the connection is closed on it.
   */
  maxDrainBytes?: number;
  /** Time limit for each request, from its first byte to the answer, in ms (default 10,000). */
  timeoutMs?: number;
  /** How long the first request of a micro-batch waits for others that are on their way, in ms (default 1). */
  batchWaitMs?: number;
  /** Most images waiting for a model before requests are refused with 503 (default 4096). */
  maxQueue?: number;
  /** Declared sizes above this many pixels are decoded in a worker thread (default 262,144; 0 = never). */
  workerAbovePixels?: number;
  /** Where the Fashion-MNIST test set is, for random samples (default: the usual search). */
  dataDir?: string;
  /** The web page's folder (default: web/ in the package). */
  webDir?: string;
  /** Loads a run folder (default loadPredictor); tests use it to stand in for frameworks. */
  loader?: PredictorLoader;
  /**
   * Gives a run folder's ONNX model for /v1/models/<id>/model.onnx, exporting it first if it can (default: the
   * folder's model.onnx if it has one). Called at most once at a time per model; a failure is tried again later.
   */
  onnxFile?: OnnxFileProvider;
  /** Fastify's logger option (default off). */
  logger?: boolean | Record<string, unknown>;
}

interface RequestState {
  timer: NodeJS.Timeout | null;
  abort: AbortController | null;
  /** True while this request counts as "on its way" to the batchers. */
  expected: boolean;
  bodyDone: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    serve: RequestState | null;
  }
}

const PREDICT_ROUTES = new Set(['/v1/predict', '/v1/predict/batch']);

export async function buildServer(opts: ServeOptions): Promise<FastifyInstance> {
  const maxBodyBytes = opts.maxBodyBytes ?? 8 * 2 ** 20;
  const maxBatchBodyBytes = opts.maxBatchBodyBytes ?? 64 * 2 ** 20;
  const maxPixels = opts.maxPixels ?? MAX_PIXELS;
  const maxBatch = Math.min(opts.maxBatch ?? MAX_BATCH, MAX_BATCH);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxDrainBytes = opts.maxDrainBytes ?? 64 * 2 ** 20;
  const limits: InputLimits = { maxPixels, maxImageBytes: maxBodyBytes, maxBodyBytes };

  let expecting = 0;
  const metrics = new ServerMetrics([
    new Gauge('fmnist_requests_in_flight_expected', 'Predict requests being parsed, not yet queued.', () => expecting),
  ]);
  const models = await loadModels(opts.models, {
    loader: opts.loader,
    batcher: (id) => ({
      maxWaitMs: opts.batchWaitMs ?? 1,
      maxBatch: 256,
      maxQueue: opts.maxQueue ?? 4096,
      expecting: () => expecting,
      onBatch: (rows, seconds) => metrics.observeBatch(id, rows, seconds),
    }),
  });
  const byId = new Map(models.map((m) => [m.id, m]));
  const decoder = new ImageDecoder(maxPixels, opts.workerAbovePixels ?? 512 * 512);
  const samples = new TestSamples(opts.dataDir);
  const onnxFile = opts.onnxFile ?? existingOnnxFile;
  const onnxPaths = new Map<string, Promise<string>>();
  const ortFiles = new OrtFiles();
  let staticFiles = new Map<string, StaticFile>();
  try {
    staticFiles = loadStaticFiles(opts.webDir ?? defaultWebDir());
  } catch (e) {
    // Without its web/ folder the API still works; a folder that was asked for must exist.
    if (opts.webDir) {
      disposeModels(models);
      throw e;
    }
  }

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: maxBodyBytes,
    // Node's own limits, behind the per-request timer below (which answers in JSON).
    requestTimeout: timeoutMs + 5_000,
    connectionTimeout: 0,
    keepAliveTimeout: 10_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply).code(400).send({ error: 'bad_request', message: err.message });
    },
  }).withTypeProvider<ZodTypeProvider>();
  // Slow headers (slowloris) get the same limit as slow bodies.
  app.server.headersTimeout = timeoutMs;
  app.decorateRequest('serve', null);
  app.setValidatorCompiler(zodValidatorCompiler);

  // Only the body types the API takes: anything else (text/plain included) is a 415.
  app.removeContentTypeParser('text/plain');
  // Raw image bodies. application/octet-stream too: the bytes say what they are.
  app.addContentTypeParser(
    ['image/png', 'image/jpeg', 'image/jpg', 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, body),
  );
  await app.register(multipart, {
    limits: { fileSize: maxBodyBytes, files: maxBatch, fields: 4, parts: maxBatch + 4 },
    throwFileSizeLimit: true,
  });

  const stopExpecting = (req: FastifyRequest) => {
    const s = req.serve;
    if (s?.expected) {
      s.expected = false;
      expecting--;
      for (const m of models) m.batcher.poke();
    }
  };
  const finish = (req: FastifyRequest) => {
    const s = req.serve;
    if (!s) return;
    if (s.timer) clearTimeout(s.timer);
    s.timer = null;
    stopExpecting(req);
  };

  app.addHook('onRequest', (req, reply, done) => {
    const predict = req.method === 'POST' && PREDICT_ROUTES.has(req.routeOptions.url ?? '');
    const s: RequestState = { timer: null, abort: null, expected: predict, bodyDone: false };
    req.serve = s;
    if (predict) {
      expecting++;
      s.abort = new AbortController();
    }
    s.timer = setTimeout(() => {
      s.timer = null;
      if (reply.sent) return;
      const err = s.bodyDone
        ? new HttpError(503, 'timeout', `the request took longer than ${timeoutMs} ms; try again`)
        : new HttpError(408, 'timeout', `the request body did not arrive within ${timeoutMs} ms`);
      s.abort?.abort(err);
      stopExpecting(req);
      if (!s.bodyDone) reply.header('connection', 'close');
      reply.code(err.statusCode).send({ error: err.error, message: err.message });
    }, timeoutMs);
    done();
  });
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.serve) req.serve.bodyDone = true;
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    finish(req);
    metrics.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    req.serve?.abort?.abort(new Error('client went away'));
    finish(req);
    done();
  });
  app.addHook('onClose', async () => {
    await decoder.close();
    disposeModels(models);
  });

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body } = toErrorReply(err, req.headers['content-type']);
    if (status >= 500) req.log.error({ err }, 'request failed');
    // After 408/413 the rest of the body may still be on its way: do not keep the connection.
    if (status === 408 || status === 413) reply.header('connection', 'close');
    // Closing on a client that is still sending resets the connection, and it sees a broken pipe instead of the
    // 413: read the rest first (a slow client is cut off by the request timer, a huge one by the bound).
    if (status === 413) await drainBody(req.raw, maxDrainBytes);
    if (reply.sent) return reply;
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: 'not_found', message: `no route for ${req.method} ${req.url.split('?')[0]}` });
  });

  const predictWith = async (req: FastifyRequest, inputs: Preprocessed[], top: number) => {
    stopExpecting(req);
    const x = toModelInput(inputs);
    const signal = req.serve?.abort?.signal;
    const outputs = await Promise.all(models.map((m) => m.batcher.submit(x, inputs.length, signal)));
    return inputs.map((p, i) => ({
      predictions: models.map((m, k) => {
        const probs = outputs[k];
        return {
          model: m.id,
          framework: m.info.framework,
          arch: m.info.model,
          top: topK(probs, i, top),
          probabilities: Array.from(probs.subarray(i * 10, i * 10 + 10), (v) => Math.round(v * 1e7) / 1e7),
        };
      }),
      preprocessed: Array.from(p.pixels),
      preprocessing: {
        format: p.format,
        width: p.width,
        height: p.height,
        inverted: p.inverted,
        resized: p.resized,
        steps: p.steps,
      },
    }));
  };

  app.post(
    '/v1/predict',
    { schema: { body: PredictBody, querystring: PredictQuery }, bodyLimit: maxBodyBytes },
    async (req, reply) => {
      const input = await readSingle(req, req.body, limits, decoder);
      const [result] = await predictWith(req, [input], req.query.top);
      if (reply.sent) return reply;
      return { ...result, ms: round3(reply.elapsedTime) };
    },
  );

  app.post(
    '/v1/predict/batch',
    { schema: { body: BatchBody, querystring: PredictQuery }, bodyLimit: maxBatchBodyBytes },
    async (req, reply) => {
      const body = req.body;
      if (body && !Buffer.isBuffer(body) && body.images.length > maxBatch)
        throw new HttpError(
          422,
          'invalid_input',
          `images: at most ${maxBatch} images per batch, got ${body.images.length}`,
        );
      const inputs = await readBatch(req, body, { ...limits, maxBodyBytes: maxBatchBodyBytes }, maxBatch, decoder);
      const results = await predictWith(req, inputs, req.query.top);
      if (reply.sent) return reply;
      return { results, count: results.length, ms: round3(reply.elapsedTime) };
    },
  );

  app.get('/v1/models', { schema: { querystring: NoQuery } }, async () => ({
    classes: CLASS_NAMES,
    models: models.map(describeModel),
  }));

  app.get('/v1/models/:id/:file', { schema: { params: ModelFileParams, querystring: NoQuery } }, async (req, reply) => {
    const { id, file } = req.params;
    const m = byId.get(id);
    if (!m) throw new HttpError(404, 'not_found', `no model '${id}' (see /v1/models)`);
    const f = m.files.get(file);
    if (!f) throw new HttpError(404, 'not_found', `model '${id}' has no file '${file}'`);
    let body: Buffer;
    try {
      body = await readFile(f.path);
    } catch {
      throw new HttpError(404, 'not_found', `model '${id}': '${file}' is no longer on disk`);
    }
    return reply.type(f.type).header('cache-control', 'no-cache').send(body);
  });

  /** The model's ONNX file, asked of onnxFile once (a second request waits for the same export). */
  const onnxPath = (m: ServedModel): Promise<string> => {
    let p = onnxPaths.get(m.id);
    if (!p) {
      p = onnxFile(m.dir);
      onnxPaths.set(m.id, p);
      p.catch(() => onnxPaths.delete(m.id));
    }
    return p;
  };

  // Wins over /v1/models/:id/:file for this name: a static segment beats a parameter.
  app.get(
    '/v1/models/:id/model.onnx',
    { schema: { params: ModelParams, querystring: NoQuery } },
    async (req, reply) => {
      const { id } = req.params;
      const m = byId.get(id);
      if (!m) throw new HttpError(404, 'not_found', `no model '${id}' (see /v1/models)`);
      if ('unavailable' in m.onnx)
        throw new HttpError(404, 'not_found', `model '${id}' has no ONNX file: ${m.onnx.unavailable}`);
      let path: string;
      try {
        path = await onnxPath(m);
      } catch (e) {
        throw new HttpError(404, 'not_found', `model '${id}' has no ONNX file: ${(e as Error).message}`);
      }
      let body: Buffer;
      try {
        body = await readFile(path);
      } catch {
        onnxPaths.delete(m.id);
        throw new HttpError(404, 'not_found', `model '${id}': its ONNX file is no longer on disk`);
      }
      return reply.type('application/octet-stream').header('cache-control', 'no-cache').send(body);
    },
  );

  const SampleParams = z.strictObject({
    index: z.union([z.literal('random'), z.coerce.number().int().min(0).max(1_000_000)], {
      error: 'expected "random" or a test-image index (0–9999)',
    }),
  });
  app.get('/v1/samples/:index', { schema: { params: SampleParams, querystring: NoQuery } }, async (req) => {
    const { index } = req.params;
    return samples.get(index === 'random' ? undefined : index);
  });

  app.get('/healthz', { schema: { querystring: NoQuery } }, async () => ({
    status: 'ok',
    models: models.map((m) => m.id),
    uptimeSeconds: Math.round(process.uptime()),
  }));

  app.get('/metrics', { schema: { querystring: NoQuery } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render()),
  );

  const sendStatic = (name: string, req: FastifyRequest, reply: FastifyReply, f = staticFiles.get(name)) => {
    if (!f) throw new HttpError(404, 'not_found', `no file '${name}'`);
    reply
      .header('etag', f.etag)
      .header('cache-control', name.startsWith('vendor/') ? 'public, max-age=86400' : 'no-cache')
      .header('x-content-type-options', 'nosniff');
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    return reply.type(f.type).send(f.body);
  };
  app.get('/', (req, reply) => sendStatic('index.html', req, reply));
  app.get('/:file', { schema: { params: StaticParams } }, (req, reply) => sendStatic(req.params.file, req, reply));
  app.get('/vendor/:file', { schema: { params: StaticParams } }, (req, reply) =>
    sendStatic(`vendor/${req.params.file}`, req, reply),
  );
  // The page sets ort.env.wasm.wasmPaths here, so onnxruntime-web fetches nothing from elsewhere.
  app.get('/vendor/ort/:file', { schema: { params: StaticParams } }, async (req, reply) => {
    const name = `vendor/ort/${req.params.file}`;
    if (!ortFiles.available)
      throw new HttpError(404, 'not_found', `no file '${name}' (onnxruntime-web is not installed)`);
    return sendStatic(name, req, reply, (await ortFiles.get(req.params.file)) ?? undefined);
  });

  return app;
}

const round3 = (ms: number) => Math.round(ms * 1000) / 1000;

/** Reads and drops what is left of a request body, up to `limit` more bytes; resolves at its end or the limit. */
function drainBody(req: IncomingMessage, limit: number): Promise<void> {
  if (req.complete || req.readableEnded || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', done);
      req.off('error', done);
      req.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) done();
    };
    req.on('data', onData);
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
    req.resume();
  });
}

/** An ensemble's card: what it averages, and each member as a run's card names it (its folder by name only). */
function describeEnsemble(info: ServedModel['info']) {
  const members = (info.members ?? []).map((x) => ({
    name: basename(x.dir),
    framework: x.framework,
    arch: x.model,
    label: runLabel(x.framework, x.model),
    params: x.params,
  }));
  const description =
    `Mean of the class probabilities of ${members.length} models: ${members.map((x) => x.label).join(', ')}` +
    (info.tta ? '; each also averaged over the test-time views its training calls for (flips, 1-px shifts)' : '');
  return { label: ensembleLabel(info), description, members, tta: info.tta ?? false };
}

function describeModel(m: ServedModel) {
  const base = `/v1/models/${encodeURIComponent(m.id)}/`;
  const ensemble = m.info.framework === 'ensemble' ? describeEnsemble(m.info) : null;
  return {
    id: m.id,
    framework: m.info.framework,
    arch: m.info.model,
    label: ensemble?.label ?? runLabel(m.info.framework, m.info.model),
    description: ensemble?.description ?? modelDescription(m.info.model),
    members: ensemble?.members ?? null,
    tta: ensemble?.tta ?? false,
    params: m.info.params,
    testAccuracy: m.metrics?.testAccuracy ?? null,
    testLoss: m.metrics?.testLoss ?? null,
    epochs: m.metrics?.epochs ?? null,
    createdAt: m.info.createdAt ?? null,
    confusionMatrix: m.metrics?.confusionMatrix ?? null,
    confusionImage: m.confusionImage ? base + m.confusionImage : null,
    browser: 'modelJson' in m.browser ? { modelJson: base + m.browser.modelJson } : null,
    browserUnavailable: 'unavailable' in m.browser ? m.browser.unavailable : null,
    onnx: 'model' in m.onnx ? { model: base + m.onnx.model } : null,
    onnxUnavailable: 'unavailable' in m.onnx ? m.onnx.unavailable : null,
  };
}
