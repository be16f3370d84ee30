// bench/soak.ts's arithmetic: the least-squares slope, the warm-up window, the flat / GROWING / falling verdicts
// against their bounds, and the latency histogram. Series are made from seeded noise around known lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mulberry32 } from '../../src/data/index.js';
import {
  LatencyHistogram,
  leastSquares,
  seriesStats,
  warmWindow,
  type Bounds,
  type Sample,
} from '../../bench/soak-stats.js';

const BOUNDS: Bounds = { rssMBPerMinute: 1, tensorsPerMinute: 0 };

/** A sample every 5 s for `minutes`, RSS on the line base + mbPerMinute * t (+ noise), tensors constant + leak. */
function series(minutes: number, mbPerMinute: number, noiseMB: number, tensorsPerMinute = 0, seed = 7): Sample[] {
  const rand = mulberry32(seed);
  return Array.from({ length: Math.round((minutes * 60) / 5) + 1 }, (_, i) => {
    const t = i * 5;
    return {
      t,
      rssMB: 400 + (mbPerMinute * t) / 60 + (rand() - 0.5) * 2 * noiseMB,
      torchTensors: 102 + Math.floor((tensorsPerMinute * t) / 60),
      tfTensors: null,
    };
  });
}

describe('leastSquares', () => {
  test('recovers a line exactly, and a noisy one closely', () => {
    const xs = [0, 1, 2, 3, 4];
    const fit = leastSquares(
      xs,
      xs.map((x) => 3 - 2 * x),
    )!;
    assert.ok(Math.abs(fit.slope + 2) < 1e-12 && Math.abs(fit.intercept - 3) < 1e-12, JSON.stringify(fit));
    const s = series(10, 4, 3);
    const noisy = leastSquares(
      s.map((x) => x.t / 60),
      s.map((x) => x.rssMB),
    )!;
    assert.ok(Math.abs(noisy.slope - 4) < 0.3, `slope ${noisy.slope}`);
  });

  test('a constant series has a slope of exactly 0; too few points or no spread in x give null', () => {
    assert.equal(leastSquares([0, 1, 2, 3], [18, 18, 18, 18])!.slope, 0);
    assert.equal(leastSquares([0, 1], [1, 2]), null);
    assert.equal(leastSquares([2, 2, 2], [1, 2, 3]), null);
    assert.throws(() => leastSquares([1, 2, 3], [1, 2]), /3 x values but 2 y values/);
  });
});

describe('warmWindow', () => {
  test('serving: drops the first 10% of the time', () => {
    const s = series(10, 0, 0);
    const w = warmWindow(s);
    assert.equal(w.samples[0].t, 60);
    assert.equal(w.samples.length, s.filter((x) => x.t >= 60).length);
    assert.match(w.rule, /10%/);
  });

  test('training: drops the first epoch and what comes after the last step', () => {
    const s = series(10, 0, 0).map((x, i, all) => ({ ...x, epoch: Math.min(4, (4 * i) / (all.length - 9)) }));
    const until = s.find((x) => x.epoch === 4)!.t;
    const w = warmWindow(s, { epochs: 4, until });
    assert.ok(w.samples.every((x) => x.epoch! >= 1 && x.t <= until));
    assert.equal(
      w.samples[0],
      s.find((x) => x.epoch! >= 1),
    );
    assert.equal(w.samples[w.samples.length - 1].t, until);
    // one epoch: no epoch to drop, so the 10% rule
    assert.match(warmWindow(s, { epochs: 1 }).rule, /10%/);
  });
});

describe('seriesStats', () => {
  const stats = (s: Sample[], kind: 'rss' | 'tensors') =>
    seriesStats(s, warmWindow(s).samples, (x) => (kind === 'rss' ? x.rssMB : x.torchTensors), kind, BOUNDS);

  test('noise around a flat line is flat; a climb of 3 MB/min is GROWING; a fall is falling', () => {
    assert.equal(stats(series(10, 0, 5), 'rss').verdict, 'flat');
    const up = stats(series(10, 3, 5), 'rss');
    assert.equal(up.verdict, 'GROWING');
    assert.ok(Math.abs(up.perMinute! - 3) < 0.5, `slope ${up.perMinute}`);
    assert.equal(stats(series(10, -3, 5), 'rss').verdict, 'falling');
    assert.equal(up.bound, '|slope| < 1 MB/min');
  });

  test('tensors: a constant count is flat, one leaked tensor in 10 minutes is GROWING', () => {
    const flat = stats(series(10, 0, 0, 0), 'tensors');
    assert.equal(flat.verdict, 'flat');
    assert.deepEqual([flat.first, flat.last, flat.max, flat.perMinute], [102, 102, 102, 0]);
    const leak = stats(series(10, 0, 0, 0.1), 'tensors');
    assert.equal(leak.verdict, 'GROWING');
    assert.equal(leak.last, 103);
  });

  test('first, last and max come from every sample, the slope from the window only', () => {
    // a warm-up climb of 200 MB in the first minute, flat afterwards
    const s = series(10, 0, 0).map((x) => ({ ...x, rssMB: x.t < 60 ? 200 + (200 * x.t) / 60 : 400 }));
    const r = stats(s, 'rss');
    assert.deepEqual([r.first, r.windowStart, r.last, r.max, r.verdict], [200, 400, 400, 400, 'flat']);
  });

  test('per epoch is fitted against the epoch, when asked', () => {
    const s = series(10, 0, 0).map((x) => ({ ...x, epoch: x.t / 30, rssMB: 300 + x.t / 15 }));
    const r = seriesStats(s, s, (x) => x.rssMB, 'rss', BOUNDS, true);
    assert.ok(Math.abs(r.perEpoch! - 2) < 1e-9 && Math.abs(r.perMinute! - 4) < 1e-9, JSON.stringify(r));
    assert.equal(seriesStats(s.slice(0, 2), s.slice(0, 2), (x) => x.rssMB, 'rss', BOUNDS).verdict, 'too few samples');
  });
});

describe('LatencyHistogram', () => {
  test('quantiles to 0.1 ms, with the slowest clamped to 10 s', () => {
    const h = new LatencyHistogram();
    assert.equal(h.quantile(0.5), null);
    const rand = mulberry32(11);
    const xs = Array.from({ length: 1000 }, () => Math.round(rand() * 1000) / 10);
    xs.forEach((x) => h.add(x));
    const sorted = [...xs].sort((a, b) => a - b);
    assert.equal(h.quantile(0.5), sorted[499]);
    assert.equal(h.quantile(0.99), sorted[989]);
    h.add(60_000);
    assert.equal(h.quantile(1), 10_000);
  });
});
