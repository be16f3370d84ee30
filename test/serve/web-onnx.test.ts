// The page's third engine in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// a PyTorch run's model.onnx runs in the browser with onnxruntime-web and gives the server engine's
// probabilities; a Keras run without one says so; every request stays on this server.
// Saves test-artifacts/web-onnx.png (docs/images/web-onnx.png is a copy of it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildServer } from '../../src/serve/server.js';
import { CLASS_NAMES } from '../../src/data/index.js';
import { fashionTest, png, tempDir, testImage, trainTinyKeras, trainTinyPytorch, upscale } from './helpers.js';
import { exportOnnxFixture } from './onnx-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? false
  : `Debian's chromium is not installed at ${CHROMIUM} (apt-get install -y chromium); the browser cannot be downloaded here`;
const ARTIFACTS = 'test-artifacts';

let tmp: ReturnType<typeof tempDir>;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
const requests: string[] = [];
const problems: string[] = [];

before(async () => {
  if (skip) return;
  tmp = tempDir('fmnist-web-onnx-');
  const torchDir = await trainTinyPytorch(join(tmp.dir, 'pytorch-cnn'));
  const kerasDir = await trainTinyKeras(join(tmp.dir, 'keras-dense'));
  await exportOnnxFixture(torchDir);
  app = await buildServer({ models: [torchDir, kerasDir] });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // On the context, so requests from workers count too.
  context.on('request', (r) => requests.push(r.url()));
  page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await app?.close();
  tmp?.cleanup();
});

/** The first test image the tiny PyTorch model gets right, as a dark-on-light 112×112 PNG. */
async function pickImage(): Promise<{ label: number; file: string }> {
  const { labels } = fashionTest();
  for (let i = 0; i < 200; i++) {
    const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: { pixels: Array.from(testImage(i)) } });
    if (r.json().predictions[0].top[0].label !== labels[i]) continue;
    const big = upscale(testImage(i), 4, true);
    const file = join(tmp.dir, `test-${i}.png`);
    writeFileSync(file, png(big.gray, big.w, big.h));
    return { label: labels[i], file };
  }
  throw new Error('no test image among the first 200 that the PyTorch model gets right');
}

const readChart = (selector: string) =>
  page.$eval(selector, (e) => ({
    top: e.getAttribute('data-top-class'),
    probs: JSON.parse(e.getAttribute('data-probabilities') ?? '[]') as number[],
    match: e.querySelector('.compare')?.getAttribute('data-match'),
    text: e.querySelector('.compare')?.textContent ?? '',
  }));

async function assertOnnxMatchesServer() {
  const onnx = await readChart('.chart[data-source="onnx"][data-model="pytorch-cnn (onnx)"]');
  const server = await readChart('.chart[data-source="server"][data-model="pytorch-cnn"]');
  assert.equal(onnx.probs.length, 10);
  assert.equal(onnx.top, server.top);
  const maxDiff = Math.max(...onnx.probs.map((p, k) => Math.abs(p - server.probs[k])));
  assert.ok(maxDiff < 1e-4, `ONNX in the browser and the server differ by up to ${maxDiff}`);
  assert.ok(Math.abs(onnx.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'the probabilities sum to 1');
  assert.equal(onnx.match, 'true', onnx.text);
}

test(
  'ONNX (in browser): the PyTorch run’s model.onnx gives the server’s probabilities',
  { skip, timeout: 180_000 },
  async () => {
    await page.goto(base + '/');
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.isEnabled('#onnx-toggle'), true);
    assert.equal(
      await page.textContent('label[for="onnx-toggle"]').then((t) => t?.startsWith('ONNX (in browser)')),
      true,
    );
    const img = await pickImage();
    await page.setInputFiles('#file', img.file);
    await page.waitForSelector('#result[data-state="done"][data-seq="1"]');
    await page.check('#onnx-toggle');
    await page.waitForSelector('#result[data-onnx="done"]', { timeout: 90_000 });
    await assertOnnxMatchesServer();
    const onnx = await readChart('.chart[data-source="onnx"][data-model="pytorch-cnn (onnx)"]');
    assert.equal(onnx.top, CLASS_NAMES[img.label]);
    // The Keras run has no model.onnx: its card says so, in the server's words.
    const missing = page.locator('.chart[data-source="onnx"][data-model="keras-dense (onnx)"]');
    assert.equal(await missing.getAttribute('data-unavailable'), 'true');
    assert.equal(
      await missing.locator('.compare').textContent(),
      "No ONNX model: model 'keras-dense' has no ONNX file: the run folder has no model.onnx",
    );
    assert.equal(
      await page.textContent('#onnx-status'),
      'ONNX Runtime Web 1.30.0 (wasm, 1 thread): pytorch-cnn loaded in this browser; no ONNX file for keras-dense.',
    );
    // One thread, because the page is not cross-origin isolated (no SharedArrayBuffer).
    assert.equal(await page.evaluate(() => window.crossOriginIsolated), false);
    // The top of the page, down to the ONNX status line under the toggle.
    const bottom = await page.$eval('#onnx-status', (e) => e.getBoundingClientRect().bottom + window.scrollY);
    const height = Math.ceil(Math.max(900, bottom + 16));
    await page.screenshot({
      path: join(ARTIFACTS, 'web-onnx.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height },
    });
  },
);

test(
  'the next image runs the loaded session again; unticking removes the ONNX charts',
  { skip, timeout: 120_000 },
  async () => {
    await page.click('#random');
    await page.waitForSelector('#result[data-state="done"][data-seq="2"]');
    await page.waitForSelector('#result[data-onnx="done"]');
    await assertOnnxMatchesServer();
    await page.uncheck('#onnx-toggle');
    assert.equal(await page.locator('.chart.onnx').count(), 0);
    assert.equal(await page.locator('.chart[data-source="server"]').count(), 2);
    await page.check('#onnx-toggle');
    await page.waitForSelector('#result[data-onnx="done"]');
    assert.equal(await page.locator('.chart.onnx').count(), 2);
    await assertOnnxMatchesServer();
  },
);

test('every request went to this server, and ort and the model were fetched once', { skip }, () => {
  const origin = new URL(base).origin;
  const outside = requests.filter((u) => !u.startsWith(origin + '/') && !/^(data|blob):/.test(u));
  assert.deepEqual(outside, []);
  const paths = requests.filter((u) => u.startsWith(origin)).map((u) => new URL(u).pathname);
  const count = (p: string) => paths.filter((x) => x === p).length;
  assert.deepEqual(paths.filter((p) => p.startsWith('/vendor/ort/')).sort(), [
    '/vendor/ort/ort-wasm-simd-threaded.wasm',
    '/vendor/ort/ort.wasm.bundle.min.mjs',
  ]);
  assert.equal(count('/v1/models/pytorch-cnn/model.onnx'), 1);
  assert.equal(count('/v1/models/keras-dense/model.onnx'), 1);
  // The Keras run's 404 is the one expected error.
  assert.deepEqual(
    problems.filter((p) => !p.includes('status of 404') || !p.includes('/v1/models/keras-dense/model.onnx')),
    [],
  );
});
