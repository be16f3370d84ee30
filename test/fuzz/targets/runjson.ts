// Target: run.json (src/runs/files.ts readRun) and everything that reads it: the report's run loader, the
// predictor (loadPredictor: either engine, ensembles), and the server's model list and predict route. The run
// folder holds a real tiny PyTorch and Keras model (test/fixtures/old-runs), so a run.json that passes can load.
// Native code (libtorch): this target runs in a child process.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRun } from '../../../src/runs/files.js';
import { makeConfig } from '../../../src/runs/config.js';
import { loadRun as reportRun } from '../../../src/report/runs.js';
import { buildServer } from '../../../src/serve/server.js';
import * as torch from '../../../src/torch/index.js';
import { invariant, unclear, type FuzzTarget } from '../harness.js';
import { jsonBytes, mutateJsonBytes, randomJson, type Json } from '../mutate.js';

const OLD = fileURLToPath(new URL('../../fixtures/old-runs/', import.meta.url));
const KEYS = [
  'framework',
  'model',
  'params',
  'config',
  'recipe',
  'engine',
  'definition',
  'modelFile',
  'data',
  'createdAt',
  'host',
  'members',
  'tta',
  'provenance',
  'dir',
  'kind',
  'source',
  'sha256',
  'name',
  'values',
  'overrides',
];
const STRINGS = [
  'pytorch',
  'keras',
  'ensemble',
  'dense',
  'cnn',
  'resnet',
  'model.pt',
  'model.json',
  'run.json',
  'import',
  'convert',
];

let tmp = '';
let run = '';
const seeds: Uint8Array[] = [];

export const target: FuzzTarget = {
  name: 'runjson',
  setup() {
    torch.setNumThreads(1);
    tmp = mkdtempSync(join(tmpdir(), 'fmnist-fuzz-runjson-'));
    // one folder with both runs' files (model.pt; model.json + weights.bin), so either framework can load
    run = join(tmp, 'run');
    cpSync(join(OLD, 'keras-dense'), run, { recursive: true });
    cpSync(join(OLD, 'pytorch-dense'), run, { recursive: true });
    for (const m of ['member-a', 'member-b']) cpSync(join(OLD, 'pytorch-dense'), join(tmp, m), { recursive: true });
    const torchInfo = JSON.parse(readFileSync(join(OLD, 'pytorch-dense', 'run.json'), 'utf8')) as Record<string, Json>;
    const kerasInfo = JSON.parse(readFileSync(join(OLD, 'keras-dense', 'run.json'), 'utf8')) as Record<string, Json>;
    const config = makeConfig({
      framework: 'pytorch',
      model: 'dense',
      epochs: 1,
      threads: 1,
      out: run,
    }) as unknown as Json;
    const modern = {
      ...torchInfo,
      config,
      recipe: { name: 'seed', values: {}, overrides: {} },
      provenance: {
        kind: 'import',
        source: '/x/model.pt',
        sha256: '0'.repeat(64),
        createdAt: '2026-01-01T00:00:00.000Z',
      },
    };
    const ensemble = {
      framework: 'ensemble',
      model: 'ensemble',
      params: 218772,
      config,
      engine: {},
      definition: 'mean of 2 runs',
      modelFile: 'run.json',
      data: torchInfo.data,
      createdAt: '2026-01-01T00:00:00.000Z',
      host: { cpus: 2, node: 'v20' },
      members: ['member-a', 'member-b'].map((m) => ({
        dir: join(tmp, m),
        framework: 'pytorch',
        model: 'dense',
        params: 109386,
      })),
      tta: false,
    };
    seeds.push(jsonBytes(torchInfo, 2), jsonBytes(kerasInfo, 2), jsonBytes(modern, 2), jsonBytes(ensemble, 2));
  },
  close() {
    rmSync(tmp, { recursive: true, force: true });
  },
  seeds: () => seeds,
  generateRate: 0.05,
  generate: (rng) => jsonBytes(randomJson(rng, 3, STRINGS)),
  mutate: (input, rng, other) => mutateJsonBytes(input, rng, other, KEYS, STRINGS),
  async run(input) {
    writeFileSync(join(run, 'run.json'), input);
    readRun(run);
    const r = reportRun(run);
    if (!r.ok) invariant(!unclear(new Error(r.reason)), `the report skips the run with an unclear reason: ${r.reason}`);
    const app = await buildServer({ models: [run], timeoutMs: 5000 });
    try {
      for (const url of ['/v1/models', '/healthz']) {
        const res = await app.inject({ method: 'GET', url });
        invariant(res.statusCode === 200, `GET ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
      }
      const res = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: new Array(784).fill(7) } });
      invariant(res.statusCode === 200, `POST /v1/predict: ${res.statusCode} ${res.body.slice(0, 300)}`);
    } finally {
      await app.close();
    }
  },
  expected: (e) => e instanceof Error && !unclear(e),
  timeoutMs: 5000,
};
