// End to end in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// upload an image, check the class shown, run the Keras model in the browser and compare it with
// the server's answer. Saves test-artifacts/serve-e2e.png (and a phone-width one) to look at.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { buildServer } from '../../src/serve/server.js';
import { CLASS_NAMES } from '../../src/data/index.js';
import {
  fashionTest,
  png,
  tempDir,
  testImage,
  trainTinyKeras,
  trainTinyPytorch,
  upscale,
  writeConfusionPng,
} from './helpers.js';

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
const problems: string[] = [];

before(async () => {
  if (skip) return;
  tmp = tempDir('fmnist-e2e-');
  const torchDir = await trainTinyPytorch(join(tmp.dir, 'pytorch-cnn'));
  const kerasDir = await trainTinyKeras(join(tmp.dir, 'keras-dense'));
  writeConfusionPng(torchDir);
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
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await app?.close();
  tmp?.cleanup();
});

/** A test image both models get right, as a 112×112 dark-on-light PNG (like a photo on white). */
async function pickImage(): Promise<{ index: number; label: number; file: string; server: any }> {
  const { labels } = fashionTest();
  for (let i = 0; i < 200; i++) {
    const big = upscale(testImage(i), 4, true);
    const data = png(big.gray, big.w, big.h);
    const r = await app.inject({
      method: 'POST',
      url: '/v1/predict',
      headers: { 'content-type': 'image/png' },
      payload: data,
    });
    const b = r.json();
    if (b.predictions.every((p: any) => p.top[0].label === labels[i] && p.top[0].probability > 0.5)) {
      const file = join(tmp.dir, `test-${i}.png`);
      writeFileSync(file, data);
      return { index: i, label: labels[i], file, server: b };
    }
  }
  throw new Error('no test image among the first 200 that both models get right');
}

test(
  'upload an image: the page shows the input, every model and the right class',
  { skip, timeout: 180_000 },
  async () => {
    await page.goto(base + '/');
    await page.waitForSelector('body[data-ready="true"]');
    assert.match((await page.textContent('#summary')) ?? '', /2 models loaded: pytorch-cnn, keras-dense/);
    assert.equal(await page.locator('.card').count(), 2);
    // The PyTorch run has a report picture; the Keras one gets a table from metrics.json.
    const pic = page.locator('.card[data-model="pytorch-cnn"] img');
    assert.equal(await pic.getAttribute('alt'), 'Confusion matrix of pytorch-cnn');
    await pic.evaluate((img: HTMLImageElement) => img.decode());
    assert.equal(await pic.evaluate((img: HTMLImageElement) => img.naturalWidth), 240);

    const img = await pickImage();
    await page.setInputFiles('#file', img.file);
    await page.waitForSelector('#result[data-state="done"][data-seq="1"]');
    const shown = await page.$$eval('.chart[data-source="server"]', (els) =>
      els.map((e) => ({
        model: e.getAttribute('data-model'),
        top: e.getAttribute('data-top-class'),
        answer: e.querySelector('.answer')?.textContent,
      })),
    );
    assert.deepEqual(
      shown.map((s) => [s.model, s.top]),
      [
        ['pytorch-cnn', CLASS_NAMES[img.label]],
        ['keras-dense', CLASS_NAMES[img.label]],
      ],
    );
    assert.ok(shown[0].answer?.startsWith(CLASS_NAMES[img.label]));
    // The 28×28 input drawn on the page is the server's preprocessed image.
    const drawn = await page.$eval('#preview', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data;
      return Array.from({ length: 784 }, (_, i) => d[i * 4]);
    });
    assert.deepEqual(drawn, img.server.preprocessed);
    assert.deepEqual(drawn, Array.from(testImage(img.index)));
    assert.match((await page.textContent('#steps')) ?? '', /inverted/);
  },
);

test(
  'the Keras model runs in the browser with stock tfjs and matches the server',
  { skip, timeout: 120_000 },
  async () => {
    await page.check('#browser-toggle');
    await page.waitForSelector('#result[data-browser="done"]', { timeout: 60_000 });
    const b = await page.$eval('.chart[data-source="browser"]', (e) => ({
      model: e.getAttribute('data-model'),
      top: e.getAttribute('data-top-class'),
      probs: JSON.parse(e.getAttribute('data-probabilities') ?? '[]') as number[],
      match: e.querySelector('.compare')?.getAttribute('data-match'),
      text: e.querySelector('.compare')?.textContent,
    }));
    assert.equal(b.model, 'keras-dense (browser)');
    assert.equal(b.match, 'true', b.text ?? '');
    const server = await page.$eval('.chart[data-source="server"][data-model="keras-dense"]', (e) => ({
      top: e.getAttribute('data-top-class'),
      probs: JSON.parse(e.getAttribute('data-probabilities') ?? '[]') as number[],
    }));
    assert.equal(b.top, server.top);
    const maxDiff = Math.max(...b.probs.map((p, k) => Math.abs(p - server.probs[k])));
    assert.ok(maxDiff < 1e-4, `browser and server differ by up to ${maxDiff}`);
    assert.match((await page.textContent('#browser-status')) ?? '', /TensorFlow\.js 4\.\d+\.\d+ \(cpu backend\)/);
    // Open a confusion matrix so the screenshot shows one.
    await page.click('.card[data-model="keras-dense"] summary');
    assert.equal(await page.locator('.card[data-model="keras-dense"] table.cm tbody tr').count(), 10);
    await page.screenshot({ path: join(ARTIFACTS, 'serve-e2e.png'), fullPage: true });
  },
);

test('random test image, drawing, keyboard use and phone width', { skip, timeout: 120_000 }, async () => {
  // Random test image: shows its true class; the in-browser comparison runs again.
  await page.click('#random');
  await page.waitForSelector('#result[data-state="done"][data-seq="2"]');
  await page.waitForSelector('#result[data-browser="done"]');
  assert.match((await page.textContent('#truth')) ?? '', /^True class: .+ \(test image \d+\)$/);

  // Draw a stroke on the canvas: it is classified when the pointer lifts.
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const pad = await page.locator('#pad').boundingBox();
  assert.ok(pad);
  await page.mouse.move(pad.x + pad.width * 0.3, pad.y + pad.height * 0.2);
  await page.mouse.down();
  await page.mouse.move(pad.x + pad.width * 0.35, pad.y + pad.height * 0.8, { steps: 8 });
  await page.mouse.move(pad.x + pad.width * 0.65, pad.y + pad.height * 0.8, { steps: 8 });
  await page.mouse.move(pad.x + pad.width * 0.7, pad.y + pad.height * 0.2, { steps: 8 });
  await page.mouse.up();
  await page.waitForSelector('#result[data-state="done"][data-seq="3"]');
  assert.equal(await page.locator('.chart[data-source="server"]').count(), 2);

  // Every control has an accessible name; the buttons work from the keyboard.
  const unnamed = await page.$$eval('input, button, canvas', (els) =>
    els
      .filter((e) => {
        const id = e.id;
        const label = id ? document.querySelector(`label[for="${id}"]`) : null;
        return !(label || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.textContent?.trim());
      })
      .map((e) => e.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unnamed, []);
  await page.focus('#random');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#result[data-state="done"][data-seq="4"]');

  // Drag and drop a file onto the drop zone.
  const dropped = png(upscale(testImage(1), 3, true).gray, 84, 84).toString('base64');
  const dt = await page.evaluateHandle((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const d = new DataTransfer();
    d.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
    return d;
  }, dropped);
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  await page.waitForSelector('#result[data-state="done"][data-seq="5"]');
  assert.match((await page.textContent('#steps')) ?? '', /decoded PNG 84×84/);

  // A file that is not an image: the server's message is shown in an alert.
  await page.setInputFiles('#file', {
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('not a picture'),
  });
  await page.waitForSelector('#result[data-state="error"]');
  const alert = page.getByRole('alert');
  assert.match((await alert.textContent()) ?? '', /Could not classify the image: not a PNG or JPEG image/);
  await page.click('#random');
  await page.waitForSelector('#result[data-state="done"][data-seq="6"]');
  assert.equal(await alert.isVisible(), false);

  // Phone width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone screen`);
  await page.screenshot({ path: join(ARTIFACTS, 'serve-e2e-phone.png'), fullPage: true });
  // The one refused upload above is expected to log its 415.
  assert.deepEqual(
    problems.filter((p) => !/status of 415/.test(p)),
    [],
  );
});
