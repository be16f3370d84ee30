// The micro-batcher and the metrics registry, without a model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroBatcher, type PredictFn } from '../../src/serve/batcher.js';
import { HttpError } from '../../src/serve/errors.js';
import { ServerMetrics } from '../../src/serve/metrics.js';

/** A fake model on 2 inputs → 2 outputs: doubles them. Records each call's size. */
function fake(opts: { async?: boolean; delayMs?: number } = {}) {
  const calls: number[] = [];
  const predict: PredictFn = (x, n) => {
    calls.push(n);
    const y = x.map((v) => v * 2);
    if (!opts.async) return y;
    return new Promise((res) => setTimeout(() => res(y), opts.delayMs ?? 5));
  };
  return { calls, predict };
}
const io = { inWidth: 2, outWidth: 2 };
const rows = (...v: number[]) => Float32Array.from(v);

test('a lone request runs at once, without waiting for the window', async () => {
  const f = fake();
  const b = new MicroBatcher(f.predict, { ...io, maxWaitMs: 1000 });
  const t0 = performance.now();
  assert.deepEqual(Array.from(await b.submit(rows(1, 2), 1)), [2, 4]);
  assert.ok(performance.now() - t0 < 100);
  assert.deepEqual(f.calls, [1]);
});

test('requests in the same tick share one call, each getting its own rows', async () => {
  const f = fake();
  const b = new MicroBatcher(f.predict, io);
  const out = await Promise.all([b.submit(rows(1, 1), 1), b.submit(rows(2, 2, 3, 3), 2), b.submit(rows(4, 4), 1)]);
  assert.deepEqual(f.calls, [4]);
  assert.deepEqual(
    out.map((y) => Array.from(y)),
    [
      [2, 2],
      [4, 4, 6, 6],
      [8, 8],
    ],
  );
  assert.equal(b.batches, 1);
  assert.equal(b.rows, 4);
});

test('while requests are on their way, the batch waits for them (up to maxWaitMs)', async () => {
  const f = fake();
  let expecting = 1;
  const b = new MicroBatcher(f.predict, { ...io, maxWaitMs: 50, expecting: () => expecting });
  const first = b.submit(rows(1, 1), 1);
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(f.calls, [], 'still waiting for the expected request');
  expecting = 0;
  const second = b.submit(rows(2, 2), 1);
  await Promise.all([first, second]);
  assert.deepEqual(f.calls, [2]);
  // If the expected request never comes, the window ends the wait.
  expecting = 3;
  const t0 = performance.now();
  await b.submit(rows(1, 1), 1);
  const waited = performance.now() - t0;
  assert.ok(waited >= 45 && waited < 1000, `waited ${waited} ms`);
  assert.deepEqual(f.calls, [2, 1]);
});

test('batches are at most maxBatch rows; the rest run next', async () => {
  const f = fake();
  const b = new MicroBatcher(f.predict, { ...io, maxBatch: 3 });
  await Promise.all([1, 2, 3, 4, 5].map((v) => b.submit(rows(v, v), 1)));
  assert.deepEqual(f.calls, [3, 2]);
});

test('with an async model, requests that arrive during a batch form the next one', async () => {
  const f = fake({ async: true, delayMs: 20 });
  const b = new MicroBatcher(f.predict, io);
  const a = b.submit(rows(1, 1), 1);
  await new Promise((r) => setTimeout(r, 5));
  const later = [2, 3, 4].map((v) => b.submit(rows(v, v), 1));
  const out = await Promise.all([a, ...later]);
  assert.deepEqual(f.calls, [1, 3]);
  assert.deepEqual(
    out.map((y) => y[0]),
    [2, 4, 6, 8],
  );
});

test('a failing batch rejects its jobs only; the next batch works', async () => {
  let fail = true;
  const b = new MicroBatcher((x) => {
    if (fail) throw new Error('boom');
    return x;
  }, io);
  const r = await Promise.allSettled([b.submit(rows(1, 1), 1), b.submit(rows(2, 2), 1)]);
  assert.deepEqual(
    r.map((x) => x.status),
    ['rejected', 'rejected'],
  );
  fail = false;
  assert.deepEqual(Array.from(await b.submit(rows(3, 3), 1)), [3, 3]);
  const bad = new MicroBatcher(() => new Float32Array(3), io);
  await assert.rejects(bad.submit(rows(1, 1), 1), /returned 3 values for 1 images/);
  await assert.rejects(b.submit(rows(1), 1), /expected 2 values/);
});

test('a full queue refuses with 503; aborted jobs are dropped; close fails what waits', async () => {
  const f = fake({ async: true, delayMs: 30 });
  const b = new MicroBatcher(f.predict, { ...io, maxQueue: 2 });
  const running = b.submit(rows(1, 1), 1); // starts at once
  await new Promise((r) => setImmediate(r));
  const q1 = b.submit(rows(2, 2), 1);
  const ac = new AbortController();
  const q2 = assert.rejects(b.submit(rows(3, 3), 1, ac.signal), /client left/);
  const over = b.submit(rows(4, 4), 1);
  await assert.rejects(
    over,
    (e: unknown) => e instanceof HttpError && e.statusCode === 503 && e.error === 'overloaded',
  );
  ac.abort(new Error('client left'));
  await running;
  assert.deepEqual(Array.from(await q1), [4, 4]);
  await q2;
  assert.deepEqual(f.calls, [1, 1]);
  const waiting = b.submit(rows(5, 5), 1);
  const waiting2 = b.submit(rows(6, 6), 1);
  b.close();
  await Promise.allSettled([waiting, waiting2]);
  await assert.rejects(b.submit(rows(7, 7), 1), (e: unknown) => e instanceof HttpError && e.error === 'shutting_down');
});

test('metrics render in the Prometheus text format', () => {
  const m = new ServerMetrics();
  m.observeRequest('POST', '/v1/predict', 200, 0.0015);
  m.observeRequest('POST', '/v1/predict', 200, 0.02);
  m.observeRequest('POST', '/v1/predict', 422, 0.0004);
  m.observeBatch('a"b', 3, 0.001);
  const t = m.render();
  assert.match(t, /^fmnist_http_requests_total\{method="POST",route="\/v1\/predict",status="200"\} 2$/m);
  assert.match(t, /^fmnist_http_requests_total\{method="POST",route="\/v1\/predict",status="422"\} 1$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="0.0005"\} 1$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="0.002"\} 2$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_bucket\{route="\/v1\/predict",le="\+Inf"\} 3$/m);
  assert.match(t, /^fmnist_http_request_duration_seconds_count\{route="\/v1\/predict"\} 3$/m);
  assert.match(t, /^fmnist_inference_batch_size_bucket\{model="a\\"b",le="4"\} 1$/m);
  assert.match(t, /^fmnist_images_predicted_total\{model="a\\"b"\} 3$/m);
  assert.ok(t.endsWith('\n'));
});
